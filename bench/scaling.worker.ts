/**
 * Encode time against input size for two vision graphs of about the same size (the
 * ConvLLaVA tower and a ViT), in a worker as Loupe runs its vision graph: onnxruntime-web,
 * wasm, the page's thread count. Driven by bench/scaling.ts.
 */
import * as Comlink from 'comlink';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { ort } from '../src/device/ort';

export interface ScalingPoint {
  graph: string;
  size: number;
  tokens: number;
  runs: number;
  min: number;
  median: number;
  max: number;
  error?: string;
}

export interface ScalingRequest {
  url: string;
  graph: string;
  sizes: number[];
  runs: number;
  /** Stop after a size whose median took longer than this (the next would take longer still). */
  budgetMs: number;
}

const api = {
  async configure(threads: number): Promise<number> {
    ort.env.wasm.wasmPaths = { wasm: new URL(ortWasmUrl, location.href).href };
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.proxy = false;
    return threads;
  },

  async measure(request: ScalingRequest): Promise<ScalingPoint[]> {
    const session = await ort.InferenceSession.create(request.url, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const points: ScalingPoint[] = [];
    try {
      // Thread pool and kernels warm up on the smallest size first.
      const first = request.sizes[0]!;
      const warm = await session.run({ pixel_values: new ort.Tensor('float32', new Float32Array(3 * first * first), [1, 3, first, first]) });
      warm.features?.dispose();
      for (const size of request.sizes) {
        const input = new ort.Tensor('float32', new Float32Array(3 * size * size), [1, 3, size, size]);
        const samples: number[] = [];
        let tokens = 0;
        try {
          for (let i = 0; i <= request.runs; i++) {
            const started = performance.now();
            const out = await session.run({ pixel_values: input });
            const ms = performance.now() - started;
            const features = out.features!;
            tokens = features.dims[1] ?? 0;
            features.dispose();
            // The first run at each size plans memory for that shape: a warm-up.
            if (i > 0) samples.push(ms);
          }
        } catch (error) {
          points.push({ graph: request.graph, size, tokens: 0, runs: 0, min: NaN, median: NaN, max: NaN, error: String((error as Error).message ?? error).slice(0, 200) });
          break;
        }
        samples.sort((a, b) => a - b);
        const median = samples[Math.floor(samples.length / 2)]!;
        points.push({ graph: request.graph, size, tokens, runs: samples.length, min: samples[0]!, median, max: samples[samples.length - 1]! });
        if (median > request.budgetMs) break;
      }
    } finally {
      await session.release();
    }
    return points;
  },
};

export type ScalingWorkerApi = typeof api;
Comlink.expose(api);
