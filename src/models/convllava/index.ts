import { parseLoupeConfig } from '../../bundle/image-config';
import { section, type Json } from '../../bundle/json';
import type { ModelFamily } from '../family';
import { placeholder } from '../hf-processor';
import { ECOSYSTEM_KV } from '../kv-layout';

/**
 * Loupe's ConvLLaVA: `llava` with a ConvNeXt tower (5 stages, total stride 64), a Llama
 * decoder under `text_config`, any resolution that is a multiple of the stride, and the
 * strategies of the `loupe` key (convllava-square by default, as the released processor).
 */
export const convLlava: ModelFamily = {
  name: 'convllava',
  modelTypes: ['llava'],
  describe: 'llava with a convnext vision_config (ConvLLaVA)',
  accepts: (config: Json) => section(config, 'vision_config', 'config.json').model_type === 'convnext',
  textConfig: (config: Json) => section(config, 'text_config', 'config.json'),
  imageToken: placeholder,
  imageConfig: (files) => parseLoupeConfig(files.preprocessor),
  kv: ECOSYSTEM_KV,
};
