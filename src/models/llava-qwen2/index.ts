import type { Json } from '../../bundle/json';
import type { ModelFamily } from '../family';
import { hfImageConfig, placeholder, processorTokens } from '../hf-processor';
import { ECOSYSTEM_KV } from '../kv-layout';

/** FastViTHD's total stride: one token per 64 x 64 pixels. */
const FASTVIT_STRIDE = 64;

/**
 * FastVLM (`llava_qwen2`): a flat config (the Qwen2 decoder's keys at the root), a
 * FastViTHD hybrid conv encoder of stride 64 whose graph already projects to the decoder
 * width, and CLIPImageProcessor's resize + centre crop. The encoder is convolutional
 * first, but the published processor only ever feeds its crop size, so Loupe does too.
 */
export const llavaQwen2: ModelFamily = {
  name: 'llava_qwen2',
  modelTypes: ['llava_qwen2'],
  describe: 'llava_qwen2 (FastVLM)',
  accepts: () => true,
  textConfig: (config: Json) => config,
  imageToken: placeholder,
  imageConfig: (files) => {
    const { patch, extra } = processorTokens(files.processor, FASTVIT_STRIDE);
    return hfImageConfig(files, patch, extra, true);
  },
  kv: ECOSYSTEM_KV,
};
