import * as Comlink from 'comlink';
import { selectDtypes, type BundleSpec } from '../src/bundle';
import { chooseProvider, configureOrt, startRuntime, gpuBufferBytes, loadModuleSession, type GpuBufferBytes, type GpuReport } from '../src/device';
import type { ort } from '../src/device/ort';
import { LoupeError, abortError } from '../src/errors';
import { choosePreprocessor, decodeImage, fetchImageSource, renderInput, renderPlan, renderPlanWith, type DecodedImage, type GpuRenderer, type PlanPixels } from '../src/pixels';
import { outputSize, planImage, type ImagePlan } from '../src/plan';
import { encodePlan } from '../src/vision';
import { CancelRegistry, TaskQueue, requireLoaded } from './cancellation';
import { DeviceWatch } from './device-watch';
import { releaseCallback } from './release';
import type { EncodeRequest, EncodeResult, ProgressSink, RenderResult, VisionWorkerApi, WorkerLoadRequest, WorkerLoadResult } from './protocol';

interface Decoded {
  image: DecodedImage;
  decodeMs: number;
}

/**
 * What a chat keeps for its zoomed passes: a file's encoded bytes (decoded again by each
 * closer look: a 24 MP photo is a few MB as JPEG, 96 MB as a bitmap held for the whole
 * chat), or a source the page gave already decoded (an ImageBitmap or ImageData).
 */
type Kept = { blob: Blob } | { decoded: DecodedImage };

interface Prepared {
  plan: ImagePlan;
  pixels: PlanPixels;
  decodeMs: number;
  preprocessMs: number;
}

/** Image -> plan -> pixels -> vision graph, inside the vision worker. */
export class VisionService implements VisionWorkerApi {
  private session: ort.InferenceSession | undefined;
  private spec: BundleSpec | undefined;
  private gpu: GpuReport | undefined;
  /** Each chat's image for zoomed passes (`keepFor`), until replaced or forgotten. */
  private readonly kept = new Map<number, Kept>();
  private provider: 'webgpu' | 'wasm' = 'wasm';
  private renderer: GpuRenderer | undefined;
  private readonly cancels = new CancelRegistry();
  private readonly queue = new TaskQueue();
  private readonly device = new DeviceWatch();

  async load(request: WorkerLoadRequest, onProgress: ProgressSink): Promise<WorkerLoadResult> {
    const startedAt = performance.timeOrigin + performance.now();
    const threads = configureOrt(request.assets);
    // The runtime starts while the graphs download; a failure surfaces where a session awaits it.
    const runtime = startRuntime();
    runtime.catch(() => undefined);
    const choice = await chooseProvider(request.device);
    const dtypes = selectDtypes({ provider: choice.provider, shaderF16: choice.gpu.shaderF16 }, request.spec.declaredDtypes, request.dtype);
    const created = await loadModuleSession({
      baseUrl: request.spec.baseUrl,
      module: 'vision_encoder',
      dtype: dtypes.vision_encoder,
      choice,
      cache: request.cache,
      numLayers: request.spec.text.numLayers,
      text: request.spec.text,
      externalData: request.spec.externalData,
      onProgress: (progress) => onProgress(progress),
    });
    if (choice.reason && created.report.provider === 'wasm' && !created.report.fallbackReason) created.report.fallbackReason = choice.reason;
    this.session = created.session;
    this.spec = request.spec;
    this.gpu = choice.gpu;
    this.provider = created.report.provider;
    if (this.provider === 'webgpu') await this.device.watch();
    const preprocessor = await choosePreprocessor(request.preprocessor ?? 'auto');
    this.renderer = preprocessor.renderer;
    releaseCallback(onProgress);
    return { modules: [created.report], gpu: choice.gpu, threads, preprocessor: preprocessor.report, timings: { startedAt, runtimeMs: await runtime } };
  }

  /** Plan (with this device's limits) and render a decoded image: everything before the graph. */
  private async prepare(request: EncodeRequest, decoded: Decoded, signal: AbortSignal): Promise<Prepared> {
    const spec = requireLoaded(this.spec, 'vision encoder');
    const { image } = decoded;
    const t1 = performance.now();
    if (signal.aborted) throw abortError('Setting the image');
    const gpuLimits = this.provider === 'webgpu' ? this.gpu?.limits : undefined;
    const limits = gpuLimits ? { maxStorageBufferBindingSize: gpuLimits.maxStorageBufferBindingSize, maxBufferSize: gpuLimits.maxBufferSize } : undefined;
    const plan = planImage(image.width, image.height, { config: spec.image.loupe, vision: spec.vision, ...(limits ? { limits } : {}) }, request.overrides);
    const source = image.open(plan.alphaFill);
    const gpu = this.renderer;
    const pixels = gpu
      ? await renderPlanWith((src, input) => (gpu.fits(input) ? gpu.render(src, input) : renderInput(src, input)), source, plan, spec.image, signal)
      : renderPlan(source, plan, spec.image, signal);
    return { plan, pixels, decodeMs: decoded.decodeMs, preprocessMs: performance.now() - t1 };
  }

