import { LoupeError } from '../errors';
import { STRATEGIES, type LoupeImageConfig, type VisionSpec } from '../bundle';
import { planConvLlavaNative, planConvLlavaSquare } from './convllava';
import { planCenterCrop, planPadSquare, planStretch } from './fixed-size';
import { applyDeviceLimits } from './limits';
import { planMulticrop } from './multicrop';
import { planPyramid } from './pyramid';
import { planTiles } from './tiles';
import type { DeviceLimits, ImagePlan, PlanOverrides } from './types';

export type { ImagePlan, PlannedInput, PlanOverrides, Rect, DeviceLimits, InputRole, RGB } from './types';
export { outputSize } from './types';
export { cropGrid, tokenSplit } from './multicrop';
export { nativeGrid } from './convllava';
export { bestGrid } from './tiles';

export interface PlanContext {
  config: LoupeImageConfig;
  vision?: VisionSpec;
  limits?: DeviceLimits;
}

function planStrategy(width: number, height: number, config: LoupeImageConfig, o: PlanOverrides): ImagePlan {
  const strategy = o.strategy ?? config.strategy;
  const resolution = o.resolution ?? config.resolution;
  switch (strategy) {
    case 'convllava-square':
      return planConvLlavaSquare(width, height, config, resolution);
    case 'convllava-native':
      return planConvLlavaNative(width, height, config, o.tokenBudget ?? config.tokenBudget);
    case 'multicrop':
      return planMulticrop(width, height, config, o.maxCrops ?? config.maxCrops, o.numTokens ?? config.numTokens);
    case 'pyramid':
      return planPyramid(width, height, config, resolution, o.lowResolution ?? config.lowResolution);
    case 'tiles':
      return planTiles(width, height, config, o.tileSize ?? config.tileSize, o.maxTiles ?? config.maxTiles);
    case 'center-crop':
      return planCenterCrop(width, height, config, resolution);
    case 'stretch':
      return planStretch(width, height, config, resolution);
    case 'pad-square':
      return planPadSquare(width, height, config, resolution);
    default:
      throw new LoupeError('INVALID_ARGUMENT', `Unknown strategy "${String(strategy)}"; expected one of ${STRATEGIES.join(', ')}.`);
  }
}

/** image size + strategy + knobs + device limits -> what the vision graph will see. Pure geometry. */
export function planImage(width: number, height: number, context: PlanContext | LoupeImageConfig, overrides: PlanOverrides = {}): ImagePlan {
  if (!(width >= 1 && height >= 1 && Number.isInteger(width) && Number.isInteger(height))) {
    throw new LoupeError('IMAGE_DECODE_FAILED', `An image needs a positive integer size; found ${width} x ${height}. Use a non-empty image.`);
  }
  const ctx: PlanContext = 'config' in context ? context : { config: context };
  const plan = planStrategy(width, height, ctx.config, overrides);
  // A fixed-size encoder cannot take a smaller input: its size is the model's, not a knob.
  return ctx.limits && ctx.vision && !ctx.config.fixedSize ? applyDeviceLimits(plan, width, height, ctx, overrides, planStrategy) : plan;
}
export { planOverlay } from './overlay';
export type { OverlayBox } from './overlay';
