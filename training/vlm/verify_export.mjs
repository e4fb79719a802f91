// Checks an exported Loupe-Synth bundle with the runtimes the browser uses:
// onnxruntime-web (wasm, in Node) for every graph, transformers.js for the tokenizer.
//
//   node training/vlm/verify_export.mjs <bundle dir> <golden dir> [<fp32 dir>]
//
// <fp32 dir>/onnx holds fp32 graphs that did not fit into the bundle. Prints what it
// measured as JSON on stdout; exits 1 if a check fails.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-web';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { argmax, checkList, configureOrt, cosine, f32Reader, jsonReader, maxAbsDiff } from '../node_checks.mjs';

const [bundleDir, goldenDir, fp32Dir] = process.argv.slice(2);
if (!bundleDir || !goldenDir) {
  console.error('usage: node training/vlm/verify_export.mjs <bundle dir> <golden dir> [<fp32 dir>]');
  process.exit(2);
}
configureOrt(ort);

const golden = JSON.parse(readFileSync(path.join(goldenDir, 'golden.json'), 'utf8'));
const { check, failures } = checkList();
const readJson = jsonReader(bundleDir);
const readF32 = f32Reader(goldenDir);
const graphPath = (file) => {
  for (const dir of [bundleDir, fp32Dir].filter(Boolean)) {
    const p = path.join(dir, 'onnx', file);
    if (existsSync(p)) return p;
  }
  throw new Error(`graph ${file} not found in ${bundleDir}/onnx or ${fp32Dir}/onnx`);
};
const sessions = {};
const session = async (file) => (sessions[file] ??= await ort.InferenceSession.create(readFileSync(graphPath(file))));
const maxAbs = (a) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const f32 = (data, dims) => new ort.Tensor('float32', data, dims);
const i64 = (values, dims) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);
const suffix = { fp32: '', int8: '_int8', q4: '_q4' };
const config = readJson('config.json');
const dtypes = config['transformers.js_config'].dtype;
const { num_hidden_layers: layers, num_key_value_heads: kvHeads, head_dim: headDim, hidden_size: D } = config.text_config;
const eos = config.text_config.eos_token_id;

// ---- tokenizer ---------------------------------------------------------------------
const tokenizer = new PreTrainedTokenizer(readJson('tokenizer.json'), readJson('tokenizer_config.json'));
const messages = [{ role: 'user', content: `<image>\n${golden.question}` }];
check(tokenizer.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true }) === golden.prompt_text,
  'chat template renders the vicuna_v1 prompt');
const enc = tokenizer.apply_chat_template(messages, { tokenize: true, add_generation_prompt: true, return_tensor: false });
check(JSON.stringify(Array.isArray(enc) ? enc : enc.input_ids) === JSON.stringify(golden.prompt_ids), 'prompt ids equal Python');
for (const { text, ids } of golden.tokenizer_samples) check(JSON.stringify(tokenizer.encode(text)) === JSON.stringify(ids), `encode ${JSON.stringify(text)}`);
const greedyBody = golden.greedy_ids.filter((i) => i !== eos);
check((greedyBody.length ? tokenizer.decode(greedyBody) : '') === golden.greedy_text, 'greedy text decodes the same');

// ---- one pipeline: vision -> splice -> prefill -> greedy -------------------------------
const pixels = readF32(golden.pixel_values.file);
const ids = golden.input_ids_expanded;
const n = ids.length;
const emptyPast = () => {
  const past = {};
  for (let i = 0; i < layers; i++) for (const k of ['key', 'value']) past[`past_key_values.${i}.${k}`] = f32(new Float32Array(0), [1, kvHeads, 0, headDim]);
  return past;
};
const nextPast = (out) => {
  const past = {};
  for (let i = 0; i < layers; i++) for (const k of ['key', 'value']) past[`past_key_values.${i}.${k}`] = out[`present.${i}.${k}`];
  return past;
};
const lastRow = (logits) => { const [, s, v] = logits.dims; return logits.data.slice((s - 1) * v, s * v); };
// MC-LLaVA (golden.keep): a batch of crops with their coords, each keeping its last tokens.
// PIIP (golden.pixel_values_low): the low branch's input beside the high one.
const visionInputs = () => ({
  pixel_values: f32(pixels, golden.pixel_values.shape),
  ...(golden.coords ? { coords: f32(readF32(golden.coords.file), golden.coords.shape) } : {}),
  ...(golden.pixel_values_low ? { pixel_values_low: f32(readF32(golden.pixel_values_low.file), golden.pixel_values_low.shape) } : {}),
});
const spliced = (features) => {
  if (!golden.keep) return features.data;
  const per = features.dims[1];
  return Float32Array.from(golden.keep.flatMap((k, i) => Array.from(features.data.subarray((i * per + per - k) * D, (i + 1) * per * D))));
};
async function pipeline(visionFile, embedFile, decoderFile, steps) {
  const features = (await (await session(visionFile)).run(visionInputs())).image_features;
  const rows = spliced(features);
  const embed = async (t) => (await (await session(embedFile)).run({ input_ids: i64(t, [1, t.length]) })).inputs_embeds.data;
  const embeds = Float32Array.from(await embed(ids));
  let k = 0;
  ids.forEach((id, row) => { if (id === golden.image_token_id) { embeds.set(rows.subarray(k * D, (k + 1) * D), row * D); k++; } });
  check(k * D === rows.length, `${k} image tokens in the prompt for ${rows.length / D} feature rows`);
  const dec = await session(decoderFile);
  const step = (e, seq, total, positions, past) => dec.run({
    inputs_embeds: f32(e, [1, seq, D]), attention_mask: i64(new Array(total).fill(1), [1, total]),
    position_ids: i64(positions, [1, seq]), ...past,
  });
  let out = await step(embeds, n, n, Array.from({ length: n }, (_, i) => i), emptyPast());
  const first = lastRow(out.logits);
  let logits = first;
  const greedy = [];
  for (let s = 0; s < steps; s++) {
    const next = argmax(logits);
    greedy.push(next);
    if (next === eos) break;
    out = await step(await embed([next]), 1, n + s + 1, [n + s], nextPast(out));
    logits = lastRow(out.logits);
  }
  return { features: features.data, dims: features.dims, first, greedy };
}

