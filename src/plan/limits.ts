import type { LoupeImageConfig, VisionSpec } from '../bundle';
import { outputSize, type DeviceLimits, type ImagePlan, type PlanOverrides } from './types';

/**
 * Bytes of the largest activation of a ConvNeXt-style encoder on a W x H input: the first
 * stage's MLP expands its channels 4x at 1/patch resolution, in float32.
 */
export function largestActivationBytes(width: number, height: number, vision: VisionSpec): number {
  const channels = (vision.firstStageWidth ?? 96) * 4;
  return channels * Math.ceil(width / vision.patchSize) * Math.ceil(height / vision.patchSize) * 4;
}

type Planner = (w: number, h: number, c: LoupeImageConfig, o: PlanOverrides) => ImagePlan;

/**
 * A GPU whose storage-buffer binding limit (128-256 MB on many devices) cannot hold the
 * encoder's largest activation would fail mid-encode. Step the resolution (or budget)
 * down until the plan fits, and say so in the plan's notes.
 */
export function applyDeviceLimits(
  plan: ImagePlan,
  width: number,
  height: number,
  ctx: { config: LoupeImageConfig; vision?: VisionSpec; limits?: DeviceLimits },
  overrides: PlanOverrides,
  replan: Planner,
): ImagePlan {
  const { vision, limits, config } = ctx;
  if (!vision || !limits) return plan;
  const fits = (p: ImagePlan) =>
    p.inputs.every((input) => {
      const size = outputSize(input);
      return largestActivationBytes(size.width, size.height, vision) <= limits.maxStorageBufferBindingSize;
    });
  if (fits(plan)) return plan;
  let resolution = overrides.resolution ?? config.resolution;
  let budget = overrides.tokenBudget ?? config.tokenBudget;
  let current = plan;
  while (!fits(current) && resolution > config.stride) {
    resolution -= config.stride;
    budget = Math.max(1, Math.floor(budget * 0.8));
    current = replan(width, height, config, { ...overrides, resolution, tokenBudget: budget, tileSize: Math.min(overrides.tileSize ?? config.tileSize, resolution) });
  }
  const limitMb = Math.round(limits.maxStorageBufferBindingSize / 2 ** 20);
  return {
    ...current,
    notes: [
      ...current.notes,
      `Reduced to ${current.totalTokens} visual tokens: the GPU binds at most ${limitMb} MB per buffer, too little for the encoder's largest activation at the requested size.`,
    ],
  };
}
