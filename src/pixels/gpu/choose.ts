import { LoupeError } from '../../errors';
import { probeGpu } from '../../device/gpu-probe';
import { planImage } from '../../plan';
import { defaultImageConfig } from '../../bundle/image-config';
import { renderInput } from '../render-input';
import { RasterSource } from '../source';
import { GpuRenderer } from './gpu-renderer';

export type PreprocessorRequest = 'auto' | 'cpu' | 'gpu';

/** Which path turns images into tensors, and the measurement behind the choice. */
export interface PreprocessorReport {
  path: 'cpu' | 'gpu';
  reason: string;
  cpuMs?: number;
  gpuMs?: number;
}

const CALIBRATION = { width: 2048, height: 1536, resolution: 768 };

/** Renders the same synthetic image both ways once, for an honest choice on this device. */
async function calibrate(renderer: GpuRenderer): Promise<{ cpuMs: number; gpuMs: number }> {
  const { width, height, resolution } = CALIBRATION;
  const data = new Uint8Array(width * height * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 2654435761) >>> 24));
  const source = new RasterSource({ width, height, data }, [0, 0, 0]);
  const config = { ...defaultImageConfig(resolution, 64), padColor: [0, 0, 0] as [number, number, number] };
  const input = planImage(width, height, config).inputs[0]!;
  await renderer.render(source, input); // compiles the pipelines
  let started = performance.now();
  await renderer.render(source, input);
  const gpuMs = performance.now() - started;
  started = performance.now();
  renderInput(source, input);
  return { gpuMs, cpuMs: performance.now() - started };
}

/**
 * Picks the preprocessing path. `gpu` insists on WebGPU; `auto` uses it only where it
 * measurably beats the CPU path on this device (a software adapter such as SwiftShader
 * never does, so it is not even tried). Both paths give identical bytes.
 */
export async function choosePreprocessor(request: PreprocessorRequest): Promise<{ renderer?: GpuRenderer; report: PreprocessorReport }> {
  if (request === 'cpu') return { report: { path: 'cpu', reason: 'requested' } };
  // Probed on its own: the encoder may run on wasm while preprocessing uses the GPU.
  const { report: gpu, adapter } = await probeGpu();
  if (!adapter) {
    if (request === 'gpu') {
      throw new LoupeError('PROVIDER_UNAVAILABLE', `GPU preprocessing was requested but WebGPU has no adapter (${gpu.reason ?? 'unavailable'}). Use preprocessor "auto" or "cpu".`);
    }
    return { report: { path: 'cpu', reason: 'no WebGPU adapter' } };
  }
  const software = gpu.adapter?.isFallbackAdapter || /swiftshader/i.test(`${gpu.adapter?.architecture} ${gpu.adapter?.description}`);
  if (request === 'auto' && software) return { report: { path: 'cpu', reason: 'software GPU adapter: the CPU path is faster' } };
  const renderer = await GpuRenderer.create(adapter);
  if (request === 'gpu') return { renderer, report: { path: 'gpu', reason: 'requested' } };
  const timing = await calibrate(renderer);
  if (timing.gpuMs < timing.cpuMs) return { renderer, report: { path: 'gpu', reason: 'faster on this device', ...timing } };
  renderer.destroy();
  return { report: { path: 'cpu', reason: 'faster on this device', ...timing } };
}
