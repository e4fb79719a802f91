/** What Loupe learned about the GPU, reported to the user as data. */
export interface GpuReport {
  available: boolean;
  /** Why WebGPU cannot be used, when it cannot. */
  reason?: string;
  adapter?: { vendor: string; architecture: string; description: string; isFallbackAdapter: boolean };
  shaderF16: boolean;
  limits?: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
  };
}

export interface GpuProbe {
  report: GpuReport;
  adapter: GPUAdapter | undefined;
}

/** Probes navigator.gpu and the adapter without creating a device. Never throws. */
export async function probeGpu(): Promise<GpuProbe> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    return { adapter: undefined, report: { available: false, shaderF16: false, reason: 'navigator.gpu is missing: this browser or context has no WebGPU.' } };
  }
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (error) {
    return { adapter: undefined, report: { available: false, shaderF16: false, reason: `requestAdapter() failed: ${String(error)}` } };
  }
  if (!adapter) {
    return { adapter: undefined, report: { available: false, shaderF16: false, reason: 'requestAdapter() returned null: no usable GPU adapter (blocklisted or disabled).' } };
  }
  const info = adapter.info;
  const legacyFallback = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    adapter,
    report: {
      available: true,
      shaderF16: adapter.features.has('shader-f16'),
      adapter: {
        vendor: info?.vendor ?? '',
        architecture: info?.architecture ?? '',
        description: info?.description ?? '',
        isFallbackAdapter: Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean })?.isFallbackAdapter ?? legacyFallback),
      },
      limits: {
        maxBufferSize: adapter.limits.maxBufferSize,
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      },
    },
  };
}
