import * as Comlink from 'comlink';
import { fetchJson, joinUrl, parseBundleSpec, type LoadProgress, type ModuleName, type Provider } from '../bundle';
import type { GpuBufferBytes, ModuleReport } from '../device';
import { LoupeError, abortError, asLoupeError } from '../errors';
import type { LanguageWorkerApi, RenderResult, VisionWorkerApi, WorkerLoadRequest, WorkerLoadResult } from '../../workers/protocol';
import { toWorkerSource } from './image-transfer';
import { LoupeChat } from './chat';
import { checkLoadOptions } from './options';
import { installErrorTransfer } from './comlink-errors';
import { defaultWasmUrl, defaultWorkers } from './default-workers';
import { sharesWorker, startRoles, supervisorsOf, type AnySupervisor, type LanguageLoadRequest, type Roles } from './worker-roles';
import type { ImageInput, LoadModelOptions, ModelInfo, SetImageOptions, WorkerTimings } from './types';

/** How long dispose() waits for the workers to release their sessions before ending them. */
const DISPOSE_WAIT_MS = 2000;
/** How long a cancelled call may keep running (a session.run cannot be interrupted) before its worker is restarted. */
export const ABORT_DEADLINE_MS = 3000;

/** A loaded bundle: its worker(s) (one per role, or one for both), their sessions, and the chats that use them. */
export class LoupeModel {
  private disposed = false;
  private requestCounter = 0;

  private readonly vision: Comlink.Remote<VisionWorkerApi>;
  private readonly language: Comlink.Remote<LanguageWorkerApi>;
  /** One per worker: two, or one when a single worker hosts both roles. */
  private readonly supervisors: AnySupervisor[];

  constructor(
    readonly info: ModelInfo,
    private readonly roles: Roles,
    private readonly abortDeadlineMs: number = ABORT_DEADLINE_MS,
  ) {
    this.vision = roles.vision.remote;
    this.language = roles.language.remote;
    this.supervisors = supervisorsOf(roles);
    // A restarted worker may run on another provider (a lost GPU, wasm now): say so in info.
    for (const supervisor of this.supervisors) {
      supervisor.onRestarted = (result) => {
        for (const report of result.modules) this.info.modules[report.module] = report;
      };
    }
  }

  private assertLive(): void {
    if (this.disposed) throw new LoupeError('DISPOSED', 'This model was disposed; call loadModel() again.');
    const crashed = this.supervisors.find((supervisor) => supervisor.error)?.error;
    if (crashed) throw crashed;
  }

  /** Starts a conversation. Chats share the model's sessions; each keeps its own image and cache. */
  chat(): LoupeChat {
    this.assertLive();
    const providers = Object.fromEntries(Object.entries(this.info.modules).map(([name, report]) => [name, report.provider])) as Record<ModuleName, Provider>;
    return new LoupeChat({
      vision: this.vision,
      language: this.language,
      providers,
      nextRequestId: () => ++this.requestCounter,
      imageToken: this.info.spec.imageToken,
      stride: this.info.spec.image.loupe.stride,
      contextLength: this.info.spec.text.maxPositions,
      resolution: this.info.spec.image.loupe.resolution,
      languageGeneration: () => this.roles.language.supervisor.generation,
      abortDeadlineMs: this.abortDeadlineMs,
      stopOverdue: (role, what) => this.stopOverdue(role, what),
    });
  }

  /**
   * A cancelled call that is still running after the abort deadline (a session.run cannot be
   * interrupted) ends with its worker: the call rejects with ABORTED and a fresh worker loads
   * the sessions again, so the engine is usable again without waiting for the run.
   */
  private stopOverdue(role: 'vision' | 'language', what: string): void {
    const supervisor = this.roles[role].supervisor;
    const error = new LoupeError('ABORTED', `${what} was cancelled and did not stop within ${this.abortDeadlineMs} ms, so the ${supervisor.name} worker was restarted; the engine is still usable.`);
    void supervisor.restart(error).catch(() => undefined);
  }

  /**
   * After WORKER_CRASHED (or a restart that failed): starts fresh workers for the roles that
   * failed and loads their sessions again. Chats keep their history and image features; the
   * next question re-sends them. Resolves with the model's info (providers may differ).
   */
  async recover(): Promise<ModelInfo> {
    if (this.disposed) throw new LoupeError('DISPOSED', 'This model was disposed; call loadModel() again.');
    await Promise.all(
      this.supervisors.map((supervisor) => {
        const failed = supervisor.error;
        return failed ? supervisor.restart(failed) : undefined;
      }),
    );
    return this.info;
  }

