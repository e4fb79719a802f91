import type { LoupeImageConfig, StrategyName } from '../../bundle';
import { LoupeError } from '../../errors';
import { batchRecipe } from '../recipe';
import { paddedSquare } from './convllava';
import type { ImagePlan, PlannedInput } from '../types';
import { LIMITS, smallerSide, type StrategyModule } from './module';

/** LlavaProcessor's count: floor(H / patch) * floor(W / patch) + the graph's extra tokens. */
function tokensFor(side: number, config: LoupeImageConfig): number {
  return Math.floor(side / config.stride) ** 2 + config.extraTokens;
}

function checkResolution(resolution: number, config: LoupeImageConfig): void {
  if (config.fixedSize && resolution !== config.resolution) {
    throw new LoupeError(
      'INVALID_ARGUMENT',
      `This model's vision encoder takes exactly ${config.resolution} x ${config.resolution} pixels (learned position embeddings); got resolution ${resolution}. Leave the resolution unset.`,
    );
  }
  if (!Number.isInteger(resolution) || resolution < config.stride || resolution > LIMITS.side) {
    throw new LoupeError('INVALID_ARGUMENT', `resolution must be an integer from the patch size ${config.stride} to ${LIMITS.side}; got ${resolution}.`);
  }
}

function plan(strategy: StrategyName, width: number, height: number, config: LoupeImageConfig, input: PlannedInput): ImagePlan {
  return { strategy, imageWidth: width, imageHeight: height, inputs: [input], alphaFill: config.padColor, totalTokens: input.tokens, recipe: batchRecipe([0]), notes: [] };
}

/**
 * HF's resize-shortest-edge then centre crop (CLIPImageProcessor with do_center_crop):
 * the short side becomes `shortestEdge`, the long one int(edge * long / short); the crop
 * starts at (resized - crop) // 2 on each axis, outside the resized image is `fill`.
 */
function planCenterCrop(width: number, height: number, config: LoupeImageConfig, resolution: number): ImagePlan {
  checkResolution(resolution, config);
  const edge = config.shortestEdge;
  const [resizedWidth, resizedHeight] = width <= height ? [edge, Math.floor((edge * height) / width)] : [Math.floor((edge * width) / height), edge];
  return plan('center-crop', width, height, config, {
    role: 'image',
    source: { x: 0, y: 0, width, height },
    canvas: { width, height },
    placement: { x: 0, y: 0 },
    fill: [0, 0, 0],
    width: resizedWidth,
    height: resizedHeight,
    filter: config.filter,
    window: { x: Math.floor((resizedWidth - resolution) / 2), y: Math.floor((resizedHeight - resolution) / 2), width: resolution, height: resolution },
    tokens: tokensFor(resolution, config),
  });
}

/** SigLIP's processor: the whole image resized to a square, aspect ratio not kept. */
function planStretch(width: number, height: number, config: LoupeImageConfig, resolution: number): ImagePlan {
  checkResolution(resolution, config);
  return plan('stretch', width, height, config, {
    role: 'image',
    source: { x: 0, y: 0, width, height },
    canvas: { width, height },
    placement: { x: 0, y: 0 },
    fill: config.padColor,
    width: resolution,
    height: resolution,
    filter: config.filter,
    tokens: tokensFor(resolution, config),
  });
}

/** LLaVA's `image_aspect_ratio: pad`: expand2square with the mean colour, then resize. */
function planPadSquare(width: number, height: number, config: LoupeImageConfig, resolution: number): ImagePlan {
  checkResolution(resolution, config);
  return plan('pad-square', width, height, config, { ...paddedSquare(width, height, resolution, config.padColor, tokensFor(resolution, config)), filter: config.filter });
}

type Planner = (width: number, height: number, config: LoupeImageConfig, resolution: number) => ImagePlan;

/** A one-input strategy whose only knob is the square side (fixed for ViT encoders). */
function sideStrategy(planner: Planner): StrategyModule<{ resolution: number }> {
  return {
    parse(config, o) {
      const resolution = o.resolution ?? config.resolution;
      checkResolution(resolution, config);
      return { resolution };
    },
    plan: (width, height, config, { resolution }) => planner(width, height, config, resolution),
    shrink({ resolution }, config) {
      const next = smallerSide(resolution, config.stride);
      return next === undefined ? undefined : { resolution: next };
    },
    describe: ({ resolution }) => `resolution ${resolution}`,
  };
}

export const centerCrop = sideStrategy(planCenterCrop);
export const stretch = sideStrategy(planStretch);
export const padSquare = sideStrategy(planPadSquare);
