import { integer, invalid, numbers3, object, type Json } from './json';

import { STRATEGIES, type StrategyName } from '../plan/strategies/registry';

/** Image strategies a bundle may ask for: the planner's registry. */
export { STRATEGIES, type StrategyName };

/**
 * How images become vision-graph inputs: Loupe's own knobs (the `loupe` key of
 * preprocessor_config.json), or what a model family reads from the Hugging Face processor
 * files of a bundle that has no such key.
 */
export interface LoupeImageConfig {
  strategy: StrategyName;
  /** Square side for the single-image strategies; also the default for other strategies. */
  resolution: number;
  resolutions: number[];
  /** Total stride of the vision encoder (a ViT's patch): one visual token per stride x stride pixels. */
  stride: number;
  padColor: [number, number, number];
  tokenBudget: number;
  /** multicrop (MC-LLaVA): most crops besides the global image, tokens kept in all, crop side. */
  maxCrops: number;
  numTokens: number;
  cropSize: number;
  /**
   * multicrop: what a kept token stands for: its patch ('cell', MC-LLaVA's release), or for
   * the last patch row its whole column of the input ('column': Loupe-Synth-MC was taught so).
   */
  tokenExtent: TokenExtent;
  /** pyramid (PIIP): side of the low-resolution branch (the high one is `resolution`). */
  lowResolution: number;
  /** pyramid: the low branch's own stride (a ViT's patch, e.g. 16 for PIIP-LLaVA's CLIP); its side is a multiple of it. */
  lowStride: number;
  /** tiles (LLaVA-NeXT style): tile side and the most tiles besides the thumbnail. */
  tileSize: number;
  maxTiles: number;
  /** center-crop: the shortest edge is resized to this before the resolution x resolution crop. */
  shortestEdge: number;
  /** Tokens the vision graph adds to each image's patch grid: +1 a kept CLS token, -1 MC-LLaVA's dropped patch 0. */
  extraTokens: number;
  /** The processor's `resample`: PIL bicubic (3) or bilinear (2). */
  filter: 'bicubic' | 'bilinear';
  /**
   * The encoder only takes `resolution` (a ViT's learned position embeddings): no other
   * resolution may be asked for, and device limits cannot be met by shrinking the input.
   */
  fixedSize: boolean;
}

export const TOKEN_EXTENTS = ['cell', 'column'] as const;
export type TokenExtent = (typeof TOKEN_EXTENTS)[number];

/** Every knob at its default for an encoder of this resolution and stride. */
export function defaultImageConfig(resolution: number, stride: number): LoupeImageConfig {
  return {
    strategy: 'convllava-square',
    resolution,
    resolutions: [resolution],
    stride,
    padColor: [122, 116, 104],
    tokenBudget: 576,
    maxCrops: 100,
    numTokens: 728,
    cropSize: 384,
    tokenExtent: 'cell',
    lowResolution: Math.max(stride, Math.floor(resolution / 2 / stride) * stride),
    lowStride: stride,
    tileSize: resolution,
    maxTiles: 4,
    shortestEdge: resolution,
    extraTokens: 0,
    filter: 'bicubic',
    fixedSize: false,
  };
}

/**
 * Loupe's own knobs under the `loupe` key, over `base` (default: a ConvLLaVA square at the
 * processor's size, as the released processor). A family passes its own base (MC-LLaVA:
 * multicrop over a fixed-size SigLIP) and the key still overrides its knobs.
 */
export function parseLoupeConfig(preprocessor: Json, base?: LoupeImageConfig): LoupeImageConfig {
  const file = 'preprocessor_config.json';
  const loupe = object(preprocessor.loupe ?? {}, file, 'loupe');
  const size = (preprocessor.crop_size ?? preprocessor.size ?? {}) as Json;
  const fallbackResolution = base?.resolution ?? (typeof size.height === 'number' ? size.height : typeof size.shortest_edge === 'number' ? size.shortest_edge : 336);
  const strategy = loupe.strategy ?? base?.strategy ?? 'convllava-square';
  if (typeof strategy !== 'string' || !(STRATEGIES as readonly string[]).includes(strategy)) {
    throw invalid(file, 'loupe.strategy', `one of ${STRATEGIES.join(', ')}`, strategy);
  }
  const resolution = integer(loupe, 'resolution', file, fallbackResolution);
  const stride = integer(loupe, 'stride', file, base?.stride ?? 64);
  const defaults = base ? { ...base, resolution, stride } : defaultImageConfig(resolution, stride);
  const resolutions = Array.isArray(loupe.resolutions) ? loupe.resolutions.filter((r): r is number => typeof r === 'number') : base?.resolutions ?? [resolution];
  return {
    ...defaults,
    strategy: strategy as StrategyName,
    resolutions,
    padColor: numbers3(loupe.pad_color, file, 'loupe.pad_color', defaults.padColor),
    tokenBudget: integer(loupe, 'token_budget', file, defaults.tokenBudget),
    maxCrops: integer(loupe, 'max_crops', file, defaults.maxCrops),
    numTokens: integer(loupe, 'num_tokens', file, defaults.numTokens),
    cropSize: integer(loupe, 'crop_size', file, defaults.cropSize),
    tokenExtent: tokenExtent(loupe.token_extent, defaults.tokenExtent),
    lowResolution: integer(loupe, 'low_resolution', file, defaults.lowResolution),
    lowStride: integer(loupe, 'low_stride', file, stride),
    tileSize: integer(loupe, 'tile_size', file, defaults.tileSize),
    maxTiles: integer(loupe, 'max_tiles', file, defaults.maxTiles),
  };
}

function tokenExtent(value: unknown, fallback: TokenExtent): TokenExtent {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (TOKEN_EXTENTS as readonly string[]).includes(value)) return value as TokenExtent;
  throw invalid('preprocessor_config.json', 'loupe.token_extent', `one of ${TOKEN_EXTENTS.join(', ')}`, value);
}
