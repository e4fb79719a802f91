/**
 * torch.nn.functional.interpolate(x, size, mode='bilinear', align_corners=False) without
 * antialias, on one NCHW image: what PIIP applies to the normalised high-resolution tensor
 * to make its low-resolution branch.
 */
/** Source taps for one output index: the lower index, the upper one (clamped), its weight. */
function sourceIndex(scale: number, dst: number, size: number): { i0: number; i1: number; l1: number } {
  const src = Math.max(scale * (dst + 0.5) - 0.5, 0);
  const i0 = Math.floor(src);
  return { i0, i1: i0 < size - 1 ? i0 + 1 : i0, l1: src - i0 };
}

export function bilinearResizeChw(input: Float32Array, channels: number, inH: number, inW: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(channels * outH * outW);
  const sy = inH / outH;
  const sx = inW / outW;
  const cols = Array.from({ length: outW }, (_, x) => sourceIndex(sx, x, inW));
  for (let y = 0; y < outH; y++) {
    const r = sourceIndex(sy, y, inH);
    const y1 = r.i1;
    const l0 = 1 - r.l1;
    for (let c = 0; c < channels; c++) {
      const plane = c * inH * inW;
      const top = plane + r.i0 * inW;
      const bottom = plane + y1 * inW;
      const o = c * outH * outW + y * outW;
      for (let x = 0; x < outW; x++) {
        const col = cols[x]!;
        const k0 = 1 - col.l1;
        out[o + x] =
          l0 * (k0 * input[top + col.i0]! + col.l1 * input[top + col.i1]!) + r.l1 * (k0 * input[bottom + col.i0]! + col.l1 * input[bottom + col.i1]!);
      }
    }
  }
  return out;
}
