import { LoupeError, throwIfAborted } from '../errors';
import { externalDataFiles, fetchBytes, fetchSize, moduleFileName, type Dtype, type ExternalDataSpec, type ModuleName, type ProgressCallback, type TextModelSpec } from '../bundle';
import { preflightModule } from './preflight';
import type { KvLayout } from '../models';
import type { ProviderChoice } from './provider';
import { createSession, type CreatedSession, type ExternalData } from './session';
import { unpackNbitsWeights, type UnpackedGraph } from './unpack-nbits';
import { startRuntime } from './runtime-start';

export interface LoadModuleRequest {
  baseUrl: string;
  module: ModuleName;
  dtype: Dtype;
  choice: ProviderChoice;
  numLayers: number;
  kv?: KvLayout;
  /** The text model's sizes, for the pre-download check of the largest weight. */
  text?: TextModelSpec;
  /** The bundle's external data declaration (weights in `<file>_data` files). */
  externalData?: ExternalDataSpec;
  gpuOutputs?: readonly string[];
  /** wasm: MatMulNBits blocks to fp32 weights at load (unpack-nbits.ts); default false. */
  unpack?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
  cache?: boolean;
}

let opening: Promise<unknown> = Promise.resolve();

/**
 * Session creations in this worker, one after the other (whichever role asks): onnxruntime's
 * WebGPU backend refuses to create two sessions at once. Downloads still overlap.
 */
function oneAtATime<T>(open: () => Promise<T>): Promise<T> {
  const next = opening.then(open, open);
  opening = next.catch(() => undefined);
  return next;
}

/**
 * Downloads one module and opens it on the chosen provider. With device `auto`, a WebGPU
 * failure falls back to wasm and the report says why; with `webgpu` it is an error.
 */
export async function loadModuleSession(request: LoadModuleRequest): Promise<CreatedSession> {
  const file = moduleFileName(request.module, request.dtype);
  const dataFiles = externalDataFiles(request.externalData ?? 0, file, request.module);
  const options = {
    module: request.module,
    ...(request.cache !== undefined ? { cache: request.cache } : {}),
    ...(request.signal ? { signal: request.signal } : {}),
    ...(request.onProgress ? { onProgress: request.onProgress } : {}),
  };
  if (request.text) {
    const sizes = await Promise.all([file, ...dataFiles].map(async (f) => ({ file: f, bytes: await fetchSize(request.baseUrl, f, options) })));
    preflightModule({ module: request.module, dtype: request.dtype, files: sizes }, request.choice.provider, request.choice.gpu, request.text);
  }
  const fetchStarted = performance.now();
  const [bytes, ...data] = await Promise.all([file, ...dataFiles].map((f) => fetchBytes(request.baseUrl, f, options)));
  const fetchMs = performance.now() - fetchStarted;
  throwIfAborted(request.signal, `Loading ${file}`);
  // onnxruntime resolves a graph's external data by the file name its tensors name.
  const externalData = dataFiles.map((f, i) => ({ path: f.slice(f.lastIndexOf('/') + 1), data: data[i]! }));
  // Written out as soon as the bytes arrive, so it can overlap the runtime's start.
  const unpacked = request.choice.provider === 'wasm' ? unpackFor(request, bytes!, externalData) : undefined;
  // Started by the worker when its load began, so usually done by now.
  await startRuntime();
  const created = await oneAtATime(() => open(request, file, bytes!, externalData, unpacked));
  created.report.fetchMs = fetchMs;
  return created;
}

/** wasm: the graph with its MatMulNBits blocks as fp32 weights, when the request asks and it fits (unpack-nbits.ts). */
function unpackFor(request: LoadModuleRequest, bytes: Uint8Array, externalData: ExternalData[]): UnpackedGraph | undefined {
  return request.unpack ? unpackNbitsWeights(bytes, externalData) : undefined;
}

async function open(request: LoadModuleRequest, file: string, bytes: Uint8Array, externalData: ExternalData[], unpacked?: UnpackedGraph): Promise<CreatedSession> {
  request.onProgress?.({ stage: 'session', file, module: request.module, loadedBytes: bytes.byteLength, totalBytes: bytes.byteLength });
  const base = {
    module: request.module,
    file,
    dtype: request.dtype,
    bytes,
    numLayers: request.numLayers,
    ...(request.kv ? { kv: request.kv } : {}),
    ...(externalData.length ? { externalData } : {}),
    ...(request.gpuOutputs ? { gpuOutputs: request.gpuOutputs } : {}),
  };
  const provider = request.choice.provider;
  try {
    return await createSession({ ...base, provider, ...(unpacked ? { unpacked } : {}) });
  } catch (error) {
    const retryable = error instanceof LoupeError && error.code === 'GRAPH_INVALID' && provider === 'webgpu' && request.choice.device === 'auto';
    if (!retryable) throw error;
    const fallback = unpackFor(request, bytes, externalData);
    const created = await createSession({ ...base, provider: 'wasm', ...(fallback ? { unpacked: fallback } : {}) });
    created.report.fallbackReason = `WebGPU could not run ${file}: ${error.message}`;
    return created;
  }
}
