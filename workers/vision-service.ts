import * as Comlink from 'comlink';
import { selectDtypes, type BundleSpec } from '../src/bundle';
import { chooseProvider, configureOrt, loadModuleSession, type ModuleReport } from '../src/device';
import type { ort } from '../src/device/ort';
import { abortError } from '../src/errors';
import { decodeImage, renderInputTensor } from '../src/pixels';
import { planImage } from '../src/plan';
import { encodePixels } from '../src/vision';
import { CancelRegistry, TaskQueue, requireLoaded } from './cancellation';
import { releaseCallback } from './release';
import type { EncodeRequest, EncodeResult, ProgressSink, VisionWorkerApi, WorkerLoadRequest, WorkerLoadResult } from './protocol';

/** Image -> plan -> pixels -> vision graph, inside the vision worker. */
export class VisionService implements VisionWorkerApi {
  private session: ort.InferenceSession | undefined;
  private spec: BundleSpec | undefined;
  private report: ModuleReport | undefined;
  private readonly cancels = new CancelRegistry();
  private readonly queue = new TaskQueue();

  async load(request: WorkerLoadRequest, onProgress: ProgressSink): Promise<WorkerLoadResult> {
    configureOrt(request.assets);
    const choice = await chooseProvider(request.device);
    const dtypes = selectDtypes({ provider: choice.provider, shaderF16: choice.gpu.shaderF16 }, request.spec.declaredDtypes, request.dtype);
    const created = await loadModuleSession({
      baseUrl: request.spec.baseUrl,
      module: 'vision_encoder',
      dtype: dtypes.vision_encoder,
      choice,
      numLayers: request.spec.text.numLayers,
      onProgress: (progress) => onProgress(progress),
    });
    if (choice.reason && created.report.provider === 'wasm' && !created.report.fallbackReason) created.report.fallbackReason = choice.reason;
    this.session = created.session;
    this.spec = request.spec;
    this.report = created.report;
    releaseCallback(onProgress);
    return { modules: [created.report], gpu: choice.gpu };
  }

  encode(request: EncodeRequest): Promise<EncodeResult> {
    const signal = this.cancels.begin(request.requestId);
    return this.queue
      .run(async () => {
        const session = requireLoaded(this.session, 'vision encoder');
        const spec = requireLoaded(this.spec, 'vision encoder');
        const t0 = performance.now();
        const image = await decodeImage(request.source, signal);
        const t1 = performance.now();
        if (signal.aborted) throw abortError('Setting the image');
        const plan = planImage(image.width, image.height, spec.image.loupe, request.overrides);
        const input = plan.inputs[0]!;
        const pixels = renderInputTensor(image, input, spec.image);
        const t2 = performance.now();
        if (signal.aborted) throw abortError('Setting the image');
        const encoded = await encodePixels(session, pixels, input.width, input.height);
        const t3 = performance.now();
        if (signal.aborted) throw abortError('Setting the image');
        const result = { ...encoded, plan, decodeMs: t1 - t0, preprocessMs: t2 - t1, encodeMs: t3 - t2 };
        return Comlink.transfer(result, [result.features.buffer]);
      })
      .finally(() => this.cancels.end(request.requestId));
  }

  cancel(requestId: number): void {
    this.cancels.cancel(requestId);
  }

  get moduleReport(): ModuleReport | undefined {
    return this.report;
  }

  async dispose(): Promise<void> {
    await this.session?.release();
    this.session = undefined;
  }
}