const fp = await pipeline('vision_encoder.onnx', 'embed_tokens.onnx', 'decoder_model_merged.onnx', golden.greedy_ids.length);
const wantFeatures = readF32(golden.image_features.file);
const featRel = maxAbsDiff(fp.features, wantFeatures) / Math.max(1e-6, maxAbs(wantFeatures));
check(featRel < 1e-4, `vision fp32 vs torch, max abs diff / max abs ${featRel.toExponential(2)}`);
check(JSON.stringify(fp.dims) === JSON.stringify(golden.image_features.shape), `vision output dims [${fp.dims}]`);
const wantLogits = readF32(golden.first_logits.file);
const logitRel = maxAbsDiff(fp.first, wantLogits) / Math.max(1e-6, maxAbs(wantLogits));
check(logitRel < 1e-3, `decoder fp32 first logits vs torch, relative ${logitRel.toExponential(2)}`);
check(JSON.stringify(fp.greedy) === JSON.stringify(golden.greedy_ids), `fp32 greedy ids equal torch ${JSON.stringify(fp.greedy)}`);

const shipped = await pipeline(`vision_encoder${suffix[dtypes.vision_encoder]}.onnx`, `embed_tokens${suffix[dtypes.embed_tokens]}.onnx`,
  `decoder_model_merged${suffix[dtypes.decoder_model_merged]}.onnx`, golden.greedy_ids_shipped.length);
const wantShipped = readF32(golden.first_logits_shipped_reference.file);
const shippedRel = maxAbsDiff(shipped.first, wantShipped) / Math.max(1e-6, maxAbs(wantShipped));
check(shippedRel < 1e-3, `shipped dtypes first logits vs torch with dequantized weights, relative ${shippedRel.toExponential(2)}`);
check(JSON.stringify(shipped.greedy) === JSON.stringify(golden.greedy_ids_shipped), `shipped greedy ids equal torch ${JSON.stringify(shipped.greedy)}`);

const shippedVision = await session(`vision_encoder${suffix[dtypes.vision_encoder]}.onnx`);
if (golden.tokens_per_input) {
  // A fixed-size tower (a ViT): any batch at its one size, tokens_per_input each (MC-LLaVA: with coords).
  const [, c, s] = golden.pixel_values.shape;
  const data = Float32Array.from({ length: 3 * c * s * s }, (_, i) => Math.sin(i * 0.37));
  const coords = golden.coords ? { coords: f32(new Float32Array([0.5, 0.5, 0.1, 0.9, 0.8, 0.2]), [3, 2]) } : {};
  const out = (await shippedVision.run({ pixel_values: f32(data, [3, c, s, s]), ...coords })).image_features;
  check(JSON.stringify(out.dims) === JSON.stringify([3, golden.tokens_per_input, D]), `vision 3x${c}x${s}x${s} -> [${out.dims}]`);
} else {
  // Other input sizes: any multiple of 64 on each side (PIIP: with the half-size low input,
  // itself a multiple of 64).
  for (const [h, w] of golden.pixel_values_low ? [[128, 128], [128, 256]] : [[64, 64], [128, 192]]) {
    const wave = (n) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
    const low = golden.pixel_values_low ? { pixel_values_low: f32(wave(3 * (h / 2) * (w / 2)), [1, 3, h / 2, w / 2]) } : {};
    const out = (await shippedVision.run({ pixel_values: f32(wave(3 * h * w), [1, 3, h, w]), ...low })).image_features;
    check(JSON.stringify(out.dims) === JSON.stringify([1, (h / 64) * (w / 64), D]), `vision 1x3x${h}x${w} -> [${out.dims}]`);
  }
}

const measured = {
  onnxruntime_web_version: ort.env.versions?.web ?? null,
  vision_fp32_rel_diff: featRel,
  decoder_fp32_first_logits_rel_diff: logitRel,
  shipped_first_logits_rel_diff_vs_dequantized_torch: shippedRel,
  shipped_vs_fp32_vision_cosine: cosine(shipped.features, fp.features),
  shipped_vs_fp32_first_logits_cosine: cosine(shipped.first, fp.first),
  greedy_fp32: fp.greedy,
  greedy_shipped: shipped.greedy,
};
console.log(JSON.stringify(measured));
if (failures.length) {
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
