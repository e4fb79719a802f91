import { LoupeError } from '../errors';
import type { Dtype, ModuleName, Provider } from '../bundle';
import { checkGraphLayout } from '../bundle';
import type { KvLayout } from '../models';
import { ort } from './ort';
import type { UnpackedGraph } from './unpack-nbits';

export type DeviceRequest = 'auto' | 'webgpu' | 'wasm';

/** Which provider actually runs a module, and why, reported per module. */
export interface ModuleReport {
  module: ModuleName;
  file: string;
  dtype: Dtype;
  provider: Provider;
  /** Set when `auto` tried WebGPU first and had to fall back: the reason is never hidden. */
  fallbackReason?: string;
  /**
   * WebGPU only: 'none' when the session was created with CPU fallback disabled, so every
   * node runs on the GPU; 'some' when a few nodes (usually shape arithmetic) run on the CPU.
   */
  cpuNodes: 'none' | 'some' | 'n/a';
  bytes: number;
  sessionMs: number;
  /** Download (or Cache Storage read) of the graph and its external data, ms; absent when the bytes were handed over. */
  fetchMs?: number;
  /** wasm: 4/8-bit MatMulNBits matrices written out as fp32 MatMul weights at load (unpack-nbits.ts), and the ms that took. */
  unpackedWeights?: { matrices: number; bytes: number; ms: number };
}

export interface ExternalData {
  path: string;
  data: Uint8Array;
}

export interface SessionRequest {
  module: ModuleName;
  file: string;
  dtype: Dtype;
  bytes: Uint8Array;
  provider: Provider;
  numLayers: number;
  /** Weights kept outside the graph (`<file>_data`), by the name the graph refers to them. */
  externalData?: ExternalData[];
  /** The family's cache tensor names (default: the ecosystem's). */
  kv?: KvLayout;
  /** Outputs that should stay on the GPU between steps (KV cache). */
  gpuOutputs?: readonly string[];
  /** wasm: the graph with its MatMulNBits weights unpacked (`unpackNbitsWeights`), created instead of `bytes`. */
  unpacked?: UnpackedGraph;
}

export interface CreatedSession {
  session: ort.InferenceSession;
  report: ModuleReport;
}

/** Above this many int8 bytes, folding to fp32 (4x) would cost too much wasm memory. */
const FOLD_LIMIT_BYTES = 64 * 2 ** 20;

/**
 * Whether to let onnxruntime constant-fold a weight-only int8 vision graph's
 * DequantizeLinear nodes at load. By default it keeps them (for QDQ fusions that a
 * weight-only graph never uses), so every run dequantizes and conv weights cannot be
 * pre-packed: about 2x slower than fp32 on the CPU (BENCHMARKS.md). Folded, the download
 * stays int8 and the speed is fp32's, for 4x the weight memory (hence the size limit). It is
 * also the exact computation: the default QDQ rewrite deviated by ~1e-3 on the planned model.
 */
export function foldInt8Weights(request: Pick<SessionRequest, 'module' | 'dtype' | 'provider' | 'bytes'>): boolean {
  return request.provider === 'wasm' && request.module === 'vision_encoder' && ['int8', 'uint8', 'q8'].includes(request.dtype) && request.bytes.byteLength <= FOLD_LIMIT_BYTES;
}

function baseOptions(request: SessionRequest, strictGpu: boolean): ort.InferenceSession.SessionOptions {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [request.provider],
    graphOptimizationLevel: 'all',
    // The strict first attempt is expected to fail on graphs with CPU-placed shape nodes;
    // keep that expected failure out of the user's console.
    logSeverityLevel: strictGpu ? 4 : 3,
  };
  // Session config entries, collected in one map so no setting overwrites another.
  const config: Record<string, string> = {};
  if (request.provider === 'webgpu') {
    if (request.gpuOutputs?.length) {
      options.preferredOutputLocation = Object.fromEntries(request.gpuOutputs.map((name) => [name, 'gpu-buffer' as const]));
    }
    if (strictGpu) config.disable_cpu_ep_fallback = '1';
  }
  if (foldInt8Weights(request)) config.disable_quant_qdq = '1';
  if (request.externalData?.length) options.externalData = request.externalData.map(({ path, data }) => ({ path, data }));
  if (Object.keys(config).length) options.extra = { session: config };
  return options;
}

function looksLikeOnnx(bytes: Uint8Array): boolean {
  // An ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
  return bytes.byteLength > 16 && bytes[0] === 0x08;
}

async function tryCreate(request: SessionRequest, strictGpu: boolean, model = request.bytes.slice()): Promise<ort.InferenceSession> {
  // The runtime may take ownership of the buffer; by default it gets a copy so a retry can reuse the bytes.
  return ort.InferenceSession.create(model, baseOptions(request, strictGpu));
}

function sessionError(request: SessionRequest, error: unknown): LoupeError {
  const text = error instanceof Error ? error.message : String(error);
  if (!looksLikeOnnx(request.bytes)) {
    return new LoupeError(
      'GRAPH_INVALID',
      `${request.file} (${request.bytes.byteLength} bytes) is not an ONNX model. Expected a protobuf ModelProto; ` +
        'the file may be truncated, an HTML error page, or a Git LFS pointer. Re-download or re-export it.',
      { details: { file: request.file, bytes: request.bytes.byteLength }, cause: error },
    );
  }
  return new LoupeError(
    'GRAPH_INVALID',
    `onnxruntime-web (${request.provider}) could not load ${request.file}: ${text}. ` +
      'The file may be truncated or use operators this runtime does not have; re-export it or try another dtype.',
    { details: { file: request.file, provider: request.provider, bytes: request.bytes.byteLength }, cause: error },
  );
}

/**
 * Creates a session on exactly the provider asked for. On WebGPU it first insists on
 * every node running on the GPU, then accepts CPU-placed helper nodes and says so.
 * It never silently lands on another provider: the caller decides about fallback.
 */
export async function createSession(request: SessionRequest): Promise<CreatedSession> {
  const started = performance.now();
  let session: ort.InferenceSession;
  let cpuNodes: ModuleReport['cpuNodes'] = 'n/a';
  let unpackedWeights: ModuleReport['unpackedWeights'];
  if (request.provider === 'webgpu') {
    try {
      session = await tryCreate(request, true);
      cpuNodes = 'none';
    } catch {
      try {
        session = await tryCreate(request, false);
        cpuNodes = 'some';
      } catch (error) {
        throw sessionError(request, error);
      }
    }
  } else {
    // MatMulNBits has no packed kernel on wasm: the caller may have written its blocks out as fp32 weights.
    const { unpacked } = request;
    if (unpacked) unpackedWeights = { matrices: unpacked.matrices, bytes: unpacked.weightBytes, ms: unpacked.ms };
    try {
      // The unpacked bytes are this call's own: no copy.
      session = await tryCreate(request, false, unpacked?.bytes);
    } catch (error) {
      throw sessionError(request, error);
    }
  }
  try {
    checkGraphLayout(request.module, request.file, request.numLayers, session, request.kv);
  } catch (error) {
    await session.release();
    throw error;
  }
  return {
    session,
    report: {
      module: request.module,
      file: request.file,
      dtype: request.dtype,
      provider: request.provider,
      cpuNodes,
      bytes: request.bytes.byteLength,
      sessionMs: performance.now() - started,
      ...(unpackedWeights ? { unpackedWeights } : {}),
    },
  };
}
