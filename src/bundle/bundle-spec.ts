import { LoupeError } from '../errors';
import type { DtypeChoice } from './dtype';

/** Image strategies a bundle may ask for (see the planner). */
export type StrategyName = 'convllava-square' | 'convllava-native' | 'multicrop' | 'pyramid' | 'tiles';

/** Loupe's own knobs, kept under one `loupe` key in preprocessor_config.json. */
export interface LoupeImageConfig {
  strategy: StrategyName;
  /** Square side for convllava-square; also the default for other strategies. */
  resolution: number;
  resolutions: number[];
  /** Total stride of the vision encoder: one visual token per stride x stride pixels. */
  stride: number;
  padColor: [number, number, number];
  tokenBudget: number;
  /** multicrop (MC-LLaVA): most crops besides the global image, tokens kept in all, crop side. */
  maxCrops: number;
  numTokens: number;
  cropSize: number;
  /** pyramid (PIIP): side of the low-resolution branch (the high one is `resolution`). */
  lowResolution: number;
  /** tiles (LLaVA-NeXT style): tile side and the most tiles besides the thumbnail. */
  tileSize: number;
  maxTiles: number;
}

/** What the planner needs to know about the vision graph to respect device limits. */
export interface VisionSpec {
  /** Channels of the first stage: with the patch size it bounds the largest activation. */
  firstStageWidth: number | undefined;
  patchSize: number;
}

export interface ImageProcessorSpec {
  mean: [number, number, number];
  std: [number, number, number];
  rescaleFactor: number;
  loupe: LoupeImageConfig;
}

export interface TextModelSpec {
  hiddenSize: number;
  numLayers: number;
  numKeyValueHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositions: number;
}

export interface GenerationSpec {
  bosTokenId: number | undefined;
  eosTokenIds: number[];
  maxLength: number;
}

/** Everything the runtime needs to know about a bundle, parsed and checked once. */
export interface BundleSpec {
  baseUrl: string;
  modelType: string;
  imageTokenId: number;
  text: TextModelSpec;
  generation: GenerationSpec;
  image: ImageProcessorSpec;
  vision: VisionSpec;
  declaredDtypes: DtypeChoice | undefined;
}

type Json = Record<string, unknown>;

function object(value: unknown, file: string, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(file, path, 'an object', value);
  }
  return value as Json;
}

function invalid(file: string, path: string, expected: string, found: unknown): LoupeError {
  return new LoupeError(
    'BUNDLE_CONFIG_INVALID',
    `${file}: expected ${path} to be ${expected}, found ${JSON.stringify(found)}. Re-export the bundle or fix the file.`,
    { details: { file, path } },
  );
}

function integer(json: Json, key: string, file: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(file, key, 'an integer', value);
  return value;
}

function numbers3(value: unknown, file: string, path: string, fallback: [number, number, number]): [number, number, number] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => typeof v === 'number')) {
    throw invalid(file, path, 'three numbers', value);
  }
  return [value[0], value[1], value[2]] as [number, number, number];
}

const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
const STRATEGIES: readonly StrategyName[] = ['convllava-square', 'convllava-native', 'multicrop', 'pyramid', 'tiles'];

function parseTextConfig(config: Json): TextModelSpec {
  const file = 'config.json';
  const text = object(config.text_config ?? config, file, 'text_config');
  const hiddenSize = integer(text, 'hidden_size', file);
  const heads = integer(text, 'num_attention_heads', file);
  return {
    hiddenSize,
    numLayers: integer(text, 'num_hidden_layers', file),
    numKeyValueHeads: integer(text, 'num_key_value_heads', file, heads),
    headDim: integer(text, 'head_dim', file, hiddenSize / heads),
    vocabSize: integer(text, 'vocab_size', file, typeof config.vocab_size === 'number' ? config.vocab_size : undefined),
    maxPositions: integer(text, 'max_position_embeddings', file),
  };
}

function idList(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === 'number');
  return [];
}

