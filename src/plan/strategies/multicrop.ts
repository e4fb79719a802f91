import { LoupeError } from '../../errors';
import type { LoupeImageConfig } from '../../bundle';
import { batchRecipe } from '../recipe';
import type { ImagePlan, PlannedInput, RGB } from '../types';
import { LIMITS, checkCount, smallerSide, type StrategyModule } from './module';

/** Python's floor division, also for negative operands (the reference relies on it). */
const floorDiv = (a: number, b: number) => Math.floor(a / b);

/** MC-LLaVA's alpha fill: mid grey, since its normalisation maps 127.5 to 0. */
const MULTICROP_FILL: RGB = [127, 127, 127];

export interface CropGrid {
  cropSize: number;
  stride: number;
  xSteps: number;
  ySteps: number;
}

/** Grows the crop by 10 px until the overlapping grid fits `maxCrops` (REFERENCE §2, steps 2-4). */
export function cropGrid(width: number, height: number, maxCrops: number, baseCrop: number): CropGrid | undefined {
  if (maxCrops === 0 || (width <= baseCrop * 1.5 && height <= baseCrop * 1.5)) return undefined;
  let c = baseCrop;
  let s = floorDiv(c, 2);
  while ((floorDiv(width - c, s) + 1) * (floorDiv(height - c, s) + 1) > maxCrops) {
    c += 10;
    s = floorDiv(c, 2);
  }
  const xSteps = Math.max(1, floorDiv(width - c, s) + 1);
  const ySteps = Math.max(1, floorDiv(height - c, s) + 1);
  if (xSteps === 1 && ySteps === 1) return undefined;
  return { cropSize: c, stride: s, xSteps, ySteps };
}

/** Crop i spans [i*s, i*s + c]; the last one is widened to the image edge, never shifted. */
function span(i: number, steps: number, grid: CropGrid, size: number): [number, number] {
  const start = i * grid.stride;
  return [start, i === steps - 1 ? size : start + grid.cropSize];
}

/** `num_tokens` shared out: every image keeps its last `split` tokens, the last image the rest. */
export function tokenSplit(numTokens: number, images: number): number[] {
  const split = Math.floor(numTokens / images);
  return Array.from({ length: images }, (_, i) => (i === images - 1 ? numTokens - (images - 1) * split : split));
}

function squash(x0: number, y0: number, x1: number, y1: number, side: number, tokens: number, role: 'global' | 'crop', coord: [number, number]): PlannedInput {
  return {
    role,
    source: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 },
    canvas: { width: x1 - x0, height: y1 - y0 },
    placement: { x: 0, y: 0 },
    fill: MULTICROP_FILL,
    width: side,
    height: side,
    filter: 'bicubic',
    tokens,
    coord,
  };
}

interface MulticropKnobs {
  maxCrops: number;
  numTokens: number;
  /** Side each crop is squashed to for the encoder (the crop grid itself uses config.cropSize). */
  side: number;
}

/** Tokens the graph emits per crop of `side` px: the patch grid plus the graph's extra tokens. */
function tokensPerImage(side: number, config: LoupeImageConfig): number {
  return Math.floor(side / config.stride) ** 2 + config.extraTokens;
}

/**
 * MC-LLaVA: the whole image first, then overlapping crops, x outer / y inner; one batch
 * with each crop's centre fed as `coords`, and each image's last tokens kept.
 */
export const multicrop: StrategyModule<MulticropKnobs> = {
  parse(config, o) {
    const maxCrops = o.maxCrops ?? config.maxCrops;
    const numTokens = o.numTokens ?? config.numTokens;
    checkCount(maxCrops, 0, LIMITS.crops, 'maxCrops');
    checkCount(numTokens, 1, LIMITS.tokens, 'numTokens');
    return { maxCrops, numTokens, side: config.cropSize };
  },
  plan(width, height, config, { maxCrops, numTokens, side }) {
    const grid = cropGrid(width, height, maxCrops, config.cropSize);
    const boxes: { x0: number; y0: number; x1: number; y1: number }[] = [];
    if (grid) {
      for (let xi = 0; xi < grid.xSteps; xi++) {
        const [x0, x1] = span(xi, grid.xSteps, grid, width);
        for (let yi = 0; yi < grid.ySteps; yi++) {
          const [y0, y1] = span(yi, grid.ySteps, grid, height);
          boxes.push({ x0, y0, x1, y1 });
        }
      }
    }
    const images = 1 + boxes.length;
    if (numTokens < images) {
      throw new LoupeError('INVALID_ARGUMENT', `numTokens must be at least one per image (${images} images for maxCrops ${maxCrops}); got ${numTokens}.`);
    }
    const perImage = tokensPerImage(side, config);
    const tokens = tokenSplit(numTokens, images).map((t) => Math.min(t, perImage));
    const inputs = [
      squash(0, 0, width, height, side, tokens[0]!, 'global', [0.5, 0.5]),
      ...boxes.map((b, i) => squash(b.x0, b.y0, b.x1, b.y1, side, tokens[i + 1]!, 'crop', [(b.x0 + b.x1) / 2 / width, (b.y0 + b.y1) / 2 / height])),
    ];
    const total = tokens.reduce((a, b) => a + b, 0);
    const notes = total < numTokens ? [`${total} of ${numTokens} tokens: a ${side} px crop yields ${perImage} per image.`] : [];
    const all = inputs.map((_, i) => i);
    return {
      strategy: 'multicrop',
      imageWidth: width,
      imageHeight: height,
      inputs,
      alphaFill: MULTICROP_FILL,
      totalTokens: total,
      recipe: batchRecipe(all, { coords: true, keepLast: tokens, ...(config.tokenExtent === 'column' ? { tokenExtent: 'column' as const } : {}) }),
      notes,
    };
  },
  shrink(knobs, config) {
    const side = smallerSide(knobs.side, config.stride);
    return side === undefined ? undefined : { ...knobs, side };
  },
  describe: ({ maxCrops, numTokens, side }) => `maxCrops ${maxCrops}, numTokens ${numTokens}, ${side} px crops`,
};
