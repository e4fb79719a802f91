import { LoupeError } from '../../errors';
import type { LoupeImageConfig } from '../../bundle';
import { batchRecipe } from '../recipe';
import type { ImagePlan, PlannedInput, RGB } from '../types';
import { LIMITS, checkCount, smallerSide, type StrategyModule } from './module';

export function checkSide(side: number, stride: number, what: string): void {
  if (!Number.isInteger(side) || side < stride || side % stride !== 0 || side > LIMITS.side) {
    throw new LoupeError('INVALID_ARGUMENT', `${what} must be a positive multiple of the encoder stride ${stride}, at most ${LIMITS.side}; got ${side}.`);
  }
}

/**
 * LLaVA's expand2square: the image centred on a filled square canvas, offset
 * (long - short) // 2 on the short axis, then resized to `size` x `size`.
 */
export function paddedSquare(width: number, height: number, size: number, fill: RGB, tokens: number): PlannedInput {
  const side = Math.max(width, height);
  return {
    role: 'image',
    source: { x: 0, y: 0, width, height },
    canvas: { width: side, height: side },
    placement: { x: Math.floor((side - width) / 2), y: Math.floor((side - height) / 2) },
    fill,
    width: size,
    height: size,
    filter: 'bicubic',
    tokens,
  };
}

/** The released ConvLLaVA processor: pad to a square with the mean colour, bicubic to S x S. */
export const convllavaSquare: StrategyModule<{ resolution: number }> = {
  parse(config, o) {
    const resolution = o.resolution ?? config.resolution;
    checkSide(resolution, config.stride, 'resolution');
    return { resolution };
  },
  plan(width, height, config, { resolution }) {
    const tokens = (resolution / config.stride) ** 2;
    return {
      strategy: 'convllava-square',
      imageWidth: width,
      imageHeight: height,
      inputs: [paddedSquare(width, height, resolution, config.padColor, tokens)],
      alphaFill: config.padColor,
      totalTokens: tokens,
      recipe: batchRecipe([0]),
      notes: [],
    };
  },
  shrink({ resolution }, config) {
    const next = smallerSide(resolution, config.stride);
    return next === undefined ? undefined : { resolution: next };
  },
  describe: ({ resolution }) => `resolution ${resolution}`,
};

/** Aspect error above which a grid counts as distorting the image (10 %). */
const ASPECT_TOLERANCE = Math.log(1.1);

/**
 * The token grid for aspect-preserving ConvLLaVA: a fully convolutional encoder yields
 * (H/64) x (W/64) tokens for any H x W. Among grids within the budget, and never finer
 * than the image itself (no upscaling past one token per stride cell), prefer grids that
 * keep the aspect ratio within 10 %, then the most tokens, then the least distortion.
 */
export function nativeGrid(width: number, height: number, stride: number, budget: number): { cols: number; rows: number } {
  const maxCols = Math.max(1, Math.ceil(width / stride));
  const maxRows = Math.max(1, Math.ceil(height / stride));
  const aspect = width / height;
  let best = { cols: 1, rows: 1, fits: false, tokens: 0, error: Infinity };
  for (let rows = 1; rows <= Math.min(budget, maxRows); rows++) {
    const cols = Math.min(Math.max(1, Math.floor(rows * aspect + 0.5)), Math.floor(budget / rows), maxCols);
    if (cols < 1) continue;
    const error = Math.abs(Math.log(cols / rows / aspect));
    const candidate = { cols, rows, fits: error <= ASPECT_TOLERANCE, tokens: cols * rows, error };
    const better =
      candidate.fits !== best.fits
        ? candidate.fits
        : candidate.tokens !== best.tokens
          ? candidate.tokens > best.tokens
          : candidate.error < best.error;
    if (better) best = candidate;
  }
  return { cols: best.cols, rows: best.rows };
}

/** Aspect-preserving ConvLLaVA: the image resized to the best token grid within the budget. */
export const convllavaNative: StrategyModule<{ budget: number }> = {
  parse(config, o) {
    const budget = o.tokenBudget ?? config.tokenBudget;
    checkCount(budget, 1, LIMITS.tokens, 'tokenBudget');
    return { budget };
  },
  plan: (width, height, config, { budget }) => planNative(width, height, config, budget),
  shrink: ({ budget }) => (budget > 1 ? { budget: Math.max(1, Math.floor(budget * 0.8)) } : undefined),
  describe: ({ budget }) => `token budget ${budget}`,
};

function planNative(width: number, height: number, config: LoupeImageConfig, budget: number): ImagePlan {
  const { cols, rows } = nativeGrid(width, height, config.stride, budget);
  const notes = cols * rows < budget ? [`${cols * rows} of ${budget} budget tokens used: the image is too small or too narrow for more without upscaling or distortion.`] : [];
  return {
    strategy: 'convllava-native',
    imageWidth: width,
    imageHeight: height,
    inputs: [
      {
        role: 'image',
        source: { x: 0, y: 0, width, height },
        canvas: { width, height },
        placement: { x: 0, y: 0 },
        fill: config.padColor,
        width: cols * config.stride,
        height: rows * config.stride,
        filter: 'bicubic',
        tokens: cols * rows,
      },
    ],
    alphaFill: config.padColor,
    totalTokens: cols * rows,
    recipe: batchRecipe([0]),
    notes,
  };
}
