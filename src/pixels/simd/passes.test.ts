import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planImage, type PlanOverrides } from '../../plan';
import { bundleSpec } from '../../testing/fixtures';
import { renderInput } from '../render-input';
import { RasterSource } from '../source';
import { compileWat, moduleSource } from './compile-wat.mjs';
import { simdPasses } from './passes';
import { coefficients } from '../pil-resample';

/** The SIMD kernels against the scalar reference loops (themselves checked against Pillow). */
function noise(width: number, height: number, seed: number): RasterSource {
  const data = new Uint8Array(width * height * 4);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    // Mostly smooth with hard edges, plus extremes: exercises rounding and both clamps.
    data[i] = (i & 3) === 3 ? 255 : (state & 7) === 0 ? (state & 8 ? 255 : 0) : ((i >> 2) % width) * 3 + ((state >>> 8) & 31);
  }
  return new RasterSource({ width, height, data }, [255, 255, 255]);
}

const config = bundleSpec().image.loupe;
const CASES: [number, number, PlanOverrides][] = [
  [997, 611, { strategy: 'convllava-square', resolution: 256 }],
  [300, 1200, { strategy: 'convllava-native', tokenBudget: 30 }],
  [131, 77, { strategy: 'convllava-square', resolution: 384 }], // enlarging
  [1500, 1000, { strategy: 'multicrop', maxCrops: 6, numTokens: 64 }],
  [1024, 700, { strategy: 'tiles', tileSize: 256, maxTiles: 4 }],
  [2000, 40, { strategy: 'convllava-native', tokenBudget: 16 }],
];

describe('wasm SIMD resampling', () => {
  it('is available in this engine', () => {
    const c = coefficients(10, 0, 10, 5, 'bicubic');
    expect(simdPasses({ canvasWidth: 10, rowWidth: 5, rows: 2, horizontal: c, vertical: c })?.kind).toBe('simd');
  });

  for (const [width, height, overrides] of CASES) {
    it(`gives the scalar loops' bytes: ${width}x${height} ${overrides.strategy}`, () => {
      const source = noise(width, height, width * 31 + height);
      const plan = planImage(width, height, config, overrides);
      for (const input of plan.inputs.filter((i) => i.derivedFrom === undefined)) {
        const simd = renderInput(source, input, 'auto');
        const scalar = renderInput(source, input, 'scalar');
        expect(simd.width).toBe(scalar.width);
        expect(Buffer.from(simd.rgb).equals(Buffer.from(scalar.rgb))).toBe(true);
      }
    });
  }

  it('is the committed build of resample.wat', async () => {
    const here = new URL('.', import.meta.url);
    const bytes = await compileWat(readFileSync(new URL('resample.wat', here), 'utf8'));
    expect(readFileSync(new URL('resample-wasm.ts', here), 'utf8')).toBe(moduleSource(bytes));
  });
});