  /**
   * Fetching and decoding run outside the queue, so one image URL that never answers (or a
   * large file) holds up no other chat; planning, rendering and the graph run one at a time.
   */
  private task<T>(request: EncodeRequest, work: (decoded: Decoded, signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = this.cancels.begin(request.requestId);
    const run = async () => {
      const t0 = performance.now();
      const { image, reused, keep } = await this.open(request, signal);
      let done = false;
      try {
        const result = await this.queue.run(() => work({ image, decodeMs: performance.now() - t0 }, signal));
        done = true;
        return result;
      } finally {
        const held = done ? keep : undefined;
        if (held) this.keep(request.keepFor!, held);
        // Closed unless it is the chat's: reused, or kept now as the page's own bitmap.
        if (!reused && !(held && 'decoded' in held)) image.close();
      }
    };
    return run().finally(() => this.cancels.end(request.requestId));
  }

  /**
   * The request's image, decoded: a new source (a URL fetched first), with what `keepFor`
   * keeps of it, or the chat's kept one (its bytes decoded again, or the page's own bitmap).
   */
  private async open(request: EncodeRequest, signal: AbortSignal): Promise<{ image: DecodedImage; reused: boolean; keep?: Kept }> {
    const { source } = request;
    if (typeof source === 'object' && 'keptFor' in source) {
      const held = this.keptImage(source.keptFor);
      return 'decoded' in held ? { image: held.decoded, reused: true } : { image: await decodeImage(held.blob, signal), reused: false };
    }
    const fetched = await fetchImageSource(source, signal);
    const image = await decodeImage(fetched, signal);
    if (request.keepFor === undefined) return { image, reused: false };
    return { image, reused: false, keep: fetched instanceof Blob ? { blob: fetched } : { decoded: image } };
  }

  encode(request: EncodeRequest): Promise<EncodeResult> {
    return this.task(request, async (decoded, signal) => {
      const session = requireLoaded(this.session, 'vision encoder');
      const prepared = await this.prepare(request, decoded, signal);
      const started = performance.now();
      const encoded = await encodePlan(session, prepared.plan, prepared.pixels.tensors);
      if (signal.aborted) throw abortError('Setting the image');
      const result: EncodeResult = {
        ...encoded,
        plan: prepared.plan,
        decodeMs: prepared.decodeMs,
        preprocessMs: prepared.preprocessMs,
        encodeMs: performance.now() - started,
        workingBytes: prepared.pixels.workingBytes,
      };
      return Comlink.transfer(result, [result.features.buffer]);
    });
  }

  render(request: EncodeRequest): Promise<RenderResult> {
    return this.task(request, async (decoded, signal) => {
      const prepared = await this.prepare(request, decoded, signal);
      const inputs = prepared.plan.inputs.map((input, i) => {
        const rgb = prepared.pixels.rgb[i];
        return rgb ? { rgb, ...outputSize(input) } : null;
      });
      const result: RenderResult = {
        plan: prepared.plan,
        inputs,
        workingBytes: prepared.pixels.workingBytes,
        decodeMs: prepared.decodeMs,
        preprocessMs: prepared.preprocessMs,
      };
      return Comlink.transfer(result, inputs.flatMap((x) => (x ? [x.rgb.buffer] : [])));
    });
  }

  private keptImage(chatId: number): Kept {
    const image = this.kept.get(chatId);
    if (!image) {
      throw new LoupeError('IMAGE_REQUIRED', "This chat's image is no longer held by the vision worker (it restarted, or the chat was reset): set the image again.");
    }
    return image;
  }

  private keep(chatId: number, image: Kept): void {
    this.forget(chatId);
    this.kept.set(chatId, image);
  }

  forget(chatId: number): void {
    const before = this.kept.get(chatId);
    if (before && 'decoded' in before) before.decoded.close();
    this.kept.delete(chatId);
  }

  cancel(requestId: number): void {
    this.cancels.cancel(requestId);
  }

  gpuBytes(): GpuBufferBytes {
    return gpuBufferBytes();
  }

  async loseGpuDevice(): Promise<boolean> {
    return this.device.lose();
  }

  async dispose(): Promise<void> {
    for (const chatId of [...this.kept.keys()]) this.forget(chatId);
    this.device.release();
    await this.session?.release();
    this.session = undefined;
    this.renderer?.destroy();
    this.renderer = undefined;
  }
}
