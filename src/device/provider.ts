import { LoupeError } from '../errors';
import type { Provider } from '../bundle';
import { probeGpu, type GpuReport } from './gpu-probe';
import { trackGpuBuffers } from './gpu-memory';
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
  /**
   * wasm threads. Default: up to 4 on a cross-origin isolated page (COOP/COEP, which
   * SharedArrayBuffer needs), else 1. Without isolation any request runs on 1 thread, and
   * the ThreadReport says why.
   */
  numThreads?: number;
}

/** How many wasm threads this context can use, and why not more. */
export interface ThreadReport {
  threads: number;
  crossOriginIsolated: boolean;
  reason?: string;
}

let configured: ThreadReport | undefined;

/** Threads for this context: the request if isolation allows it, else 1 with the reason. */
export function wasmThreads(requested: number | undefined, isolated: boolean, cores: number): ThreadReport {
  if (!isolated) {
    const reason = 'the page is not cross-origin isolated (serve it with COOP: same-origin and COEP: require-corp), so wasm runs on one thread';
    return requested !== undefined && requested <= 1 ? { threads: 1, crossOriginIsolated: false } : { threads: 1, crossOriginIsolated: false, reason };
  }
  if (requested !== undefined) return { threads: Math.max(1, Math.floor(requested)), crossOriginIsolated: true };
  return { threads: Math.max(1, Math.min(4, cores)), crossOriginIsolated: true };
}

/** Points onnxruntime-web at local assets. Must run before the first session is created. */
export function configureOrt(assets: RuntimeAssets): ThreadReport {
  if (configured) return configured;
  const scope = globalThis as { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } };
  configured = wasmThreads(assets.numThreads, scope.crossOriginIsolated === true, scope.navigator?.hardwareConcurrency ?? 1);
  if (assets.wasmUrl) ort.env.wasm.wasmPaths = { wasm: assets.wasmUrl };
  ort.env.wasm.numThreads = configured.threads;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  return configured;
}

/** Decides the provider from the user's request and what the GPU probe found. */
export async function chooseProvider(device: DeviceRequest): Promise<ProviderChoice> {
  // Before any GPU device exists (onnxruntime's or the preprocessing passes').
  trackGpuBuffers();
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
