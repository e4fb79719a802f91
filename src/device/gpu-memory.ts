/**
 * GPU buffer bytes of this worker, live and peak. WebGPU has no query for memory use, so the
 * tally wraps GPUDevice.createBuffer and GPUBuffer.destroy once per worker, before any device
 * exists: every buffer onnxruntime (weights, activations, KV cache) or the preprocessing
 * passes create is counted until it is destroyed.
 */
export interface GpuBufferBytes {
  live: number;
  peak: number;
}

const tally: GpuBufferBytes = { live: 0, peak: 0 };
let installed = false;

export function trackGpuBuffers(): void {
  if (installed || typeof GPUDevice === 'undefined' || typeof GPUBuffer === 'undefined') return;
  installed = true;
  const sizes = new WeakMap<GPUBuffer, number>();
  const createBuffer = GPUDevice.prototype.createBuffer;
  GPUDevice.prototype.createBuffer = function (descriptor: GPUBufferDescriptor): GPUBuffer {
    const buffer = createBuffer.call(this, descriptor);
    sizes.set(buffer, descriptor.size);
    tally.live += descriptor.size;
    tally.peak = Math.max(tally.peak, tally.live);
    return buffer;
  };
  const destroy = GPUBuffer.prototype.destroy;
  GPUBuffer.prototype.destroy = function (this: GPUBuffer): undefined {
    const size = sizes.get(this);
    if (size !== undefined) {
      sizes.delete(this);
      tally.live -= size;
    }
    return destroy.call(this);
  };
}

export function gpuBufferBytes(): GpuBufferBytes {
  return { ...tally };
}
