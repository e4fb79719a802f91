import { describe, expect, it } from 'vitest';
import { bundleSpec } from '../testing/fixtures';
import { bestGrid, cropGrid, nativeGrid, outputSize, planImage, planOverlay, tokenSplit } from '.';

const config = { ...bundleSpec().image.loupe, resolution: 1536, tokenBudget: 576 };

describe('multicrop (MC-LLaVA)', () => {
  it('reproduces the worked example: 2246x1582, max_crops 100 -> 10x7 crops of 384, 71 images, 10 tokens each, 28 last', () => {
    expect(cropGrid(2246, 1582, 100, 384)).toEqual({ cropSize: 384, stride: 192, xSteps: 10, ySteps: 7 });
    const plan = planImage(2246, 1582, config, { strategy: 'multicrop', maxCrops: 100, numTokens: 728 });
    expect(plan.inputs).toHaveLength(71);
    expect(plan.inputs.slice(0, 70).every((i) => i.tokens === 10)).toBe(true);
    expect(plan.inputs[70]!.tokens).toBe(28);
    expect(plan.totalTokens).toBe(728);
    expect(plan.inputs[0]).toMatchObject({ role: 'global', coord: [0.5, 0.5], source: { x: 0, y: 0, width: 2246, height: 1582 }, width: 384, height: 384 });
    // x outer, y inner; the last crop in each axis is widened to the edge, not shifted.
    expect(plan.inputs[1]!.source).toEqual({ x: 0, y: 0, width: 384, height: 384 });
    expect(plan.inputs[2]!.source).toEqual({ x: 0, y: 192, width: 384, height: 384 });
    expect(plan.inputs[7]!.source).toEqual({ x: 0, y: 1152, width: 384, height: 1582 - 1152 });
    expect(plan.inputs[8]!.source).toEqual({ x: 192, y: 0, width: 384, height: 384 });
    expect(plan.inputs[70]!.source).toEqual({ x: 1728, y: 1152, width: 2246 - 1728, height: 1582 - 1152 });
    expect(plan.inputs[70]!.coord).toEqual([(1728 + 2246) / 2 / 2246, (1152 + 1582) / 2 / 1582]);
  });

  it('grows the crop by 10 px until the grid fits, and keeps small images whole', () => {
    const grid = cropGrid(2246, 1582, 20, 384)!;
    expect((grid.xSteps) * (grid.ySteps)).toBeLessThanOrEqual(20);
    expect((grid.cropSize - 384) % 10).toBe(0);
    expect(cropGrid(576, 576, 100, 384)).toBeUndefined();
    expect(cropGrid(2000, 2000, 0, 384)).toBeUndefined();
    expect(planImage(500, 400, config, { strategy: 'multicrop' }).inputs).toHaveLength(1);
    expect(tokenSplit(728, 71)).toEqual([...new Array(70).fill(10), 28]);
  });
});

describe('convllava-native', () => {
  it('fills the budget on a 4:3 photo and keeps the aspect ratio within 10 %', () => {
    const { cols, rows } = nativeGrid(4000, 3000, 64, 576);
    expect(cols * rows).toBeGreaterThanOrEqual(560);
    expect(cols * rows).toBeLessThanOrEqual(576);
    expect(Math.abs(Math.log(cols / rows / (4 / 3)))).toBeLessThan(Math.log(1.1));
  });

  it('never upscales past one token per stride cell, and copes with 1x20000 strips', () => {
    // At most one stride cell per started 64 px of image: 200x150 -> 4x3 cells, not 27x20.
    expect(nativeGrid(200, 150, 64, 576)).toEqual({ cols: 4, rows: 3 });
    const strip = planImage(1, 20000, config, { strategy: 'convllava-native' });
    expect(strip.inputs[0]).toMatchObject({ width: 64 });
    expect(strip.totalTokens).toBeLessThanOrEqual(576);
    expect(strip.notes[0]).toMatch(/budget tokens used/);
  });
});

describe('pyramid (PIIP)', () => {
  it('plans one padded high-resolution input and a low branch derived from it', () => {
    const plan = planImage(1200, 800, config, { strategy: 'pyramid', resolution: 1024, lowResolution: 448 });
    expect(plan.inputs).toHaveLength(2);
    expect(plan.inputs[0]).toMatchObject({ role: 'high', width: 1024, height: 1024, fill: [123, 116, 103], placement: { x: 0, y: 200 }, filter: 'bicubic' });
    expect(plan.inputs[1]).toMatchObject({ role: 'low', width: 448, height: 448, derivedFrom: 0, filter: 'bilinear', tokens: 0 });
    expect(plan.totalTokens).toBe(256);
  });
});

describe('tiles (LLaVA-NeXT style)', () => {
  it('picks the grid that keeps the most image pixels, then wastes the least', () => {
    expect(bestGrid(1000, 500, 336, 4)).toEqual({ cols: 2, rows: 1 });
    expect(bestGrid(500, 1000, 336, 4)).toEqual({ cols: 1, rows: 2 });
    expect(bestGrid(1000, 1000, 336, 4)).toEqual({ cols: 2, rows: 2 });
  });

  it('puts the thumbnail first and windows each tile out of the padded grid', () => {
    const plan = planImage(1000, 500, config, { strategy: 'tiles', tileSize: 384, maxTiles: 4 });
    expect(plan.inputs.map((i) => i.role)).toEqual(['thumbnail', 'tile', 'tile']);
    expect(plan.inputs.every((i) => outputSize(i).width === 384 && outputSize(i).height === 384)).toBe(true);
    expect(plan.inputs[1]).toMatchObject({ width: 768, height: 384, window: { x: 0, y: 0 } });
    expect(plan.inputs[2]!.window).toMatchObject({ x: 384, y: 0 });
    expect(plan.totalTokens).toBe(3 * 36);
  });
});

describe('device limits', () => {
  it('steps the resolution down when the largest activation exceeds the GPU binding limit, and says why', () => {
    const vision = { firstStageWidth: 192, patchSize: 4 };
    const roomy = planImage(3000, 2000, { config, vision, limits: { maxStorageBufferBindingSize: 2 ** 31 } });
    expect(roomy.totalTokens).toBe(576);
    const tight = planImage(3000, 2000, { config, vision, limits: { maxStorageBufferBindingSize: 128 * 2 ** 20 } });
    expect(tight.totalTokens).toBeLessThan(576);
    const side = tight.inputs[0]!.width;
    expect(192 * 4 * (side / 4) ** 2 * 4).toBeLessThanOrEqual(128 * 2 ** 20);
    expect(tight.notes.join(' ')).toMatch(/Reduced from resolution 1536 \(576 visual tokens\) to resolution \d+ .*holds at most 128 MB per buffer/);
  });
});

describe('plan overlay', () => {
  it('maps crops to their source rectangles and tiles back through the resize', () => {
    const crops = planOverlay(planImage(2246, 1582, config, { strategy: 'multicrop', maxCrops: 100 }));
    expect(crops[0]).toMatchObject({ role: 'global', x: 0, y: 0, width: 2246, height: 1582, tokens: 10 });
    expect(crops[70]).toMatchObject({ x: 1728, y: 1152, width: 518, height: 430, tokens: 28 });
    const tiles = planOverlay(planImage(1000, 500, config, { strategy: 'tiles', tileSize: 384, maxTiles: 4 }));
    expect(tiles.map((t) => [t.x, t.y, t.width, t.height])).toEqual([
      [0, 0, 1000, 500],
      [0, 0, 500, 500],
      [500, 0, 500, 500],
    ]);
  });
});
