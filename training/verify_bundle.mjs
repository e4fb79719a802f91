// Checks the exported bundle with the runtimes the browser uses: onnxruntime-web
// (wasm backend, in Node) for every graph and transformers.js for the tokenizer.
//
//   node training/verify_bundle.mjs <bundle dir> <fixtures dir>
//
// Reads the golden values PyTorch wrote, prints the measurements as JSON on stdout
// (make_tiny_bundle.py records them in golden.json) and exits 1 if a check fails.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-web';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { argmax, checkList, configureOrt, cosine, f32Reader, jsonReader, maxAbsDiff } from './node_checks.mjs';

const [bundleDir, fixturesDir] = process.argv.slice(2);
if (!bundleDir || !fixturesDir) {
  console.error('usage: node training/verify_bundle.mjs <bundle dir> <fixtures dir>');
  process.exit(2);
}
configureOrt(ort);

const golden = JSON.parse(readFileSync(path.join(fixturesDir, 'golden.json'), 'utf8'));
const { check, failures } = checkList();

const readJson = jsonReader(bundleDir);
const readF32 = f32Reader(fixturesDir);
const session = (name) => ort.InferenceSession.create(readFileSync(path.join(bundleDir, 'onnx', `${name}.onnx`)));
const f32 = (data, dims) => new ort.Tensor('float32', data, dims);
const i64 = (values, dims) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);

// ---- tokenizer ---------------------------------------------------------------
{
  const tokenizer = new PreTrainedTokenizer(readJson('tokenizer.json'), readJson('tokenizer_config.json'));
  const messages = [{ role: 'user', content: `<image>\n${golden.question}` }];
  const text = tokenizer.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true });
  check(text === golden.prompt_text, 'chat template renders the vicuna_v1 prompt');
  const encoded = tokenizer.apply_chat_template(messages, { tokenize: true, add_generation_prompt: true, return_tensor: false });
  // 4.x returns { input_ids, attention_mask } here; older versions a bare id list.
  const ids = Array.isArray(encoded) ? encoded : encoded.input_ids;
  check(JSON.stringify(ids) === JSON.stringify(golden.prompt_ids), 'prompt ids equal the Python BPE encoder');
  check(tokenizer.decode(golden.prompt_ids) === golden.prompt_text, 'decode(prompt_ids) round-trips');
  for (const { text: sample, ids: expected } of golden.tokenizer_samples) {
    const got = tokenizer.encode(sample);
    check(JSON.stringify(got) === JSON.stringify(expected), `encode ${JSON.stringify(sample)}`);
    check(tokenizer.decode(got) === sample, `decode round-trips ${JSON.stringify(sample)}`);
  }
  check(tokenizer.decode(golden.greedy_ids) === golden.greedy_text, 'greedy_text decodes the same');
}

// ---- vision encoder ----------------------------------------------------------
const pixels = readF32(golden.pixel_values.file);
const vision = await session('vision_encoder');
const runVision = async (s, data, dims) => (await s.run({ pixel_values: f32(data, dims) })).image_features;
const features = await runVision(vision, pixels, golden.pixel_values.shape);
const featuresDiff = maxAbsDiff(features.data, readF32(golden.image_features.file));
check(featuresDiff < 1e-4, `vision fp32 vs torch max abs diff ${featuresDiff.toExponential(2)}`);
for (const [b, h, w] of [[1, 64, 64], [1, 128, 128], [1, 128, 256], [2, 192, 128]]) {
  const data = Float32Array.from({ length: b * 3 * h * w }, (_, i) => Math.sin(i * 0.37));
  const out = await runVision(vision, data, [b, 3, h, w]);
  const want = [b, (h / 64) * (w / 64), 64];
  check(JSON.stringify(out.dims) === JSON.stringify(want), `vision ${b}x3x${h}x${w} -> [${out.dims}]`);
}
const visionInt8 = await runVision(await session('vision_encoder_int8'), pixels, golden.pixel_values.shape);
const visionCos = cosine(visionInt8.data, features.data);

// ---- embed tokens ------------------------------------------------------------
const ids = golden.input_ids_expanded;
const n = ids.length;
const embed = async (name, tokenIds) =>
  (await (await session(name)).run({ input_ids: i64(tokenIds, [1, tokenIds.length]) })).inputs_embeds.data;
const embeds = await embed('embed_tokens', ids);
const embedCos = cosine(await embed('embed_tokens_int8', ids), embeds);

// ---- decoder -----------------------------------------------------------------
const config = readJson('config.json').text_config;
const { num_hidden_layers: layers, num_key_value_heads: kvHeads, head_dim: headDim, hidden_size: D } = config;
const emptyPast = (batch) => {
  const past = {};
  for (let i = 0; i < layers; i++)
    for (const kind of ['key', 'value'])
      past[`past_key_values.${i}.${kind}`] = f32(new Float32Array(0), [batch, kvHeads, 0, headDim]);
  return past;
};
const nextPast = (out) => {
  const past = {};
  for (let i = 0; i < layers; i++)
    for (const kind of ['key', 'value']) past[`past_key_values.${i}.${kind}`] = out[`present.${i}.${kind}`];
  return past;
};
const lastRow = (logits) => {
  const [, seq, vocab] = logits.dims;
  return logits.data.slice((seq - 1) * vocab, seq * vocab);
};
// Prompt embeddings with the <image> rows overwritten by the image features.
const promptEmbeds = Float32Array.from(embeds);
ids.forEach((id, row) => {
  if (id !== golden.image_token_id) return;
  const k = ids.slice(0, row).filter((x) => x === golden.image_token_id).length;
  promptEmbeds.set(features.data.subarray(k * D, (k + 1) * D), row * D);
});
const decoderStep = (s, embedsData, seq, maskValues, positions, past) =>
  s.run({
    inputs_embeds: f32(embedsData, [1, seq, D]),
    attention_mask: i64(maskValues, [1, maskValues.length]),
    position_ids: i64(positions, [1, seq]),
    ...past,
  });