function parseGeneration(config: Json, generation: Json, maxPositions: number): GenerationSpec {
  const text = (config.text_config ?? {}) as Json;
  const eos = idList(generation.eos_token_id ?? text.eos_token_id ?? config.eos_token_id);
  if (eos.length === 0) throw invalid('generation_config.json', 'eos_token_id', 'a token id or list of ids', generation.eos_token_id);
  const bos = generation.bos_token_id ?? text.bos_token_id;
  const maxLength = generation.max_length;
  return {
    bosTokenId: typeof bos === 'number' ? bos : undefined,
    eosTokenIds: eos,
    maxLength: typeof maxLength === 'number' ? Math.min(maxLength, maxPositions) : maxPositions,
  };
}

function parseLoupeConfig(preprocessor: Json): LoupeImageConfig {
  const file = 'preprocessor_config.json';
  const loupe = object(preprocessor.loupe ?? {}, file, 'loupe');
  const size = (preprocessor.crop_size ?? preprocessor.size ?? {}) as Json;
  const fallbackResolution = typeof size.height === 'number' ? size.height : typeof size.shortest_edge === 'number' ? size.shortest_edge : 336;
  const strategy = loupe.strategy ?? 'convllava-square';
  if (typeof strategy !== 'string' || !(STRATEGIES as readonly string[]).includes(strategy)) {
    throw invalid(file, 'loupe.strategy', `one of ${STRATEGIES.join(', ')}`, strategy);
  }
  const resolution = integer(loupe, 'resolution', file, fallbackResolution);
  const stride = integer(loupe, 'stride', file, 64);
  const resolutions = Array.isArray(loupe.resolutions) ? loupe.resolutions.filter((r): r is number => typeof r === 'number') : [resolution];
  return {
    strategy: strategy as StrategyName,
    resolution,
    resolutions,
    stride,
    padColor: numbers3(loupe.pad_color, file, 'loupe.pad_color', [122, 116, 104]),
    tokenBudget: integer(loupe, 'token_budget', file, 576),
    maxCrops: integer(loupe, 'max_crops', file, 100),
    numTokens: integer(loupe, 'num_tokens', file, 728),
    cropSize: integer(loupe, 'crop_size', file, 384),
    lowResolution: integer(loupe, 'low_resolution', file, Math.max(stride, Math.floor(resolution / 2 / stride) * stride)),
    tileSize: integer(loupe, 'tile_size', file, resolution),
    maxTiles: integer(loupe, 'max_tiles', file, 4),
  };
}

function parseVisionSpec(config: Json): VisionSpec {
  const vision = (config.vision_config ?? {}) as Json;
  const widths = vision.hidden_sizes;
  const first = Array.isArray(widths) && typeof widths[0] === 'number' ? widths[0] : undefined;
  return { firstStageWidth: first, patchSize: typeof vision.patch_size === 'number' ? vision.patch_size : 4 };
}

export interface BundleFiles {
  config: unknown;
  generationConfig: unknown;
  preprocessorConfig: unknown;
}

/** Turns the three JSON files of a bundle into a checked BundleSpec. */
export function parseBundleSpec(baseUrl: string, files: BundleFiles): BundleSpec {
  const config = object(files.config, 'config.json', '(root)');
  const generation = object(files.generationConfig ?? {}, 'generation_config.json', '(root)');
  const preprocessor = object(files.preprocessorConfig, 'preprocessor_config.json', '(root)');
  const text = parseTextConfig(config);
  const rescale = preprocessor.rescale_factor;
  const jsConfig = (config['transformers.js_config'] ?? {}) as Json;
  return {
    baseUrl,
    modelType: typeof config.model_type === 'string' ? config.model_type : 'llava',
    imageTokenId: integer(config, 'image_token_index', 'config.json', typeof config.image_token_id === 'number' ? config.image_token_id : undefined),
    text,
    generation: parseGeneration(config, generation, text.maxPositions),
    image: {
      mean: numbers3(preprocessor.image_mean, 'preprocessor_config.json', 'image_mean', CLIP_MEAN),
      std: numbers3(preprocessor.image_std, 'preprocessor_config.json', 'image_std', CLIP_STD),
      rescaleFactor: typeof rescale === 'number' ? rescale : 1 / 255,
      loupe: parseLoupeConfig(preprocessor),
    },
    vision: parseVisionSpec(config),
    declaredDtypes: jsConfig.dtype as DtypeChoice | undefined,
  };
}
