import type { LoupeImageConfig } from '../bundle';
import { checkSide, paddedSquare } from './convllava';
import type { ImagePlan, RGB } from './types';

/** PIIP pads with the ImageNet mean colour. */
const PIIP_FILL: RGB = [123, 116, 103];

/**
 * PIIP's inputs: one padded, bicubic high-resolution image, and the low-resolution branch
 * derived from its normalised tensor by bilinear resampling (REFERENCE §3). Visual tokens
 * follow the high-resolution grid.
 */
export function planPyramid(width: number, height: number, config: LoupeImageConfig, high: number, low: number): ImagePlan {
  checkSide(high, config.stride, 'resolution');
  checkSide(low, config.stride, 'lowResolution');
  const tokens = (high / config.stride) ** 2;
  const highInput = { ...paddedSquare(width, height, high, PIIP_FILL, tokens), role: 'high' as const };
  const lowInput = { ...highInput, role: 'low' as const, width: low, height: low, filter: 'bilinear' as const, tokens: 0, derivedFrom: 0 };
  return { strategy: 'pyramid', imageWidth: width, imageHeight: height, inputs: [highInput, lowInput], alphaFill: PIIP_FILL, totalTokens: tokens, notes: [] };
}
