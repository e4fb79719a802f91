/**
 * `npm run bench -- --scaling`: the seeds' linear-cost claim, measured in the browser.
 * The ConvLLaVA tower and a ViT of about the same parameter count (made by
 * training/make_scaling_graphs.py) encode square inputs of growing size; time per input
 * pixel stays flat for the ConvNeXt and grows with the pixels for the ViT (attention).
 */
import * as Comlink from 'comlink';
import type { ScalingPoint, ScalingWorkerApi } from './scaling.worker';

export interface ScalingOptions {
  base: string;
  runs: number;
  threads: number;
  budgetMs: number;
}

export const CONVNEXT_SIZES = [768, 1024, 1536, 2048, 2560, 3072];
/** Multiples of the ViT's patch (14) from its native 336 up. */
export const VIT_SIZES = [336, 504, 672, 840, 1008, 1176, 1344, 1512];

export async function runScaling(o: ScalingOptions): Promise<(ScalingPoint & { threads: number })[]> {
  const worker = new Worker(new URL('./scaling.worker.ts', import.meta.url), { type: 'module' });
  const api = Comlink.wrap<ScalingWorkerApi>(worker);
  try {
    const threads = await api.configure(o.threads);
    const points = [
      ...(await api.measure({ url: `${o.base}convnext.onnx`, graph: 'convnext', sizes: CONVNEXT_SIZES, runs: o.runs, budgetMs: o.budgetMs })),
      ...(await api.measure({ url: `${o.base}vit.onnx`, graph: 'vit', sizes: VIT_SIZES, runs: o.runs, budgetMs: o.budgetMs })),
    ];
    return points.map((p) => ({ ...p, threads }));
  } finally {
    worker.terminate();
  }
}
