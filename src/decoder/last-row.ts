import { ort } from '../device/ort';
import { asFloat32 } from '../embeddings/float16';

/**
 * The last row of a [1, rows, vocab] logits tensor, as float32. On WebGPU the logits stay
 * on the GPU and only that row crosses to the CPU: a prefill over S tokens would otherwise
 * read back S x vocab floats (176 MB for a 300-token prompt with Qwen2's 151936 words) to
 * use one row of them.
 */
export async function lastRow(logits: ort.Tensor, vocab: number): Promise<{ row: Float32Array; readBytes: number }> {
  const rows = logits.dims[1] ?? 1;
  if (logits.location !== 'gpu-buffer') {
    const all = asFloat32(await logits.getData());
    return { row: all.slice((rows - 1) * vocab, rows * vocab), readBytes: rows * vocab * (logits.type === 'float16' ? 2 : 4) };
  }
  const bytesPer = logits.type === 'float16' ? 2 : 4;
  const start = (rows - 1) * vocab * bytesPer;
  const end = start + vocab * bytesPer;
  // copyBufferToBuffer moves whole 4-byte words.
  const from = start - (start % 4);
  const to = Math.min(Math.ceil(end / 4) * 4, logits.gpuBuffer.size);
  const device = await ort.env.webgpu.device;
  const staging = device.createBuffer({ size: to - from, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(logits.gpuBuffer, from, staging, 0, to - from);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const bytes = staging.getMappedRange().slice(start - from, end - from);
    staging.unmap();
    return { row: bytesPer === 2 ? asFloat32(new Uint16Array(bytes)) : new Float32Array(bytes), readBytes: to - from };
  } finally {
    staging.destroy();
  }
}
