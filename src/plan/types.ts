import type { StrategyName } from '../bundle';

/** Per-image overrides of the bundle's knobs. */
export interface PlanOverrides {
  strategy?: StrategyName;
  resolution?: number;
  tokenBudget?: number;
}

/** A rectangle in source-image pixels. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * One tensor the vision graph receives: the source content is first placed on a canvas of
 * `canvas` size at `placement` (the rest filled with `fill`), then resized to `width` x `height`.
 */
export interface PlannedInput {
  /** Source rectangle that is visible in this input. */
  source: Rect;
  canvas: { width: number; height: number };
  /** Where `source` lands on the canvas, before the resize. */
  placement: { x: number; y: number };
  fill: [number, number, number];
  width: number;
  height: number;
  filter: 'bicubic' | 'bilinear';
  tokens: number;
}

/** What the model will see: pure geometry, computed without touching a pixel. */
export interface ImagePlan {
  strategy: StrategyName;
  imageWidth: number;
  imageHeight: number;
  inputs: PlannedInput[];
  totalTokens: number;
}
