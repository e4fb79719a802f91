import type { Dtype, ModuleName, Provider, TextModelSpec } from '../bundle';
import { LoupeError } from '../errors';
import type { GpuReport } from './gpu-probe';

/**
 * wasm32 addresses 4 GiB: a module's weights, its serialized copy while the session is
 * built, and the activations must all fit. Above this, loading fails after the download.
 */
export const WASM_MODULE_LIMIT_BYTES = 3 * 2 ** 30;

/** Bytes per weight element as stored in each dtype's graphs. */
const WEIGHT_BYTES: Record<Dtype, number> = { fp32: 4, fp16: 2, int8: 1, uint8: 1, q8: 1, q4: 0.5, q4f16: 0.5, bnb4: 0.5 };

export interface PreflightModule {
  module: ModuleName;
  dtype: Dtype;
  /** The graph and its external data files with their sizes (undefined where the host does not say). */
  files: { file: string; bytes: number | undefined }[];
}

/**
 * The largest single weight of a language module: the vocab x hidden embedding (or
 * lm_head). 4-bit formats keep embeddings at 8 bits at least (Gather has no 4-bit kernel
 * on every provider), so count them as 1 byte.
 */
export function largestTensorBytes(module: ModuleName, dtype: Dtype, text: TextModelSpec): number {
  if (module === 'vision_encoder') return 0; // vision towers are small beside the vocabulary
  return text.vocabSize * text.hiddenSize * Math.max(1, WEIGHT_BYTES[dtype]);
}

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

function tooLarge(message: string, details: Record<string, unknown>): LoupeError {
  return new LoupeError('MODEL_TOO_LARGE', message, { details });
}

/**
 * Refuses, before any download, a module this device cannot hold: on wasm, more bytes
 * than a 32-bit heap holds; on WebGPU, a weight larger than one GPU buffer may be.
 */
export function preflightModule(entry: PreflightModule, provider: Provider, gpu: GpuReport, text: TextModelSpec): void {
  const known = entry.files.filter((f): f is { file: string; bytes: number } => f.bytes !== undefined);
  const total = known.reduce((sum, f) => sum + f.bytes, 0);
  const names = entry.files.map((f) => f.file).join(' + ');
  if (provider === 'wasm' && total > WASM_MODULE_LIMIT_BYTES) {
    throw tooLarge(
      `${names} is ${mib(total)}; the wasm backend holds at most about ${mib(WASM_MODULE_LIMIT_BYTES)} per module (a 4 GiB 32-bit heap). ` +
        `Pick a smaller dtype for ${entry.module} (q4), or run on WebGPU.`,
      { module: entry.module, file: names, bytes: total, limit: 'wasm32 heap', limitBytes: WASM_MODULE_LIMIT_BYTES },
    );
  }
  const limits = gpu.limits;
  if (provider !== 'webgpu' || !limits) return;
  const largest = largestTensorBytes(entry.module, entry.dtype, text);
  for (const [name, limit] of [['maxStorageBufferBindingSize', limits.maxStorageBufferBindingSize], ['maxBufferSize', limits.maxBufferSize]] as const) {
    if (largest > limit) {
      throw tooLarge(
        `${names}: its largest weight (the ${text.vocabSize} x ${text.hiddenSize} embedding, ${mib(largest)} in ${entry.dtype}) exceeds this GPU's ${name} of ${mib(limit)}. ` +
          'Pick a smaller dtype for this module, or run it on wasm.',
        { module: entry.module, file: names, bytes: largest, limit: name, limitBytes: limit },
      );
    }
  }
}
