import type { LoupeImageConfig } from '../../bundle/image-config';
import { integer, section, type Json } from '../../bundle/json';
import type { FamilyFiles, ModelFamily } from '../family';
import { hfImageConfig, placeholder } from '../hf-processor';
import { ECOSYSTEM_KV } from '../kv-layout';

/** SigLIP's processor as MC-LLaVA's crops: fixed size, patch 0 dropped, MC-LLaVA's knob defaults. */
function multicropOverSiglip(files: FamilyFiles): LoupeImageConfig {
  const vision = section(files.config, 'vision_config', 'config.json');
  const siglip = hfImageConfig(files, integer(vision, 'patch_size', 'config.json', 14), -1, true);
  return { ...siglip, strategy: 'multicrop', cropSize: siglip.resolution, maxCrops: 100, numTokens: 728 };
}

/**
 * MC-LLaVA (`mc-llava`): a fixed-size SigLIP tower run on the whole image and on
 * overlapping crops, each crop's centre fed as `coords` to the graph's coordinate
 * embedding; SigLIP's last hidden state without patch 0 (one token fewer than the patch
 * grid), of which each image keeps its last tokens (REFERENCE §2). SigLIP's processor
 * (mean 0.5, std 0.5, bicubic, `size`) squashes each crop; `max_crops` and `num_tokens`
 * come from the `loupe` key, else MC-LLaVA's defaults (100, 728).
 */
export const mcLlava: ModelFamily = {
  name: 'mc-llava',
  modelTypes: ['mc-llava'],
  describe: 'mc-llava (MC-LLaVA: SigLIP crops with coordinates)',
  accepts: () => true,
  textConfig: (config: Json) => section(config, 'text_config', 'config.json'),
  imageToken: placeholder,
  imageConfig: (files) => multicropOverSiglip(files),
  loupeBase: (files) => multicropOverSiglip(files),
  kv: ECOSYSTEM_KV,
};
