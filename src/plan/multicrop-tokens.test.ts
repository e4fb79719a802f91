import { describe, expect, it } from 'vitest';
import { defaultImageConfig, type LoupeImageConfig, type TokenExtent } from '../bundle/image-config';
import { ROOT, readJson } from '../testing/fixtures';
import { planImage } from './index';
import { tokenBoxes } from './token-boxes';

/**
 * The kept tokens of an MC-LLaVA plan at Loupe-Synth-MC's geometry (336 px crops, patch 14,
 * patch 0 dropped), against training/vlm/multicrop.py, with each token standing for its patch
 * (MC-LLaVA's release) and with the last row standing for its columns (Loupe-Synth-MC): the
 * rectangles the training targets were computed from must be the ones the runtime's overlay,
 * evidence and zoom use.
 */
interface Golden {
  crop_size: number;
  patch: number;
  tokens_per_input: number;
  cases: { token_extent: TokenExtent; width: number; height: number; max_crops: number; num_tokens: number; boxes: number[][]; coords: number[][]; keep: number[]; tokens: Record<string, number[]> }[];
}

const g = readJson<Golden>(`${ROOT}e2e/fixtures/multicrop-tokens.json`);
const configFor = (tokenExtent: TokenExtent): LoupeImageConfig => ({
  ...defaultImageConfig(g.crop_size, g.patch), strategy: 'multicrop', cropSize: g.crop_size, extraTokens: -1, fixedSize: true, tokenExtent,
});

describe('MC-LLaVA kept tokens against the Python reference (multicrop-tokens.json)', () => {
  it.each(g.cases.map((c) => [`${c.token_extent}: ${c.width}x${c.height} max_crops ${c.max_crops} num_tokens ${c.num_tokens}`, c] as const))('%s', (_, c) => {
    const plan = planImage(c.width, c.height, configFor(c.token_extent), { strategy: 'multicrop', maxCrops: c.max_crops, numTokens: c.num_tokens });
    expect(plan.inputs.map((i) => [i.source.x, i.source.y, i.source.x + i.source.width, i.source.y + i.source.height])).toEqual(c.boxes);
    plan.inputs.forEach((input, i) => {
      expect(input.coord![0]).toBeCloseTo(c.coords[i]![0]!, 12);
      expect(input.coord![1]).toBeCloseTo(c.coords[i]![1]!, 12);
    });
    expect(plan.recipe.keepLast).toEqual(c.keep);
    const boxes = tokenBoxes(plan, g.patch);
    expect(boxes).toHaveLength(c.keep.reduce((a, b) => a + b, 0));
    for (const [k, [x0, y0, x1, y1]] of Object.entries(c.tokens) as [string, number[]][]) {
      const b = boxes[Number(k)]!;
      expect([b.x, b.y, b.x + b.width, b.y + b.height].map((v, j) => Math.abs(v - [x0!, y0!, x1!, y1!][j]!))).toSatisfy((d: number[]) => d.every((v) => v < 1e-3));
    }
  });
});
