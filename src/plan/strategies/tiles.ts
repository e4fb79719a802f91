import { LoupeError } from '../../errors';
import type { LoupeImageConfig } from '../../bundle';
import { batchRecipe } from '../recipe';
import { checkSide } from './convllava';
import type { ImagePlan, PlannedInput, RGB } from '../types';
import { LIMITS, checkCount, smallerSide, type StrategyModule } from './module';

const TILE_FILL: RGB = [0, 0, 0];

/** LLaVA-NeXT's select_best_resolution over the grids cols x rows <= maxTiles. */
export function bestGrid(width: number, height: number, tile: number, maxTiles: number): { cols: number; rows: number } {
  let best = { cols: 1, rows: 1, effective: -1, wasted: Infinity };
  // Only grids within the budget: O(maxTiles log maxTiles), not maxTiles^2 (a fuzzed
  // maxTiles of 5000 took minutes per plan).
  for (let cols = 1; cols <= maxTiles; cols++) {
    for (let rows = 1; rows <= Math.floor(maxTiles / cols); rows++) {
      const w = cols * tile;
      const h = rows * tile;
      const scale = Math.min(w / width, h / height);
      const effective = Math.min(Math.trunc(width * scale) * Math.trunc(height * scale), width * height);
      const wasted = w * h - effective;
      if (effective > best.effective || (effective === best.effective && wasted < best.wasted)) best = { cols, rows, effective, wasted };
    }
  }
  return { cols: best.cols, rows: best.rows };
}

/**
 * A thumbnail (the whole image squashed to one tile) and a grid of tiles cut from the image
 * resized to fit the grid with its aspect ratio kept and black padding (LLaVA-NeXT anyres).
 * Each tile is planned as its own source rectangle, so no full-size grid image is ever built.
 */
export const tiles: StrategyModule<{ tile: number; maxTiles: number }> = {
  parse(config, o) {
    const tile = o.tileSize ?? config.tileSize;
    const maxTiles = o.maxTiles ?? config.maxTiles;
    checkSide(tile, config.stride, 'tileSize');
    checkCount(maxTiles, 1, LIMITS.tiles, 'maxTiles');
    return { tile, maxTiles };
  },
  plan: (width, height, config, { tile, maxTiles }) => planTiles(width, height, config, tile, maxTiles),
  shrink(knobs, config) {
    const tile = smallerSide(knobs.tile, config.stride);
    return tile === undefined ? undefined : { ...knobs, tile };
  },
  describe: ({ tile, maxTiles }) => `${tile} px tiles, maxTiles ${maxTiles}`,
};

function planTiles(width: number, height: number, config: LoupeImageConfig, tile: number, maxTiles: number): ImagePlan {
  const { cols, rows } = bestGrid(width, height, tile, maxTiles);
  const gridW = cols * tile;
  const gridH = rows * tile;
  const scaleW = gridW / width;
  const scaleH = gridH / height;
  const resizedW = scaleW < scaleH ? gridW : Math.min(Math.ceil(width * scaleH), gridW);
  const resizedH = scaleW < scaleH ? Math.min(Math.ceil(height * scaleW), gridH) : gridH;
  const offsetX = Math.floor((gridW - resizedW) / 2);
  const offsetY = Math.floor((gridH - resizedH) / 2);
  const tokens = (tile / config.stride) ** 2;
  // Every input sees the whole image; the thumbnail squashes it, each tile is a window of the
  // image resized to fit the grid and padded.
  const whole = { source: { x: 0, y: 0, width, height }, canvas: { width, height }, placement: { x: 0, y: 0 }, fill: TILE_FILL, filter: 'bicubic' as const, tokens };
  const inputs: PlannedInput[] = [{ ...whole, role: 'thumbnail', width: tile, height: tile }];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const window = { x: c * tile - offsetX, y: r * tile - offsetY, width: tile, height: tile };
      inputs.push({ ...whole, role: 'tile', width: resizedW, height: resizedH, window });
    }
  }
  return { strategy: 'tiles', imageWidth: width, imageHeight: height, inputs, alphaFill: TILE_FILL, totalTokens: tokens * inputs.length, recipe: batchRecipe(inputs.map((_, i) => i)), notes: [] };
}