  /**
   * For fault drills and tests: destroys the GPU device each worker's sessions run on, as a
   * driver reset would. The workers report DEVICE_LOST and restart on a new device. Resolves
   * with whether any device was destroyed (false on wasm).
   */
  async loseGpuDevice(): Promise<boolean> {
    this.assertLive();
    // One worker for both roles: one device, destroyed once (a second call would still be
    // pending when the device-lost restart settles it with DEVICE_LOST).
    if (this.supervisors.length === 1) return this.language.loseGpuDevice();
    const lost = await Promise.all([this.vision.loseGpuDevice(), this.language.loseGpuDevice()]);
    return lost.some(Boolean);
  }

  /**
   * What the model would see for this image: the plan and the 8-bit RGB of every planned
   * input (before normalisation), without running the vision graph. For previews, and for
   * checking preprocessing against the reference.
   */
  async render(input: ImageInput, options: SetImageOptions = {}): Promise<RenderResult> {
    this.assertLive();
    const { signal, ...overrides } = options;
    const requestId = ++this.requestCounter;
    const onAbort = () => void this.vision.cancel(requestId);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const source = await toWorkerSource(input, globalThis.location?.href ?? 'http://localhost/');
      return await this.vision.render({ requestId, source, overrides });
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * GPU buffer bytes the model holds now and at its peak, per worker (weights, activations,
   * KV caches, preprocessing buffers); zero where nothing runs on the GPU. The total peak is
   * the sum of the workers' peaks, an upper bound of what they held at one time. With one
   * worker for both roles (wasm), all of its buffers are reported under `vision`.
   */
  async gpuMemory(): Promise<{ vision: GpuBufferBytes; language: GpuBufferBytes; live: number; peak: number }> {
    this.assertLive();
    if (this.supervisors.length === 1) {
      // One worker for both roles: its buffers (sessions of both roles, preprocessing) cannot be
      // told apart, so all are reported under vision.
      const vision = await this.vision.gpuBytes();
      return { vision, language: { live: 0, peak: 0 }, live: vision.live, peak: vision.peak };
    }
    const [vision, language] = await Promise.all([this.vision.gpuBytes(), this.language.gpuBytes()]);
    return { vision, language, live: vision.live + language.live, peak: vision.peak + language.peak };
  }

  /**
   * Releases the sessions (and GPU memory) and ends the workers. Calls still pending (an
   * answer streaming, an image encoding) reject with DISPOSED; a worker that does not
   * release within DISPOSE_WAIT_MS is terminated anyway.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const error = new LoupeError('DISPOSED', 'The model was disposed while this was running; call loadModel() again.');
    // An answer that fails on the sessions the release takes from under it is DISPOSED too.
    for (const supervisor of this.supervisors) supervisor.beginEnd(error);
    const released = Promise.allSettled([this.vision.dispose(), this.language.dispose()]);
    await Promise.race([released, new Promise((resolve) => setTimeout(resolve, DISPOSE_WAIT_MS))]);
    for (const supervisor of this.supervisors) supervisor.end(error);
  }
}

function resolveBase(source: string | URL): string {
  const href = new URL(String(source), globalThis.location?.href ?? undefined).href;
  return href.endsWith('/') ? href : `${href}/`;
}

/**
 * Newer bundles (llava-interleave) keep the template in chat_template.json; where
 * tokenizer_config.json has none, that one is used, as transformers does.
 */
function withChatTemplate(tokenizerConfig: unknown, chatTemplate: unknown): unknown {
  const template = (chatTemplate as { chat_template?: unknown } | undefined)?.chat_template;
  const config = (tokenizerConfig ?? {}) as Record<string, unknown>;
  return config.chat_template === undefined && typeof template === 'string' ? { ...config, chat_template: template } : tokenizerConfig;
}

/** The bundle's JSON files: config (as a spec), tokenizer and its config with the chat template. */
async function fetchBundleFiles(baseUrl: string, fetchOptions: Parameters<typeof fetchJson>[2]) {
  // An optional file the host lacks is never cached, so offline its fetch fails instead of
  // answering 404: with the required files served from the cache, that too means absent.
  const optional = (file: string) =>
    fetchJson(baseUrl, file, fetchOptions).catch((error: unknown) => {
      if (error instanceof LoupeError && (error.code === 'BUNDLE_FILE_MISSING' || error.code === 'BUNDLE_FETCH_FAILED')) return undefined;
      throw error;
    });
  const [config, generationConfig, preprocessorConfig, processorConfig, tokenizerJson, tokenizerFileConfig, chatTemplate] = await Promise.all([
    fetchJson(baseUrl, 'config.json', fetchOptions),
    optional('generation_config.json'),
    fetchJson(baseUrl, 'preprocessor_config.json', fetchOptions),
    optional('processor_config.json'),
    fetchJson(baseUrl, 'tokenizer.json', fetchOptions),
    fetchJson(baseUrl, 'tokenizer_config.json', fetchOptions),
    optional('chat_template.json'),
  ]);
  const spec = parseBundleSpec(baseUrl, { config, generationConfig: generationConfig ?? {}, preprocessorConfig, processorConfig });
  return { spec, tokenizerJson, tokenizerConfig: withChatTemplate(tokenizerFileConfig, chatTemplate) };
}

type LoadRequests = { vision: WorkerLoadRequest; language: LanguageLoadRequest };

/**
 * Loads a bundle from a base URL (a folder under public/models or any URL with the same
 * files) into its worker (one for both roles, unless custom factories give each its own) and
 * reports which provider runs each module.
 */
export async function loadModel(source: string | URL, options: LoadModelOptions = {}): Promise<LoupeModel> {
  installErrorTransfer();
  checkLoadOptions(options);
  const started = performance.now();
  const { signal, onProgress } = options;
  const baseUrl = resolveBase(source);
  const cache = options.cache ?? true;
  const fetchOptions = { cache, ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) };
  const report = (progress: LoadProgress) => onProgress?.(progress);
  const device = options.device ?? 'auto';

  // The workers start (script, imports) while the page fetches the bundle's JSON files.
  // A restart (after a crash, a lost device or an overdue cancel) loads the same files from
  // the cache; a lost GPU may not come back, so it may fall back to wasm ('auto', reported).
  let requests: LoadRequests | undefined;
  const restartDevice = device === 'wasm' ? 'wasm' : 'auto';
  const quiet = () => Comlink.proxy(() => undefined);
  const factories = options.workers ?? defaultWorkers;
  const roles = startRoles(factories, sharesWorker(factories, device), {
    vision: (remote) => remote.load({ ...requests!.vision, device: restartDevice }, quiet()),
    language: (remote) => remote.load({ ...requests!.language, device: restartDevice }, quiet()),
  });
  const supervisors = supervisorsOf(roles);
  const progress = Comlink.proxy(report);

  let stop: (error: LoupeError) => void = () => undefined;
  const stopped = new Promise<never>((_, reject) => {
    stop = reject;
  });
  const onAbort = () => stop(abortError('Loading the model'));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) throw abortError('Loading the model');
    report({ stage: 'config', loadedBytes: 0, totalBytes: undefined });
    const { spec, tokenizerJson, tokenizerConfig } = await Promise.race([fetchBundleFiles(baseUrl, fetchOptions), stopped]);
    const configMs = performance.now() - started;
    const request: WorkerLoadRequest = {
      spec,
      device,
      cache,
      ...(options.preprocessor ? { preprocessor: options.preprocessor } : {}),
      ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
      ...(options.unpackWeights !== undefined ? { unpackWeights: options.unpackWeights } : {}),
      assets: { wasmUrl: options.wasmUrl ?? defaultWasmUrl, ...(options.threads !== undefined ? { numThreads: options.threads } : {}) },
    };
    requests = { vision: request, language: { ...request, tokenizerJson, tokenizerConfig } };
    // Each worker's end is timed here: the page's clock, not the worker's.
    const timed = (load: Promise<WorkerLoadResult>) => load.then((result) => ({ result, doneMs: performance.now() - started }));
    const [visionLoad, languageLoad] = await Promise.race([
      Promise.all([timed(roles.vision.remote.load(requests.vision, progress)), timed(roles.language.remote.load(requests.language, progress))]),
      stopped,
    ]);
    const origin = performance.timeOrigin + started;
    const workerTimings = (load: { result: WorkerLoadResult; doneMs: number }): WorkerTimings => ({
      readyMs: load.result.timings.startedAt - origin,
      runtimeMs: load.result.timings.runtimeMs,
      doneMs: load.doneMs,
    });
    const modules = Object.fromEntries(
      [...visionLoad.result.modules, ...languageLoad.result.modules].map((m: ModuleReport) => [m.module, m]),
    ) as Record<ModuleName, ModuleReport>;
    report({ stage: 'ready', loadedBytes: 0, totalBytes: undefined });
    const { gpu, threads, preprocessor } = visionLoad.result;
    const loadTimings = { configMs, vision: workerTimings(visionLoad), language: workerTimings(languageLoad) };
    return new LoupeModel(
      { baseUrl, spec, modules, gpu, threads, preprocessor, loadMs: performance.now() - started, loadTimings, workers: supervisors.length === 1 ? 1 : 2 },
      roles,
      options.abortDeadlineMs ?? ABORT_DEADLINE_MS,
    );
  } catch (error) {
    const ended = asLoupeError(error, 'INTERNAL', 'Loading the model');
    for (const supervisor of supervisors) supervisor.end(ended);
    throw asLoupeError(error, 'INTERNAL', `Loading the bundle at ${joinUrl(baseUrl, '')}`);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
