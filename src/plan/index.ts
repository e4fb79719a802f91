import { LoupeError } from '../errors';
import type { LoupeImageConfig, VisionSpec } from '../bundle';
import { fitPlan } from './fit';
import { atRegion, checkRegion } from './region';
import { STRATEGIES, STRATEGY_MODULES, type AnyStrategy } from './strategies/registry';
import type { DeviceLimits, ImagePlan, PlanOverrides } from './types';

export type { ImagePlan, PlannedInput, PlanOverrides, Rect, DeviceLimits, InputRole, RGB, EncoderRecipe, EncoderRun, RecipeFeed } from './types';
export { outputSize } from './types';
export { cropGrid, tokenSplit } from './strategies/multicrop';
export { nativeGrid } from './strategies/convllava';
export { bestGrid } from './strategies/tiles';
export { STRATEGIES, STRATEGY_MODULES, type StrategyName } from './strategies/registry';
export { largestActivationBytes, runBytes } from './activation';
export { bufferLimit } from './fit';
export { fedInputs } from './recipe';

export interface PlanContext {
  config: LoupeImageConfig;
  vision?: VisionSpec;
  limits?: DeviceLimits;
}

function strategyModule(name: unknown): AnyStrategy {
  const module = (STRATEGY_MODULES as Record<string, AnyStrategy>)[String(name)];
  if (!module) throw new LoupeError('INVALID_ARGUMENT', `Unknown strategy "${String(name)}"; expected one of ${STRATEGIES.join(', ')}.`);
  return module;
}

/**
 * image size + strategy + knobs + device limits -> what the vision graph will see and how
 * to feed it. Pure geometry: the strategy's module parses its knobs and plans; with device
 * limits the plan is fitted (batches cut, inputs shrunk, or a typed refusal).
 */
export function planImage(width: number, height: number, context: PlanContext | LoupeImageConfig, overrides: PlanOverrides = {}): ImagePlan {
  if (!(width >= 1 && height >= 1 && Number.isInteger(width) && Number.isInteger(height))) {
    throw new LoupeError('IMAGE_DECODE_FAILED', `An image needs a positive integer size; found ${width} x ${height}. Use a non-empty image.`);
  }
  const ctx: PlanContext = 'config' in context ? context : { config: context };
  const module = strategyModule(overrides.strategy ?? ctx.config.strategy);
  const knobs = module.parse(ctx.config, overrides);
  const { region } = overrides;
  if (region) checkRegion(region, width, height);
  const [w, h] = region ? [region.width, region.height] : [width, height];
  const plan = ctx.limits && ctx.vision ? fitPlan(module, knobs, w, h, ctx.config, ctx.vision, ctx.limits) : module.plan(w, h, ctx.config, knobs);
  return region ? atRegion(plan, region, width, height) : plan;
}
export { planOverlay } from './overlay';
export { tokenBoxes, type TokenBox } from './token-boxes';
export { zoomWindow, zoomRegion, type GridWindow, type ZoomChoice, type ZoomOptions } from './zoom';
export type { OverlayBox } from './overlay';
