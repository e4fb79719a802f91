import { LoupeError } from '../errors';
import type { LoupeImageConfig, VisionSpec } from '../bundle';
import { fitPlan } from './fit';
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
  if (ctx.limits && ctx.vision) return fitPlan(module, knobs, width, height, ctx.config, ctx.vision, ctx.limits);
  return module.plan(width, height, ctx.config, knobs);
}
export { planOverlay } from './overlay';
export type { OverlayBox } from './overlay';
