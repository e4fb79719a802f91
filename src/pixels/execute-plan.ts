import type { ImageProcessorSpec } from '../bundle';
import type { PlannedInput } from '../plan';
import { resampleRgb, type Rgba8 } from './pil-resample';

/** Places the source rectangle on a filled canvas, as PIL's expand2square + paste does. */
function placeOnCanvas(src: Rgba8, input: PlannedInput): Rgba8 {
  const { canvas, placement, fill, source } = input;
  if (canvas.width === src.width && canvas.height === src.height && placement.x === 0 && placement.y === 0 && source.x === 0 && source.y === 0) {
    return src;
  }
  const data = new Uint8Array(canvas.width * canvas.height * 4);
  for (let i = 0; i < data.length; i += 4) {
    data[i] = fill[0];
    data[i + 1] = fill[1];
    data[i + 2] = fill[2];
    data[i + 3] = 255;
  }
  for (let y = 0; y < source.height; y++) {
    const from = ((source.y + y) * src.width + source.x) * 4;
    const to = ((placement.y + y) * canvas.width + placement.x) * 4;
    data.set(src.data.subarray(from, from + source.width * 4), to);
  }
  return { width: canvas.width, height: canvas.height, data };
}

/** Packed RGB bytes -> normalised NCHW float32, written at `offset` of `out`. */
export function normalizeToChw(rgb: Uint8Array, pixels: number, spec: ImageProcessorSpec, out: Float32Array, offset = 0): void {
  for (let c = 0; c < 3; c++) {
    const scale = spec.rescaleFactor / spec.std[c]!;
    const shift = spec.mean[c]! / spec.std[c]!;
    const base = offset + c * pixels;
    for (let i = 0; i < pixels; i++) out[base + i] = rgb[i * 3 + c]! * scale - shift;
  }
}

/** The 8-bit RGB the model's input is made of, before normalisation (parity is measured here). */
export function renderInputRgb(src: Rgba8, input: PlannedInput): Uint8Array {
  return resampleRgb(placeOnCanvas(src, input), input.width, input.height, input.filter);
}

/** Executes one planned input into a [1, 3, H, W] float32 tensor's data. */
export function renderInputTensor(src: Rgba8, input: PlannedInput, spec: ImageProcessorSpec): Float32Array {
  const rgb = renderInputRgb(src, input);
  const out = new Float32Array(3 * input.width * input.height);
  normalizeToChw(rgb, input.width * input.height, spec, out);
  return out;
}