const decoder = await session('decoder_model_merged');
const ones = (k) => new Array(k).fill(1);
const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);
let out = await decoderStep(decoder, promptEmbeds, n, ones(n), range(0, n), emptyPast(1));
const firstLogits = lastRow(out.logits);
const logitsDiff = maxAbsDiff(firstLogits, readF32(golden.first_logits.file));
check(logitsDiff < 1e-3, `decoder fp32 first logits vs torch max abs diff ${logitsDiff.toExponential(2)}`);
check(argmax(firstLogits) === golden.first_logits.argmax, 'first argmax equals torch');

// Greedy decoding through ORT's own KV cache.
const greedy = [];
let logits = firstLogits;
for (let step = 0; step < golden.greedy_ids.length; step++) {
  const next = argmax(logits);
  greedy.push(next);
  const total = n + step + 1;
  out = await decoderStep(decoder, await embed('embed_tokens', [next]), 1, ones(total), [total - 1], nextPast(out));
  logits = lastRow(out.logits);
}
check(JSON.stringify(greedy) === JSON.stringify(golden.greedy_ids), 'ORT greedy ids equal torch greedy ids');

// The whole prompt fed one position at a time (past 0, 1, 2, ...) must agree with
// the one-shot prefill: exercises the causal mask with a growing past.
let stepOut = { ...emptyPast(1) };
let stepLogits;
for (let t = 0; t < n; t++) {
  const r = await decoderStep(decoder, promptEmbeds.slice(t * D, (t + 1) * D), 1, ones(t + 1), [t], t === 0 ? stepOut : nextPast(stepOut));
  stepOut = r;
  stepLogits = lastRow(r.logits);
}
const stepDiff = maxAbsDiff(stepLogits, firstLogits);
check(stepDiff < 1e-3, `token-by-token prefill vs one-shot max abs diff ${stepDiff.toExponential(2)}`);

// Batch of two: row 0 right-padded, row 1 left-padded; neither may change the logits
// at its last real position.
const pad = 3;
const zeros = (k) => new Array(k).fill(0);
const padded = new Float32Array((n + pad) * D * 2);
padded.set(promptEmbeds, 0);
padded.set(promptEmbeds, (n + pad + pad) * D);
const batchOut = await decoder.run({
  inputs_embeds: f32(padded, [2, n + pad, D]),
  attention_mask: i64([...ones(n), ...zeros(pad), ...zeros(pad), ...ones(n)], [2, n + pad]),
  position_ids: i64([...range(0, n + pad), ...ones(pad), ...range(0, n)], [2, n + pad]),
  ...emptyPast(2),
});
const vocab = batchOut.logits.dims[2];
const rowAt = (b, t) => batchOut.logits.data.slice((b * (n + pad) + t) * vocab, (b * (n + pad) + t + 1) * vocab);
const padDiff = Math.max(maxAbsDiff(rowAt(0, n - 1), firstLogits), maxAbsDiff(rowAt(1, n + pad - 1), firstLogits));
check(padDiff < 1e-3, `padded batch rows vs unpadded max abs diff ${padDiff.toExponential(2)}`);

const q4 = await session('decoder_model_merged_q4');
const q4Logits = lastRow((await decoderStep(q4, promptEmbeds, n, ones(n), range(0, n), emptyPast(1))).logits);
const q4Cos = cosine(q4Logits, firstLogits);
const q4RefDiff = maxAbsDiff(q4Logits, readF32(golden.first_logits_q4_reference.file));
check(q4RefDiff < 1e-3, `q4 logits vs torch with dequantized weights max abs diff ${q4RefDiff.toExponential(2)}`);

const quantized = {
  vision_encoder_int8_cosine: visionCos,
  embed_tokens_int8_cosine: embedCos,
  decoder_q4_first_logits_cosine: q4Cos,
};
for (const [k, v] of Object.entries(quantized)) check(v >= 0.99, `${k} ${v.toFixed(5)}`);

console.log(JSON.stringify({
  onnxruntime_web_version: ort.env.versions?.web ?? null,
  quantized,
  ort_fp32: {
    image_features_max_abs_diff: featuresDiff,
    first_logits_max_abs_diff: logitsDiff,
    greedy_ids_match: JSON.stringify(greedy) === JSON.stringify(golden.greedy_ids),
    token_by_token_prefill_max_abs_diff: stepDiff,
    padded_batch_max_abs_diff: padDiff,
  },
  q4_vs_dequantized_reference_max_abs_diff: q4RefDiff,
}));
if (failures.length) {
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
