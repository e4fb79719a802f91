import { describe, expect, it } from 'vitest';
import { defaultImageConfig } from '../bundle';
import { planImage } from '.';
import { tokenBoxes } from './token-boxes';
import { zoomRegion, zoomWindow } from './zoom';

const grid = (cols: number, rows: number, cells: Record<string, number>) => {
  const scores = new Float32Array(cols * rows);
  for (const [key, value] of Object.entries(cells)) {
    const [c, r] = key.split(',').map(Number) as [number, number];
    scores[r * cols + c] = value;
  }
  return scores;
};

describe('zoomWindow', () => {
  it('one hot cell: that cell', () => {
    expect(zoomWindow(grid(12, 12, { '7,3': 1 }), 12, 12)).toEqual({ col: 7, row: 3, cols: 1, rows: 1, mass: 1 });
  });

  it('the smallest window holding the mass, then the one holding most', () => {
    // 0.4 + 0.3 side by side, 0.3 far away: half the mass needs the adjacent pair.
    const scores = grid(8, 8, { '2,2': 0.4, '3,2': 0.3, '7,7': 0.3 });
    expect(zoomWindow(scores, 8, 8, 0.5)).toEqual({ col: 2, row: 2, cols: 2, rows: 1, mass: expect.closeTo(0.7, 6) });
    expect(zoomWindow(scores, 8, 8, 0.4)).toMatchObject({ col: 2, row: 2, cols: 1, rows: 1 });
    expect(zoomWindow(scores, 8, 8, 1)).toMatchObject({ col: 2, row: 2, cols: 6, rows: 6 });
  });

  it('uniform scores: the first window of the least area', () => {
    const w = zoomWindow(new Float32Array(16).fill(1), 4, 4, 0.5)!;
    expect(w.cols * w.rows).toBe(8);
    expect([w.col, w.row]).toEqual([0, 0]);
  });

  it('no positive score: no window; bad shapes and masses: typed errors', () => {
    expect(zoomWindow(new Float32Array(9), 3, 3)).toBeUndefined();
    expect(() => zoomWindow(new Float32Array(8), 3, 3)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => zoomWindow(new Float32Array(9), 3, 3, 0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('tokenBoxes and zoomRegion', () => {
  const config = defaultImageConfig(768, 64);

  it('maps each token of a padded square plan to its image cell (padding rows are empty)', () => {
    // 3000 x 1500 padded to 3000 x 3000: each of the 12 x 12 tokens covers 250 px; rows 0-2 and 9-11 are padding.
    const plan = planImage(3000, 1500, config, { strategy: 'convllava-square', resolution: 768 });
    const boxes = tokenBoxes(plan, 64);
    expect(boxes).toHaveLength(144);
    expect(boxes[0]).toMatchObject({ x: 0, y: 0, width: 250, height: 0, cell: { col: 0, row: 0, cols: 12, rows: 12 } });
    expect(boxes[3 * 12 + 1]).toMatchObject({ x: 250, y: 0, width: 250, height: 250 });
    expect(boxes[8 * 12 + 11]).toMatchObject({ x: 2750, y: 1250, width: 250, height: 250 });
  });

  it('picks the cells with the evidence and grows them to a square inside the image', () => {
    const plan = planImage(3000, 1500, config, { strategy: 'convllava-square', resolution: 768 });
    const boxes = tokenBoxes(plan, 64);
    const scores = grid(12, 12, { '10,4': 0.9, '0,5': 0.1 });
    const choice = zoomRegion(boxes, scores, 3000, 1500, { minSide: 0.25 })!;
    expect(choice.window).toMatchObject({ col: 10, row: 4, cols: 1, rows: 1 });
    // Cell (10, 4): x 2500-2750, y 250-500; a 750 px square around it, moved inside the image.
    expect(choice.region).toEqual({ x: 2250, y: 0, width: 750, height: 750 });
  });

  it('a region override plans that rectangle and says where it sits', () => {
    const region = { x: 2250, y: 0, width: 750, height: 750 };
    const plan = planImage(3000, 1500, config, { strategy: 'convllava-square', resolution: 768, region });
    expect(plan.imageWidth).toBe(3000);
    expect(plan.inputs[0]!.source).toEqual(region);
    expect(plan.totalTokens).toBe(144);
    expect(tokenBoxes(plan, 64)[0]).toMatchObject({ x: 2250, y: 0, width: 62.5, height: 62.5 });
    for (const bad of [{ ...region, x: 2251 }, { ...region, width: 0 }, { ...region, y: 0.5 }]) {
      expect(() => planImage(3000, 1500, config, { region: bad })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('tokens that form no grid at the stride each get their input box; no grid, no region', () => {
    const plan = planImage(1000, 1000, config, { strategy: 'convllava-square', resolution: 768 });
    const boxes = tokenBoxes(plan, 100);
    expect(boxes).toHaveLength(144);
    expect(boxes[5]).toMatchObject({ x: 0, y: 0, width: 1000, height: 1000 });
    expect(zoomRegion(boxes, new Float32Array(144).fill(1), 1000, 1000)).toBeUndefined();
  });
});
