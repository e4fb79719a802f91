import { describe, expect, it } from 'vitest';
import { planImage } from '../plan';
import { FIXTURE_DIR, bundleSpec, decodePng, golden, readBytes, readF32 } from '../testing/fixtures';
import { coefficients } from './pil-resample';
import { renderInput } from './render-input';
import { renderPlan } from './execute-plan';
import { RasterSource } from './source';

/** Golden pixel_values back in 0..255 units, where the parity bar is stated. */
function goldenRgb(spec: ReturnType<typeof bundleSpec>, pixels: Float32Array, size: number): Float32Array {
  const out = new Float32Array(size * size * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < size * size; i++) {
      out[i * 3 + c] = (pixels[c * size * size + i]! * spec.image.std[c]! + spec.image.mean[c]!) / spec.image.rescaleFactor;
    }
  }
  return out;
}

describe('PIL-exact resampling', () => {
  it('matches the Python reference preprocessing of the tiny bundle (pad to square + bicubic 128)', () => {
    const spec = bundleSpec();
    const g = golden();
    const image = decodePng(readBytes(`${FIXTURE_DIR}image.png`));
    const plan = planImage(image.width, image.height, spec.image.loupe);
    const pixels = renderPlan(new RasterSource(image, plan.alphaFill), plan, spec.image);
    const rgb = pixels.rgb[0]!;
    const reference = goldenRgb(spec, readF32(`${FIXTURE_DIR}pixel_values.f32`), g.resolution);
    let max = 0;
    for (let i = 0; i < rgb.length; i++) max = Math.max(max, Math.abs(rgb[i]! - reference[i]!));
    expect(max).toBeLessThan(0.01); // bit-exact: the bar (mean <= 0.5, max <= 3) is far off
    const tensor = pixels.tensors[0]!;
    const golden32 = readF32(`${FIXTURE_DIR}pixel_values.f32`);
    let tensorMax = 0;
    for (let i = 0; i < tensor.length; i++) tensorMax = Math.max(tensorMax, Math.abs(tensor[i]! - golden32[i]!));
    expect(tensorMax).toBeLessThan(1e-5);
  });

  it('normalises filter weights to one fixed-point unit per output sample', () => {
    for (const [inSize, outSize] of [[200, 128], [128, 200], [1000, 7]] as const) {
      const c = coefficients(inSize, 0, inSize, outSize, 'bicubic');
      for (let i = 0; i < outSize; i++) {
        let total = 0;
        for (let k = 0; k < c.counts[i]!; k++) total += c.weights[i * c.ksize + k]!;
        expect(Math.abs(total - 2 ** 22)).toBeLessThanOrEqual(c.counts[i]!);
      }
    }
  });

  it('keeps a flat colour flat at any scale, and a window of a resize equals the same part of the whole', () => {
    const data = new Uint8Array(37 * 23 * 4).map((_, i) => (i % 4 === 3 ? 255 : 200));
    const flat = { role: 'image' as const, source: { x: 0, y: 0, width: 37, height: 23 }, canvas: { width: 37, height: 23 }, placement: { x: 0, y: 0 }, fill: [0, 0, 0] as [number, number, number], width: 64, height: 11, filter: 'bicubic' as const, tokens: 0 };
    expect(new Set(renderInput(new RasterSource({ width: 37, height: 23, data }, [0, 0, 0]), flat).rgb)).toEqual(new Set([200]));
    const noise = new Uint8Array(50 * 40 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 7919) % 251));
    const source = new RasterSource({ width: 50, height: 40, data: noise }, [0, 0, 0]);
    const whole = renderInput(source, { ...flat, source: { x: 0, y: 0, width: 50, height: 40 }, canvas: { width: 50, height: 40 }, width: 31, height: 77 });
    const part = renderInput(source, { ...flat, source: { x: 0, y: 0, width: 50, height: 40 }, canvas: { width: 50, height: 40 }, width: 31, height: 77, window: { x: 5, y: 20, width: 10, height: 30 } });
    for (let y = 0; y < 30; y++) {
      expect(Array.from(part.rgb.subarray(y * 30, y * 30 + 30))).toEqual(Array.from(whole.rgb.subarray(((y + 20) * 31 + 5) * 3, ((y + 20) * 31 + 15) * 3)));
    }
  });
});
