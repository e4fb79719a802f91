import type { PlannedInput } from '../../plan';
import { coefficients, identityCoefficients, type Coefficients } from '../pil-resample';
import { CanvasRows, outputFrame, type RenderedInput } from '../render-input';
import type { PixelSource } from '../source';
import { HORIZONTAL, VERTICAL } from './kernels';

const ROWS_PER_UPLOAD = 256;

/**
 * The same Pillow-exact resampling on a GPU (WebGPU compute): source rows go up a strip at a
 * time, the horizontal pass fills an intermediate buffer of output-width rows, the vertical
 * pass writes the output, which comes back packed. Byte-for-byte the CPU result.
 */
export class GpuRenderer {
  private constructor(
    private readonly device: GPUDevice,
    private readonly horizontal: GPUComputePipeline,
    private readonly vertical: GPUComputePipeline,
  ) {}

  static async create(adapter: GPUAdapter): Promise<GpuRenderer> {
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
    const pipeline = (code: string) =>
      device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
    return new GpuRenderer(device, pipeline(HORIZONTAL), pipeline(VERTICAL));
  }

  /** Whether the intermediate rows of this input fit one storage binding. */
  fits(input: PlannedInput): boolean {
    const bytes = input.canvas.height * input.width * 4;
    return bytes <= this.device.limits.maxStorageBufferBindingSize;
  }

  private buffer(data: ArrayBufferView, usage: number): GPUBuffer {
    const buffer = this.device.createBuffer({ size: Math.max(4, Math.ceil(data.byteLength / 4) * 4), usage: usage | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  private axis(c: Coefficients): GPUBuffer[] {
    const storage = GPUBufferUsage.STORAGE;
    return [this.buffer(c.starts, storage), this.buffer(c.counts, storage), this.buffer(c.weights, storage)];
  }

  async render(source: PixelSource, input: PlannedInput): Promise<RenderedInput> {
    const frame = outputFrame(input);
    const { rgb, window, x0, x1, y0, y1 } = frame;
    const cols = Math.max(x1 - x0, 0);
    const outRows = Math.max(y1 - y0, 0);
    if (cols === 0 || outRows === 0) return { rgb, width: frame.width, height: frame.height, workingBytes: 0 };

    const canvas = input.canvas;
    const horiz = input.width !== canvas.width ? coefficients(canvas.width, 0, canvas.width, input.width, input.filter) : identityCoefficients(input.width);
    const vert = input.height !== canvas.height ? coefficients(canvas.height, 0, canvas.height, input.height, input.filter) : identityCoefficients(input.height);
    const firstRow = vert.starts[y0]!;
    const lastRow = vert.starts[y1 - 1]! + vert.counts[y1 - 1]!;
    const midRows = lastRow - firstRow;

    const device = this.device;
    const storage = GPUBufferUsage.STORAGE;
    const owned: GPUBuffer[] = [];
    const track = (b: GPUBuffer) => (owned.push(b), b);
    const mid = track(device.createBuffer({ size: midRows * cols * 4, usage: storage }));
    const [hs, hc, hw] = this.axis(horiz).map(track) as [GPUBuffer, GPUBuffer, GPUBuffer];
    const [vs, vc, vw] = this.axis(vert).map(track) as [GPUBuffer, GPUBuffer, GPUBuffer];

    // Horizontal pass, a strip of canvas rows per upload.
    const rows = new CanvasRows(source, input);
    const chunk = new Uint8Array(canvas.width * 4 * Math.min(ROWS_PER_UPLOAD, midRows));
    const src = track(device.createBuffer({ size: chunk.byteLength, usage: storage | GPUBufferUsage.COPY_DST }));
    for (let row = firstRow; row < lastRow; row += ROWS_PER_UPLOAD) {
      const count = Math.min(ROWS_PER_UPLOAD, lastRow - row);
      for (let r = 0; r < count; r++) chunk.set(rows.load(row + r), r * canvas.width * 4);
      device.queue.writeBuffer(src, 0, chunk.buffer, 0, count * canvas.width * 4);
      const params = track(this.buffer(Uint32Array.of(canvas.width, count, cols, x0, horiz.ksize, row - firstRow), GPUBufferUsage.UNIFORM));
      const encoder = device.createCommandEncoder();
      this.dispatch(encoder, this.horizontal, [params, src, hs, hc, hw, mid], cols, count);
      device.queue.submit([encoder.finish()]);
      // The strip buffer is reused: wait until the GPU has read it.
      await device.queue.onSubmittedWorkDone();
    }

    // Vertical pass straight into a readable buffer.
    const dst = track(device.createBuffer({ size: outRows * cols * 4, usage: storage | GPUBufferUsage.COPY_SRC }));
    const read = track(device.createBuffer({ size: outRows * cols * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
    const params = track(this.buffer(Uint32Array.of(cols, outRows, y0, vert.ksize, firstRow, 0), GPUBufferUsage.UNIFORM));
    const encoder = device.createCommandEncoder();
    this.dispatch(encoder, this.vertical, [params, mid, vs, vc, vw, dst], cols, outRows);
    encoder.copyBufferToBuffer(dst, 0, read, 0, outRows * cols * 4);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const packed = new Uint32Array(read.getMappedRange().slice(0));
    read.unmap();
    for (const b of owned) b.destroy();

    for (let y = 0; y < outRows; y++) {
      const base = ((y + y0 - window.y) * frame.width + (x0 - window.x)) * 3;
      for (let x = 0; x < cols; x++) {
        const v = packed[y * cols + x]!;
        rgb[base + x * 3] = v & 255;
        rgb[base + x * 3 + 1] = (v >>> 8) & 255;
        rgb[base + x * 3 + 2] = (v >>> 16) & 255;
      }
    }
    return { rgb, width: frame.width, height: frame.height, workingBytes: rows.workingBytes + chunk.byteLength };
  }

  /** One compute pass: buffers bound in order, one invocation per output column x row. */
  private dispatch(encoder: GPUCommandEncoder, pipeline: GPUComputePipeline, buffers: GPUBuffer[], cols: number, rows: number): void {
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(
      0,
      this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) }),
    );
    pass.dispatchWorkgroups(Math.ceil(cols / 64), rows);
    pass.end();
  }

  destroy(): void {
    this.device.destroy();
  }
}
