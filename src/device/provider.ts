import { LoupeError } from '../errors';
import type { Provider } from '../bundle';
import { probeGpu, type GpuReport } from './gpu-probe';
import { ort } from './ort';
import type { DeviceRequest } from './session';

export interface ProviderChoice {
  device: DeviceRequest;
  provider: Provider;
  gpu: GpuReport;
  /** Why `auto` did not pick WebGPU, when it did not. */
  reason?: string;
}

export interface RuntimeAssets {
  /** URL of onnxruntime-web's `ort-wasm-simd-threaded.asyncify.wasm`; never a CDN by default. */
  wasmUrl?: string;
  /** wasm threads; more than one needs a cross-origin isolated page. */
  numThreads?: number;
}

let configured = false;

/** Points onnxruntime-web at local assets. Must run before the first session is created. */
export function configureOrt(assets: RuntimeAssets): void {
  if (configured) return;
  configured = true;
  if (assets.wasmUrl) ort.env.wasm.wasmPaths = { wasm: assets.wasmUrl };
  ort.env.wasm.numThreads = assets.numThreads ?? 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
}

/** Decides the provider from the user's request and what the GPU probe found. */
export async function chooseProvider(device: DeviceRequest): Promise<ProviderChoice> {
  if (device === 'wasm') {
    return { device, provider: 'wasm', gpu: { available: false, shaderF16: false, reason: 'not probed: device "wasm" was requested' } };
  }
  const { report, adapter } = await probeGpu();
  if (report.available && adapter) {
    ort.env.webgpu.adapter = adapter;
    return { device, provider: 'webgpu', gpu: report };
  }
  if (device === 'webgpu') {
    throw new LoupeError(
      'PROVIDER_UNAVAILABLE',
      `WebGPU was requested but cannot be used: ${report.reason ?? 'unknown reason'}. Use device "auto" or "wasm", or enable WebGPU in this browser.`,
      { details: { gpu: report } },
    );
  }
  return { device, provider: 'wasm', gpu: report, reason: report.reason ?? 'WebGPU unavailable' };
}
