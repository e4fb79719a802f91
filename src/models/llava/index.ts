import { integer, section, type Json } from '../../bundle/json';
import type { ModelFamily } from '../family';
import { hfImageConfig, placeholder, processorTokens } from '../hf-processor';
import { ECOSYSTEM_KV } from '../kv-layout';

// `vit`: Loupe-Synth's ViT-336 control (training/vlm/vit.py), a patch-14 ViT without CLS.
const VIT_TOWERS = ['clip_vision_model', 'siglip_vision_model', 'clip', 'siglip', 'vit'];

/**
 * LLaVA-1.5 / LLaVA-interleave: `llava` with a CLIP or SigLIP ViT. The tower has learned
 * position embeddings, so it takes exactly its `image_size`; the processor centre-crops
 * (CLIP), stretches (SigLIP) or pads (`image_aspect_ratio: pad`) to it. The graph's
 * output already has the feature selection applied (CLS dropped for "default").
 */
export const llavaVit: ModelFamily = {
  name: 'llava',
  modelTypes: ['llava'],
  describe: 'llava with a clip_vision_model, siglip_vision_model or vit vision_config (LLaVA-1.5, LLaVA-interleave, the Loupe-Synth ViT control)',
  accepts: (config: Json) => VIT_TOWERS.includes(String(section(config, 'vision_config', 'config.json').model_type)),
  textConfig: (config: Json) => section(config, 'text_config', 'config.json'),
  imageToken: placeholder,
  imageConfig: (files) => {
    const vision = section(files.config, 'vision_config', 'config.json');
    const { patch, extra } = processorTokens(files.processor, integer(vision, 'patch_size', 'config.json'));
    return hfImageConfig(files, patch, extra, true);
  },
  kv: ECOSYSTEM_KV,
};
