import { LoupeError } from '../../errors';
import { paddedSquare, checkSide } from './convllava';
import type { ImagePlan, RGB } from '../types';
import type { StrategyModule } from './module';

/** PIIP pads with the ImageNet mean colour. */
const PIIP_FILL: RGB = [123, 116, 103];

interface PyramidKnobs {
  high: number;
  low: number;
  /** low / high as asked: shrinking keeps it. */
  ratio: number;
}

/**
 * PIIP's inputs: one padded, bicubic high-resolution image, and the low-resolution branch
 * derived from its normalised tensor by bilinear resampling (REFERENCE §3), both fed to
 * one run (`pixel_values`, `pixel_values_low`). Visual tokens follow the high-resolution grid.
 */
export const pyramid: StrategyModule<PyramidKnobs> = {
  parse(config, o) {
    const high = o.resolution ?? config.resolution;
    const low = o.lowResolution ?? config.lowResolution;
    checkSide(high, config.stride, 'resolution');
    checkSide(low, config.lowStride, 'lowResolution');
    if (low > high) throw new LoupeError('INVALID_ARGUMENT', `lowResolution (${low}) must not exceed resolution (${high}): the low branch sees the smaller image.`);
    return { high, low, ratio: low / high };
  },
  plan(width, height, config, { high, low }): ImagePlan {
    const tokens = (high / config.stride) ** 2;
    const highInput = { ...paddedSquare(width, height, high, PIIP_FILL, tokens), role: 'high' as const };
    const lowInput = { ...highInput, role: 'low' as const, width: low, height: low, filter: 'bilinear' as const, tokens: 0, derivedFrom: 0 };
    return {
      strategy: 'pyramid',
      imageWidth: width,
      imageHeight: height,
      inputs: [highInput, lowInput],
      alphaFill: PIIP_FILL,
      totalTokens: tokens,
      recipe: {
        runs: [
          {
            feeds: [
              { name: 'pixel_values', from: 'pixels', inputs: [0] },
              { name: 'pixel_values_low', from: 'pixels', inputs: [1] },
            ],
            images: [0],
          },
        ],
      },
      notes: [],
    };
  },
  /** Both branches one step smaller, the low one in proportion (rounded to its own stride). */
  shrink({ high, ratio }, config) {
    const s = config.stride;
    const ls = config.lowStride;
    if (high <= s) return undefined;
    const next = high - s;
    return { high: next, low: Math.min(next, Math.max(ls, Math.round((ratio * next) / ls) * ls)), ratio };
  },
  describe: ({ high, low }) => `resolution ${high}, lowResolution ${low}`,
};
