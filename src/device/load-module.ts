import { LoupeError, throwIfAborted } from '../errors';
import { fetchBytes, moduleFileName, type Dtype, type ModuleName, type ProgressCallback } from '../bundle';
import type { ProviderChoice } from './provider';
import { createSession, type CreatedSession } from './session';

export interface LoadModuleRequest {
  baseUrl: string;
  module: ModuleName;
  dtype: Dtype;
  choice: ProviderChoice;
  numLayers: number;
  gpuOutputs?: readonly string[];
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
  cache?: boolean;
  /**
   * Runs session creation; pass one serial queue to modules loaded concurrently in a worker:
   * onnxruntime's WebGPU backend refuses to create two sessions at once. Downloads still overlap.
   */
  serialize?: <T>(open: () => Promise<T>) => Promise<T>;
}

/**
 * Downloads one module and opens it on the chosen provider. With device `auto`, a WebGPU
 * failure falls back to wasm and the report says why; with `webgpu` it is an error.
 */
export async function loadModuleSession(request: LoadModuleRequest): Promise<CreatedSession> {
  const file = moduleFileName(request.module, request.dtype);
  const bytes = await fetchBytes(request.baseUrl, file, {
    module: request.module,
    ...(request.cache !== undefined ? { cache: request.cache } : {}),
    ...(request.signal ? { signal: request.signal } : {}),
    ...(request.onProgress ? { onProgress: request.onProgress } : {}),
  });
  throwIfAborted(request.signal, `Loading ${file}`);
  const serialize = request.serialize ?? ((open) => open());
  return serialize(() => open(request, file, bytes));
}

async function open(request: LoadModuleRequest, file: string, bytes: Uint8Array): Promise<CreatedSession> {
  request.onProgress?.({ stage: 'session', file, module: request.module, loadedBytes: bytes.byteLength, totalBytes: bytes.byteLength });
  const base = {
    module: request.module,
    file,
    dtype: request.dtype,
    bytes,
    numLayers: request.numLayers,
    ...(request.gpuOutputs ? { gpuOutputs: request.gpuOutputs } : {}),
  };
  const provider = request.choice.provider;
  try {
    return await createSession({ ...base, provider });
  } catch (error) {
    const retryable = error instanceof LoupeError && error.code === 'GRAPH_INVALID' && provider === 'webgpu' && request.choice.device === 'auto';
    if (!retryable) throw error;
    const created = await createSession({ ...base, provider: 'wasm' });
    created.report.fallbackReason = `WebGPU could not run ${file}: ${error.message}`;
    return created;
  }
}
