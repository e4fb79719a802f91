import { LoupeError } from '../errors';
import type { LoupeImageConfig } from '../bundle';
import type { ImagePlan } from './types';

function checkSide(side: number, stride: number, what: string): void {
  if (!Number.isInteger(side) || side < stride || side % stride !== 0) {
    throw new LoupeError('INVALID_ARGUMENT', `${what} must be a positive multiple of the encoder stride ${stride}; got ${side}.`);
  }
}

/**
 * The released ConvLLaVA processor: pad to a square with the mean colour, the image centred
 * on the short axis at offset (long - short) // 2, then a bicubic resize to S x S.
 */
export function planConvLlavaSquare(width: number, height: number, config: LoupeImageConfig, resolution: number): ImagePlan {
  checkSide(resolution, config.stride, 'resolution');
  const side = Math.max(width, height);
  const tokens = (resolution / config.stride) ** 2;
  return {
    strategy: 'convllava-square',
    imageWidth: width,
    imageHeight: height,
    inputs: [
      {
        source: { x: 0, y: 0, width, height },
        canvas: { width: side, height: side },
        placement: { x: Math.floor((side - width) / 2), y: Math.floor((side - height) / 2) },
        fill: config.padColor,
        width: resolution,
        height: resolution,
        filter: 'bicubic',
        tokens,
      },
    ],
    totalTokens: tokens,
  };
}

/**
 * Aspect-preserving ConvLLaVA: a fully convolutional encoder yields (H/64) x (W/64) tokens
 * for any H x W, so keep the aspect ratio and take the largest grid that fits the budget.
 */
export function planConvLlavaNative(width: number, height: number, config: LoupeImageConfig, budget: number): ImagePlan {
  if (!Number.isInteger(budget) || budget < 1) {
    throw new LoupeError('INVALID_ARGUMENT', `tokenBudget must be a positive integer; got ${budget}.`);
  }
  const scale = Math.sqrt(budget / (width * height));
  let cols = Math.max(1, Math.floor(width * scale));
  let rows = Math.max(1, Math.floor(height * scale));
  // Clamp extreme aspect ratios into the budget, then grow the side that keeps the ratio best.
  while (cols * rows > budget) {
    if (cols >= rows) cols--;
    else rows--;
  }
  for (;;) {
    const growCols = (cols + 1) * rows <= budget ? Math.abs(Math.log(((cols + 1) / rows) * (height / width))) : Infinity;
    const growRows = cols * (rows + 1) <= budget ? Math.abs(Math.log((cols / (rows + 1)) * (height / width))) : Infinity;
    const current = Math.abs(Math.log((cols / rows) * (height / width)));
    const best = Math.min(growCols, growRows);
    if (best === Infinity || best > current + 0.1) break;
    if (growCols <= growRows) cols++;
    else rows++;
  }
  const outWidth = cols * config.stride;
  const outHeight = rows * config.stride;
  return {
    strategy: 'convllava-native',
    imageWidth: width,
    imageHeight: height,
    inputs: [
      {
        source: { x: 0, y: 0, width, height },
        canvas: { width, height },
        placement: { x: 0, y: 0 },
        fill: config.padColor,
        width: outWidth,
        height: outHeight,
        filter: 'bicubic',
        tokens: cols * rows,
      },
    ],
    totalTokens: cols * rows,
  };
}
