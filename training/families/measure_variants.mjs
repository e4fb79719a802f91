// Greedy decoding of a family bundle with every dtype variant, straight on the ONNX
// graphs (no transformers.js): onnxruntime-node (native CPU, what transformers.js uses in
// Node) and onnxruntime-web (wasm, what the browser uses without WebGPU).
//
//   node training/families/measure_variants.mjs <bundle dir> <fixtures dir>
//
// Reads golden.json, pixel_values / image_features / first_logits (.f32) that PyTorch
// wrote; prints JSON on stdout: per runtime and dtype the greedy ids (or the load
// error), and for fp32 the max abs differences against PyTorch.
//
// Loads graphs as transformers.js does: onnxruntime-node from the file path (it finds
// `<file>_data` beside it), onnxruntime-web from bytes plus `externalData` for the files
// config.json's `use_external_data_format` declares (an undeclared `<file>_data` is an
// error). The decoder's inputs decide the rest: the empty cache takes the dtype of the
// `past_key_values.*` inputs (float16 KV cache), and a `num_logits_to_keep` input gets 1
// while generating (checked against 0 = all positions) and 0 for the padded batch.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { argmax, configureOrt, f32Reader, jsonReader, maxAbsDiff } from '../node_checks.mjs';

const [bundleDir, fixturesDir] = process.argv.slice(2);
if (!bundleDir || !fixturesDir) {
  console.error('usage: node training/families/measure_variants.mjs <bundle dir> <fixtures dir>');
  process.exit(2);
}
configureOrt(ortWeb);
const DTYPES = { fp32: '', q4: '_q4', fp16: '_fp16', q4f16: '_q4f16' };

const golden = jsonReader(fixturesDir)('golden.json');
const readF32 = f32Reader(fixturesDir);
const config = jsonReader(bundleDir)('config.json');
// llava_qwen2 is flat; llava keeps the decoder under text_config.
const text = config.text_config ?? config;
const layers = text.num_hidden_layers;
const kvHeads = text.num_key_value_heads;
const headDim = text.head_dim ?? text.hidden_size / text.num_attention_heads;
const D = text.hidden_size;
const externalFormat = config['transformers.js_config']?.use_external_data_format;

/** transformers.js's resolveExternalDataFormat + getExternalDataChunkNames. */
function externalDataFiles(file, module) {
  let chunks = 0;
  if (typeof externalFormat === 'object' && externalFormat !== null) chunks = +(externalFormat[file] ?? externalFormat[module] ?? 0);
  else if (externalFormat) chunks = +externalFormat;
  return Array.from({ length: chunks }, (_, i) => `${file}_data${i === 0 ? '' : `_${i}`}`);
}

/** One graph: per runtime the loading transformers.js uses; also what it carries. */
async function loadGraph(ort, module, suffix, loaded) {
  const file = `${module}${suffix}.onnx`;
  const graphPath = path.join(bundleDir, 'onnx', file);
  const dataFiles = externalDataFiles(file, module);
  if (!dataFiles.length && existsSync(`${graphPath}_data`))
    throw new Error(`${file}_data exists but use_external_data_format does not declare it`);
  for (const f of dataFiles) if (!existsSync(path.join(bundleDir, 'onnx', f))) throw new Error(`declared ${f} is missing`);
  if (dataFiles.length) loaded.external_data = dataFiles;
  if (ort === ortNode) return ort.InferenceSession.create(graphPath);
  const externalData = dataFiles.map((f) => ({ path: f, data: readFileSync(path.join(bundleDir, 'onnx', f)) }));
  return ort.InferenceSession.create(readFileSync(graphPath), externalData.length ? { externalData } : {});
}

