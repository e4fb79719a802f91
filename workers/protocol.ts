import type { BundleSpec, DtypeChoice, LoadProgress } from '../src/bundle';
import type { DeviceRequest, GpuBufferBytes, GpuReport, ModuleReport, RuntimeAssets, ThreadReport } from '../src/device';
import type { PreprocessorReport, PreprocessorRequest, WorkerImageSource } from '../src/pixels';
import type { ImagePlan, PlanOverrides } from '../src/plan';
import type { ChatMessage, SamplingOptions } from '../src/tokens';
import type { StopReason, TransferBytes } from '../src/decoder';

/** What both workers receive to load their part of a bundle. */
export interface WorkerLoadRequest {
  spec: BundleSpec;
  device: DeviceRequest;
  dtype?: DtypeChoice;
  assets: RuntimeAssets;
  /** Keep bundle files in Cache Storage. */
  cache: boolean;
  /** Where images become tensors: WebGPU compute, the CPU, or whichever is faster here. */
  preprocessor?: PreprocessorRequest;
  /** wasm: unpack the decoder's MatMulNBits blocks to fp32 weights at load (default true). */
  unpackWeights?: boolean;
}

export interface WorkerLoadResult {
  modules: ModuleReport[];
  gpu: GpuReport;
  /** wasm threads this worker's sessions use, and why not more. */
  threads: ThreadReport;
  /** The vision worker's preprocessing path. */
  preprocessor?: PreprocessorReport;
  timings: WorkerLoadTimings;
}

/** Where a worker's load time went (the modules' own fetch and session times are in their reports). */
export interface WorkerLoadTimings {
  /** When load() began in the worker (epoch ms, performance.timeOrigin + now()): after the worker script and its imports. */
  startedAt: number;
  /** onnxruntime's runtime start in this worker (wasm compile, instantiate, threads), ms; it overlaps the downloads. */
  runtimeMs: number;
}

export interface EncodeRequest {
  requestId: number;
  /** The image, or `{ keptFor }`: the one kept for that chat by an earlier request's `keepFor`. */
  source: WorkerImageSource | { keptFor: number };
  overrides?: PlanOverrides;
  /**
   * Keep this chat's image for its zoomed passes, replacing what it kept before: a file's
   * encoded bytes (each closer look decodes them again), or the page's ImageBitmap / ImageData.
   */
  keepFor?: number;
}

export interface EncodeResult {
  /** [tokens, hidden] row-major; transferred, not copied. */
  features: Float32Array;
  tokens: number;
  hidden: number;
  plan: ImagePlan;
  decodeMs: number;
  preprocessMs: number;
  encodeMs: number;
  /** Peak bytes preprocessing held besides the decoded image and its output tensors. */
  workingBytes: number;
}

/** What the model sees, as 8-bit RGB per planned input (derived inputs have none). */
export interface RenderResult {
  plan: ImagePlan;
  inputs: ({ rgb: Uint8Array; width: number; height: number } | null)[];
  workingBytes: number;
  decodeMs: number;
  preprocessMs: number;
}

export interface AskRequest {
  requestId: number;
  chatId: number;
  messages: ChatMessage[];
  maxNewTokens: number;
  minNewTokens?: number;
  sampling: SamplingOptions;
  /** Return the answer's evidence (per visual token attention); the decoder must export it. */
  evidence?: boolean;
}

/** One streamed update: the token and the text that became final with it. */
export interface TokenPiece {
  /** null only for a final flush of bytes that never completed a character. */
  tokenId: number | null;
  text: string;
}

export interface AskResult {
  tokenIds: number[];
  text: string;
  stopReason: StopReason;
  promptTokens: number;
  reusedTokens: number;
  prefillMs: number;
  decodeMs: number;
  kvCacheLocation: string;
  logitsReadBytes: number;
  transferBytes: TransferBytes;
  /** The geometric mean of the answer tokens' probabilities. */
  confidence: number;
  /** With `evidence`: per visual token, the mean attention of the answer's tokens. */
  evidence?: Float32Array;
}

export type ProgressSink = (progress: LoadProgress) => void;
export type TokenSink = (piece: TokenPiece) => void;

export interface VisionWorkerApi {
  load(request: WorkerLoadRequest, onProgress: ProgressSink): Promise<WorkerLoadResult>;
  encode(request: EncodeRequest): Promise<EncodeResult>;
  render(request: EncodeRequest): Promise<RenderResult>;
  /** Frees the image kept for a chat (`keepFor`). */
  forget(chatId: number): void;
  cancel(requestId: number): void;
  /** GPU buffer bytes this worker holds, and its peak. */
  gpuBytes(): GpuBufferBytes;
  /** For fault drills and tests: destroys the GPU device this worker's sessions use, as a driver reset would (no-op on wasm). */
  loseGpuDevice(): Promise<boolean>;
  dispose(): Promise<void>;
}

export interface LanguageWorkerApi {
  load(request: WorkerLoadRequest & { tokenizerJson: unknown; tokenizerConfig: unknown }, onProgress: ProgressSink): Promise<WorkerLoadResult>;
  setImage(chatId: number, features: Float32Array | null, tokens: number): void;
  ask(request: AskRequest, onToken: TokenSink): Promise<AskResult>;
  cancel(requestId: number): void;
  closeChat(chatId: number): void;
  gpuBytes(): GpuBufferBytes;
  /** For fault drills and tests: destroys the GPU device this worker's sessions use, as a driver reset would (no-op on wasm). */
  loseGpuDevice(): Promise<boolean>;
  dispose(): Promise<void>;
}

/**
 * Posted by a worker (outside Comlink) when the GPU device its sessions run on is lost
 * (driver reset, GPU process crash, or `destroy()`); the page's supervisor then restarts it.
 */
export const DEVICE_LOST_EVENT = 'loupe:device-lost';

export interface DeviceLostEvent {
  type: typeof DEVICE_LOST_EVENT;
  /** GPUDeviceLostInfo.reason: 'destroyed' or 'unknown'. */
  reason: string;
  message: string;
}
