import type { BundleSpec, DtypeChoice, ModuleName, Provider, ProgressCallback } from '../bundle';
import type { DeviceRequest, GpuReport, ModuleReport, ThreadReport } from '../device';
import type { ImagePlan, PlanOverrides, Rect, ZoomOptions } from '../plan';
import type { PreprocessorReport, PreprocessorRequest } from '../pixels';
import type { SamplingOptions } from '../tokens';
import type { StopReason, TransferBytes } from '../decoder';

export interface WorkerFactories {
  vision: () => Worker;
  language: () => Worker;
  /**
   * One worker for both roles (named "loupe-vision+language"): one onnxruntime instead of
   * two. Used when the model runs on wasm (the default factories give it); otherwise, and
   * without it, a worker per role.
   */
  both?: () => Worker;
}

export interface LoadModelOptions {
  /** 'auto' (default) uses WebGPU when it works and says when it does not. */
  device?: DeviceRequest;
  /** One dtype for all modules or a per-module map, e.g. `{ decoder_model_merged: 'q4' }`. */
  dtype?: DtypeChoice;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Where images become tensors: 'auto' (default) uses WebGPU compute only where it is faster here. */
  preprocessor?: PreprocessorRequest;
  /** Keep bundle files in Cache Storage for offline use and fast reloads (default true). */
  cache?: boolean;
  /**
   * wasm: write a q4/q8 decoder's MatMulNBits blocks out once as fp32 weights at load (default
   * true, for decoders whose fp32 weights fit 256 MiB). onnxruntime's wasm build has no packed
   * 4-bit kernel and dequantises every weight on every token otherwise: Loupe-Synth decodes
   * 1.7-2.9x faster this way, for about 0.3 s more load and 4 bytes a weight of memory (BENCHMARKS.md).
   */
  unpackWeights?: boolean;
  /**
   * wasm threads per worker. Default: up to 4 when the page is cross-origin isolated,
   * else 1 (see `info.threads` for what was used and why).
   */
  threads?: number;
  /** Where onnxruntime-web's wasm binary is served from (defaults to the bundled asset). */
  wasmUrl?: string;
  /** Custom worker construction, for hosts that serve the worker scripts themselves. */
  workers?: WorkerFactories;
  /**
   * How long a cancelled call may go on (a running session.run cannot be interrupted) before
   * its worker is restarted so the engine is usable again (default 3000 ms).
   */
  abortDeadlineMs?: number;
}

export interface ModelInfo {
  baseUrl: string;
  spec: BundleSpec;
  /** Which provider and file runs each module, with fallback reasons where any. */
  modules: Record<ModuleName, ModuleReport>;
  gpu: GpuReport;
  /** wasm threads used by the vision worker (the language worker uses the same). */
  threads: ThreadReport;
  /** The preprocessing path and why (with the timings that decided it). */
  preprocessor: PreprocessorReport | undefined;
  loadMs: number;
  /** Where loadMs went; each module's download and session times are in `modules`. */
  loadTimings: LoadTimings;
  /** 1: one worker hosts both roles (on wasm: one onnxruntime for the model); 2: a worker per role (WebGPU, or custom factories without `both`). */
  workers: 1 | 2;
}

/** The parts of a load, in ms from the start of loadModel(). */
export interface LoadTimings {
  /** config.json, tokenizer and processor files. */
  configMs: number;
  vision: WorkerTimings;
  language: WorkerTimings;
}

export interface WorkerTimings {
  /** When the worker began its load: the worker started and its script and imports ran. */
  readyMs: number;
  /** onnxruntime's runtime start in that worker (it overlaps the downloads). */
  runtimeMs: number;
  /** When the worker's load ended. */
  doneMs: number;
}

export type ImageInput =
  | Blob
  | ImageBitmap
  | ImageData
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | VideoFrame
  | URL
  | string;

export interface SetImageOptions extends PlanOverrides {
  signal?: AbortSignal;
}

export interface ImageSummary {
  plan: ImagePlan;
  visualTokens: number;
  decodeMs: number;
  preprocessMs: number;
  encodeMs: number;
  /** Peak bytes preprocessing held besides the decoded image and its output tensors. */
  workingBytes: number;
}

