import { defaultImageConfig, parseLoupeConfig, type LoupeImageConfig } from '../../bundle/image-config';
import { section, type Json } from '../../bundle/json';
import type { FamilyFiles, ModelFamily } from '../family';
import { placeholder } from '../hf-processor';
import { ECOSYSTEM_KV } from '../kv-layout';

/** PIIP's knobs under a bundle's `loupe` key, over the pyramid defaults (half-size low branch). */
function pyramidConfig(files: FamilyFiles): LoupeImageConfig {
  const loupe = (files.preprocessor.loupe ?? {}) as Json;
  const base = defaultImageConfig(typeof loupe.resolution === 'number' ? loupe.resolution : 1024, typeof loupe.stride === 'number' ? loupe.stride : 32);
  return parseLoupeConfig(files.preprocessor, { ...base, strategy: 'pyramid', padColor: [123, 116, 103] });
}

/**
 * PIIP-LLaVA (`llava` with a `piip` vision_config): a parameter-inverted pyramid whose
 * vision graph takes the padded high-resolution image as `pixel_values` and the bilinear
 * downscale of its normalised tensor as `pixel_values_low`, merges both branches on the
 * high grid and returns one token per stride cell of it (REFERENCE §3). Llama decoder under
 * `text_config`, vicuna_v1 prompt; `vision_config.low_branch` describes the wider branch.
 */
export const piip: ModelFamily = {
  name: 'piip',
  modelTypes: ['llava'],
  describe: 'llava with a piip vision_config (PIIP-LLaVA: two-branch pyramid)',
  accepts: (config: Json) => section(config, 'vision_config', 'config.json').model_type === 'piip',
  textConfig: (config: Json) => section(config, 'text_config', 'config.json'),
  imageToken: placeholder,
  imageConfig: pyramidConfig,
  loupeBase: pyramidConfig,
  kv: ECOSYSTEM_KV,
};
