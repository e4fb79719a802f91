// The native ceiling for the wasm path: the same vision graph on onnxruntime-node (CPU),
// same input sizes, same machine. Emits records in bench/run.mjs's format.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

const SUFFIX = { fp32: '', fp16: '_fp16', int8: '_int8', q4: '_q4', q8: '_quantized', uint8: '_uint8', q4f16: '_q4f16', bnb4: '_bnb4' };

function median(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { ms: sorted[Math.floor(sorted.length / 2)], min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1], runs: samples.length };
}

/**
 * Times one graph on zeros of each size ({ width, height }); `output` names the output to read.
 * foldInt8: the session option Loupe uses for weight-only int8 vision graphs (src/device/session.ts).
 */
export async function timeNativeGraph({ file, output, sizes, runs, threads = os.cpus().length, foldInt8 = false }) {
  const extra = foldInt8 ? { session: { disable_quant_qdq: '1' } } : {};
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, graphOptimizationLevel: 'all', extra });
  const out = [];
  try {
    for (const size of sizes) {
      const input = new ort.Tensor('float32', new Float32Array(3 * size.width * size.height), [1, 3, size.height, size.width]);
      const samples = [];
      let tokens = 0;
      try {
        for (let i = 0; i <= runs; i++) {
          const started = performance.now();
          const result = await session.run({ pixel_values: input });
          const ms = performance.now() - started;
          tokens = result[output].dims[1];
          if (i > 0) samples.push(ms);
        }
      } catch (error) {
        out.push({ size, tokens: 0, error: String(error.message ?? error).slice(0, 200) });
        break;
      }
      out.push({ size, tokens, ...median(samples) });
    }
  } finally {
    await session.release();
  }
  return out;
}

/** Times vision_encoder on zeros of each [height, width]; threads as given (default: all cores). */
export async function benchNativeEncoder({ bundleDir, bundle, model, sizes, runs, threads = os.cpus().length }) {
  const config = JSON.parse(readFileSync(path.join(bundleDir, 'config.json'), 'utf8'));
  const declared = config['transformers.js_config']?.dtype;
  const dtype = (typeof declared === 'string' ? declared : declared?.vision_encoder) ?? 'fp32';
  const file = path.join(bundleDir, 'onnx', `vision_encoder${SUFFIX[dtype] ?? ''}.onnx`);
  const timed = await timeNativeGraph({ file, output: 'image_features', sizes, runs, threads, foldInt8: dtype === 'int8' });
  return timed.map(({ size, tokens, ...stats }, i) => ({
    runtime: 'onnxruntime-node', provider: 'cpu', threads, model, bundle, dtype: { vision_encoder: dtype }, strategy: sizes[i].strategy, resolution: sizes[i].resolution, visual_tokens: tokens, stage: 'encode', ...stats,
  }));
}
