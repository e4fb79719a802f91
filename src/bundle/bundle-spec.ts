import { resolveFamily, type KvLayout } from '../models/registry';
import type { DtypeChoice } from './dtype';
import { parseExternalData, type ExternalDataSpec } from './external-data';
import { parseLoupeConfig, type LoupeImageConfig } from './image-config';
import { integer, invalid, numbers3, object, type Json } from './json';

/** What the planner needs to know about the vision graph to respect device limits. */
export interface VisionSpec {
  /** ConvNeXt: channels of the first stage; with the patch size it bounds the largest activation. */
  firstStageWidth: number | undefined;
  patchSize: number;
  /** ViT (no stages): token width, MLP width and heads bound its activations instead. */
  hiddenSize?: number;
  intermediateSize?: number;
  heads?: number;
  /** PIIP: the branch on the low-resolution input (`vision_config.low_branch`). */
  low?: VisionSpec;
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
  /** The registry family that runs this bundle (src/models). */
  family: string;
  imageTokenId: number;
  /** The placeholder a user message holds once per image. */
  imageToken: string;
  /** Names of the decoder's cache inputs and outputs. */
  kv: KvLayout;
  text: TextModelSpec;
  generation: GenerationSpec;
  image: ImageProcessorSpec;
  vision: VisionSpec;
  declaredDtypes: DtypeChoice | undefined;
  /** Which graphs keep their weights in external data files. */
  externalData: ExternalDataSpec;
}

const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

function parseTextConfig(config: Json, text: Json): TextModelSpec {
  const file = 'config.json';
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

function parseVisionSpec(config: Json): VisionSpec {
  return visionSpecOf((config.vision_config ?? {}) as Json);
}

function visionSpecOf(vision: Json): VisionSpec {
  const widths = vision.hidden_sizes;
  const first = Array.isArray(widths) && typeof widths[0] === 'number' ? widths[0] : undefined;
  const num = (key: string) => (typeof vision[key] === 'number' ? (vision[key] as number) : undefined);
  const spec: VisionSpec = { firstStageWidth: first, patchSize: num('patch_size') ?? 4 };
  const hidden = num('hidden_size');
  if (first === undefined && hidden !== undefined) {
    spec.hiddenSize = hidden;
    spec.intermediateSize = num('intermediate_size') ?? 4 * hidden;
    spec.heads = num('num_attention_heads') ?? 1;
  }
  if (vision.low_branch && typeof vision.low_branch === 'object') spec.low = visionSpecOf(vision.low_branch as Json);
  return spec;
}

export interface BundleFiles {
  config: unknown;
  generationConfig: unknown;
  preprocessorConfig: unknown;
  /** processor_config.json, where the bundle has one (LlavaProcessor's token counting). */
  processorConfig?: unknown;
}

/**
 * Turns a bundle's JSON files into a checked BundleSpec. The family (by `model_type`)
 * says where the text config is, what the image placeholder is and how images are
 * prepared; a `loupe` key in preprocessor_config.json overrides the latter.
 */
export function parseBundleSpec(baseUrl: string, files: BundleFiles): BundleSpec {
  const config = object(files.config, 'config.json', '(root)');
  const generation = object(files.generationConfig ?? {}, 'generation_config.json', '(root)');
  const preprocessor = object(files.preprocessorConfig, 'preprocessor_config.json', '(root)');
  const processor = object(files.processorConfig ?? {}, 'processor_config.json', '(root)');
  const family = resolveFamily(config);
  const familyFiles = { config, preprocessor, processor };
  const text = parseTextConfig(config, family.textConfig(config));
  const rescale = preprocessor.rescale_factor;
  const jsConfig = (config['transformers.js_config'] ?? {}) as Json;
  // HF processors skip a step whose flag is false: no normalisation is mean 0, std 1.
  const normalize = preprocessor.do_normalize !== false;
  return {
    baseUrl,
    modelType: String(config.model_type),
    family: family.name,
    imageTokenId: integer(config, 'image_token_index', 'config.json', typeof config.image_token_id === 'number' ? config.image_token_id : undefined),
    imageToken: family.imageToken(familyFiles),
    kv: family.kv,
    text,
    generation: parseGeneration(config, generation, text.maxPositions),
    image: {
      mean: normalize ? numbers3(preprocessor.image_mean, 'preprocessor_config.json', 'image_mean', CLIP_MEAN) : [0, 0, 0],
      std: normalize ? numbers3(preprocessor.image_std, 'preprocessor_config.json', 'image_std', CLIP_STD) : [1, 1, 1],
      rescaleFactor: preprocessor.do_rescale === false ? 1 : typeof rescale === 'number' ? rescale : 1 / 255,
      loupe: preprocessor.loupe !== undefined ? parseLoupeConfig(preprocessor, family.loupeBase?.(familyFiles)) : family.imageConfig(familyFiles),
    },
    vision: parseVisionSpec(config),
    declaredDtypes: jsConfig.dtype as DtypeChoice | undefined,
    externalData: parseExternalData(jsConfig),
  };
}