export interface AskOptions {
  maxNewTokens?: number;
  /** Suppress end-of-sequence until this many tokens (for fixed-length runs such as benchmarks). */
  minNewTokens?: number;
  sampling?: SamplingOptions;
  signal?: AbortSignal;
  /**
   * When this turn would not fit the context: 'trim' (default) drops the oldest turns (the
   * image stays attached to the first turn kept) and reports how many in `stats`; 'error'
   * fails with PROMPT_TOO_LONG instead.
   */
  history?: 'trim' | 'error';
  /** Also say where the answer looked: `chat.evidence` after the answer (the decoder must export it). */
  evidence?: boolean;
  /**
   * 'auto': a first pass finds where the evidence is, that region of the original image is
   * encoded at the model's resolution, and the answer comes from the global and the zoomed
   * tokens (`stats.zoom` says both passes' times and the region). An object tunes it.
   */
  zoom?: 'auto' | 'off' | ZoomRequest;
}

export interface ZoomRequest extends ZoomOptions {
  /**
   * Where the region is looked at: the image's strategy on the region at the bundle's own
   * resolution (the model's, e.g. 1536 for loupe-synth) unless set here, so a cheap first pass at
   * 768 still zooms at full detail. A list: one look at each (an encode and an answer), the
   * surest answer given.
   */
  resolution?: number | readonly number[];
  /**
   * The first answer stands when its confidence (the geometric mean of its tokens'
   * probabilities) is above this; otherwise Loupe looks closer (default 0.95; 1: always).
   */
  sureAbove?: number;
  /**
   * After the closer looks the surest of them is streamed unless the first answer was more
   * confident by more than this (default 0.05). Every pass finishes before the answer streams.
   */
  margin?: number;
  /**
   * Answer from the global tokens and the zoomed ones (default true); false: the zoomed
   * region only. When both do not fit the context, the zoomed region only, and
   * `stats.zoom.keptGlobal` says so.
   */
  keepGlobal?: boolean;
}

/** One closer look at the region: its resolution, answer and cost. */
export interface ZoomLook {
  resolution: number;
  answer: string;
  /** The geometric mean of the answer tokens' probabilities. */
  confidence: number;
  encodeMs: number;
  answerMs: number;
  /** Global + zoomed tokens, or the zoomed ones only (`keptGlobal` false). */
  visualTokens: number;
  keptGlobal: boolean;
}

/** What a zoomed answer did (`ask(..., { zoom: 'auto' })`). */
export interface ZoomStats {
  /** True when the region was looked at closer; false when the first answer stood without. */
  zoomed: boolean;
  /** The image region the evidence points to (whole pixels of the original image); absent when it points nowhere. */
  region?: Rect;
  /** The first pass: prompt, generation and evidence. */
  firstPassMs: number;
  firstAnswer: string;
  /** The first answer's confidence: the geometric mean of its tokens' probabilities. */
  confidence: number;
  /** Preprocessing and encoding the region, all looks (0 when not zoomed). */
  encodeMs: number;
  /** The closer looks' answers, all of them (0 when not zoomed). */
  answerMs: number;
  /** Each closer look, in the order they ran. */
  looks?: ZoomLook[];
  /** The surest look's answer and resolution, and which answer was given (the first, or that look's). */
  zoomedAnswer?: string;
  resolution?: number;
  chose?: 'first' | 'zoomed';
  /** Visual tokens of the surest look: global + zoomed, zoomed only; or the image's own. */
  visualTokens: number;
  keptGlobal: boolean;
}

/** One streamed update of an answer. */
export interface AnswerPiece {
  text: string;
  tokenId: number | null;
}

/** Timings as data, for every answer. */
export interface AnswerStats {
  stopReason: StopReason;
  tokensGenerated: number;
  promptTokens: number;
  /** Prompt positions served from the KV cache of earlier turns. */
  reusedTokens: number;
  /** Earlier turns (question + answer) left out of this prompt so it fits the context. */
  trimmedTurns: number;
  /** The geometric mean of the answer tokens' probabilities (temperature 1): how sure the model was. */
  confidence: number;
  /** True when the image's features came from an earlier encode (no vision run). */
  imageReused: boolean;
  preprocessMs: number;
  encodeMs: number;
  prefillMs: number;
  timeToFirstTokenMs: number;
  decodeTokensPerSecond: number;
  totalMs: number;
  /** Where the KV cache stayed between decoder steps ('gpu-buffer' on WebGPU). */
  kvCacheLocation: string;
  /** Logits bytes read back from the decoder for this answer: one vocabulary row per token on WebGPU. */
  logitsReadBytes: number;
  /**
   * Bytes that crossed between the CPU and the GPU for this answer (zero where nothing runs
   * on WebGPU): logits rows and image-merged embeddings read back, small inputs written.
   * Decode steps keep the embeddings on the GPU.
   */
  transferBytes: TransferBytes;
  providers: Record<ModuleName, Provider>;
  /** Present when the answer was zoomed (`zoom: 'auto'`); no region found: absent, and the answer is the first pass's. */
  zoom?: ZoomStats;
}
