import { LoupeError } from '../errors';
import type { LoupeImageConfig } from '../bundle';
import { planConvLlavaNative, planConvLlavaSquare } from './convllava';
import type { ImagePlan, PlanOverrides } from './types';

export type { ImagePlan, PlannedInput, PlanOverrides, Rect } from './types';

/** image size + strategy + knobs -> what the vision graph will see. Pure geometry. */
export function planImage(width: number, height: number, config: LoupeImageConfig, overrides: PlanOverrides = {}): ImagePlan {
  if (!(width >= 1 && height >= 1 && Number.isInteger(width) && Number.isInteger(height))) {
    throw new LoupeError('IMAGE_DECODE_FAILED', `An image needs a positive integer size; found ${width} x ${height}. Use a non-empty image.`);
  }
  const strategy = overrides.strategy ?? config.strategy;
  switch (strategy) {
    case 'convllava-square':
      return planConvLlavaSquare(width, height, config, overrides.resolution ?? config.resolution);
    case 'convllava-native':
      return planConvLlavaNative(width, height, config, overrides.tokenBudget ?? config.tokenBudget);
    case 'multicrop':
    case 'pyramid':
    case 'tiles':
      throw new LoupeError(
        'INVALID_ARGUMENT',
        `Strategy "${strategy}" needs a vision graph of its own kind; this runtime build plans convllava-square and convllava-native.`,
      );
  }
}
