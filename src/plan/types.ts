import type { StrategyName } from '../bundle';

/** Per-image overrides of the bundle's knobs. */
export interface PlanOverrides {
  strategy?: StrategyName;
  resolution?: number;
  tokenBudget?: number;
  maxCrops?: number;
  numTokens?: number;
  lowResolution?: number;
  tileSize?: number;
  maxTiles?: number;
  /** Plan for this rectangle of the image only (whole pixels): the zoomed pass of `ask(..., { zoom })`. */
  region?: Rect;
}

/** Limits of the device the vision graph runs on (from the GPU probe). */
export interface DeviceLimits {
  /** Largest storage buffer one shader may bind; the biggest activation must fit in it. */
  maxStorageBufferBindingSize: number;
  /** Largest buffer the device creates at all (absent: the binding limit is the bound). */
  maxBufferSize?: number;
}

/** A rectangle in source-image pixels. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type RGB = [number, number, number];

export type InputRole = 'image' | 'global' | 'crop' | 'thumbnail' | 'tile' | 'high' | 'low';

/**
 * One tensor the vision graph receives. Pixels come either from the image — `source` is
 * cropped, placed at `placement` on a `canvas` filled with `fill`, resized to
 * `width` x `height`, and optionally cut to `window` (a rectangle of the resized image;
 * outside it, `fill`) — or from another input (`derivedFrom`), resampled after
 * normalisation, as PIIP derives its low-resolution branch.
 */
export interface PlannedInput {
  role: InputRole;
  source: Rect;
  canvas: { width: number; height: number };
  placement: { x: number; y: number };
  fill: RGB;
  width: number;
  height: number;
  filter: 'bicubic' | 'bilinear';
  /** A window of the resized image; the tensor is window-sized. Absent: the whole resize. */
  window?: Rect;
  /** Visual tokens this input contributes to the prompt. */
  tokens: number;
  /** multicrop: the crop's normalised centre, fed to the coordinate embedding. */
  coord?: [number, number];
  /** pyramid: index of the input this one is resampled from (bilinear, after normalisation). */
  derivedFrom?: number;
}

/**
 * One tensor fed to the vision graph, built from plan inputs: their pixels stacked as
 * [n, 3, H, W], or their crop centres as [n, 2] (MC-LLaVA's coordinate embedding).
 */
export interface RecipeFeed {
  name: string;
  from: 'pixels' | 'coords';
  /** Plan input indices, in batch order. */
  inputs: number[];
}

/** One `session.run` of the vision graph. */
export interface EncoderRun {
  feeds: RecipeFeed[];
  /** The plan inputs whose tokens `image_features` [n, T, D] holds, in batch order. */
  images: number[];
}

/**
 * How to feed the vision graph a plan: the runs and, per output image (the runs' images
 * in order), the tokens to keep. The encoder executes it without knowing the strategy.
 */
export interface EncoderRecipe {
  runs: EncoderRun[];
  /** Per output image: keep its last `keepLast[i]` tokens (MC-LLaVA). Absent: every token. */
  keepLast?: number[];
  /** 'column': a kept token of an image's last patch row stands for its whole column of that image (else its own patch). */
  tokenExtent?: 'column';
}

/** What the model will see: pure geometry, computed without touching a pixel. */
export interface ImagePlan {
  strategy: StrategyName;
  imageWidth: number;
  imageHeight: number;
  inputs: PlannedInput[];
  /** Transparent pixels are composited over this colour before anything else. */
  alphaFill: RGB;
  totalTokens: number;
  recipe: EncoderRecipe;
  /** Why the plan differs from what the knobs asked for (device limits, tiny images). */
  notes: string[];
}

/** The pixel size of the tensor an input becomes. */
export function outputSize(input: PlannedInput): { width: number; height: number } {
  return input.window ? { width: input.window.width, height: input.window.height } : { width: input.width, height: input.height };
}