async function greedy(ort, dtype) {
  const suffix = DTYPES[dtype];
  const loaded = {};
  const modules = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'];
  const [vision, embed, decoder] = await Promise.all(modules.map((m) => loadGraph(ort, m, suffix, (loaded[m] = {}))));
  const i64 = (values, dims) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);
  const f32 = (data, dims) => new ort.Tensor('float32', data, dims);

  // What the decoder declares, read as transformers.js does (session input metadata).
  const pastTypes = new Set(decoder.inputMetadata.filter((m) => m.name.startsWith('past_key_values.')).map((m) => m.type));
  if (pastTypes.size !== 1) throw new Error(`past_key_values inputs of mixed types: ${[...pastTypes]}`);
  const [kvType] = pastTypes;
  const keepsLogits = decoder.inputNames.includes('num_logits_to_keep');
  const keep = (n) => (keepsLogits ? { num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(n)), []) } : {});
  const emptyKv = { float32: () => new Float32Array(0), float16: () => new Uint16Array(0) }[kvType];
  if (!emptyKv) throw new Error(`KV cache of type ${kvType}`);
  const decoderInfo = { kv_cache_dtype: kvType, num_logits_to_keep: keepsLogits, ...loaded.decoder_model_merged };

  const pixels = f32(readF32(golden.pixel_values.file), golden.pixel_values.shape);
  const features = (await vision.run({ pixel_values: pixels })).image_features.data;
  const embedIds = async (ids) => (await embed.run({ input_ids: i64(ids, [1, ids.length]) })).inputs_embeds.data;

  const ids = golden.input_ids_expanded;
  const n = ids.length;
  const embeds = Float32Array.from(await embedIds(ids));
  let k = 0; // the k-th <image> position takes the k-th feature row
  ids.forEach((id, row) => {
    if (id !== golden.image_token_id) return;
    embeds.set(features.subarray(k * D, (k + 1) * D), row * D);
    k++;
  });

  const emptyPast = (batch) => {
    const empty = {};
    for (let i = 0; i < layers; i++)
      for (const kind of ['key', 'value'])
        empty[`past_key_values.${i}.${kind}`] = new ort.Tensor(kvType, emptyKv(), [batch, kvHeads, 0, headDim]);
    return empty;
  };
  let past = emptyPast(1);
  const feeds = (x, seq, total, pastFeeds, kept) => ({
    inputs_embeds: f32(x, [1, seq, D]),
    attention_mask: i64(new Array(total).fill(1), [1, total]),
    position_ids: i64(Array.from({ length: seq }, (_, j) => total - seq + j), [1, seq]),
    ...pastFeeds,
    ...keep(kept),
  });
  const step = async (x, seq, total) => {
    const out = await decoder.run(feeds(x, seq, total, past, 1));
    past = {};
    for (let i = 0; i < layers; i++)
      for (const kind of ['key', 'value']) {
        const present = out[`present.${i}.${kind}`];
        if (present.type !== kvType) throw new Error(`present.${i}.${kind} is ${present.type}, past ${kvType}`);
        past[`past_key_values.${i}.${kind}`] = present;
      }
    const [, rows, vocab] = out.logits.dims;
    if (keepsLogits && rows !== 1) throw new Error(`num_logits_to_keep 1 gave ${rows} logits rows`);
    return out.logits.data.slice((rows - 1) * vocab, rows * vocab);
  };

  let logits = await step(embeds, n, n);
  const firstLogits = logits;
  if (keepsLogits) {
    // 0 keeps every position, N the last N: same rows as the full logits.
    const full = (await decoder.run(feeds(embeds, n, n, emptyPast(1), 0))).logits;
    const last3 = (await decoder.run(feeds(embeds, n, n, emptyPast(1), 3))).logits;
    const vocab = full.dims[2];
    decoderInfo.num_logits_to_keep_check = {
      dims: { 0: full.dims, 1: [1, 1, vocab], 3: last3.dims },
      max_abs_diff_vs_keep_0: Math.max(
        maxAbsDiff(full.data.slice((n - 1) * vocab), firstLogits),
        maxAbsDiff(full.data.slice((n - 3) * vocab), last3.data),
      ),
    };
    if (full.dims[1] !== n || last3.dims[1] !== 3) throw new Error(`num_logits_to_keep 0 / 3 gave ${full.dims} / ${last3.dims}`);
  }
  const out = [];
  for (let t = 0; t < golden.greedy_ids.length; t++) {
    const next = argmax(logits);
    out.push(next);
    if (t + 1 < golden.greedy_ids.length) logits = await step(await embedIds([next]), 1, n + t + 1);
  }

  // Batch of two, row 0 right-padded and row 1 left-padded: the padded query rows are
  // fully masked, which must not give NaN (float16: a mask fill of -inf would) nor change
  // the logits at each row's last real position.
  const pad = 3;
  const padded = new Float32Array(2 * (n + pad) * D);
  padded.set(embeds, 0);
  padded.set(embeds, (n + 2 * pad) * D);
  const ones = (k) => new Array(k).fill(1);
  const zeros = (k) => new Array(k).fill(0);
  const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);
  const batch = await decoder.run({
    inputs_embeds: f32(padded, [2, n + pad, D]),
    attention_mask: i64([...ones(n), ...zeros(pad), ...zeros(pad), ...ones(n)], [2, n + pad]),
    position_ids: i64([...range(0, n + pad), ...ones(pad), ...range(0, n)], [2, n + pad]),
    ...emptyPast(2),
    ...keep(0),
  });
  const vocab = batch.logits.dims[2];
  const row = (b, t) => batch.logits.data.slice((b * (n + pad) + t) * vocab, (b * (n + pad) + t + 1) * vocab);
  const paddedDiff = Math.max(maxAbsDiff(row(0, n - 1), firstLogits), maxAbsDiff(row(1, n + pad - 1), firstLogits));
  const finite = batch.logits.data.every(Number.isFinite);

  await Promise.all([vision, embed, decoder].map((s) => s.release()));
  return { ids: out, features, firstLogits, paddedDiff, finite, decoderInfo };
}

const result = { runtimes: {} };
for (const [runtime, ort] of [['onnxruntime-node', ortNode], ['onnxruntime-web-wasm', ortWeb]]) {
  const perDtype = {};
  for (const dtype of Object.keys(DTYPES)) {
    try {
      const r = await greedy(ort, dtype);
      perDtype[dtype] = {
        greedy_ids: r.ids,
        matches_torch: JSON.stringify(r.ids) === JSON.stringify(golden.greedy_ids),
        image_features_max_abs_diff: maxAbsDiff(r.features, readF32(golden.image_features.file)),
        first_logits_max_abs_diff: maxAbsDiff(r.firstLogits, readF32(golden.first_logits.file)),
        padded_batch_max_abs_diff: r.paddedDiff,
        padded_batch_logits_finite: r.finite,
        decoder: r.decoderInfo,
      };
    } catch (e) {
      perDtype[dtype] = { error: String(e?.message ?? e).slice(0, 300) };
    }
    console.error(`${runtime} ${dtype}: ${perDtype[dtype].error ?? (perDtype[dtype].matches_torch ? 'matches torch' : 'DIFFERS')}`);
  }
  result.runtimes[runtime] = perDtype;
}
result.versions = { 'onnxruntime-node': ortNode.env.versions?.node ?? null, 'onnxruntime-web': ortWeb.env.versions?.web ?? null };
console.log(JSON.stringify(result));
