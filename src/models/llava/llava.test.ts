import { describe, expect, it } from 'vitest';
import { parseBundleSpec } from '../../bundle/bundle-spec';
import { planImage } from '../../plan';

const CLIP = { image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711] };

/** LLaVA-1.5 (CLIP ViT-L/14 at 336) as llava-hf ships it. */
const llava15 = {
  config: {
    model_type: 'llava',
    image_token_index: 32000,
    vision_feature_select_strategy: 'default',
    vision_config: { model_type: 'clip_vision_model', image_size: 336, patch_size: 14 },
    text_config: { model_type: 'llama', hidden_size: 4096, num_attention_heads: 32, num_hidden_layers: 32, vocab_size: 32064, max_position_embeddings: 4096, eos_token_id: 2 },
  },
  generationConfig: {},
  preprocessorConfig: { size: { shortest_edge: 336 }, crop_size: { height: 336, width: 336 }, do_center_crop: true, resample: 3, ...CLIP },
  processorConfig: { image_token: '<image>', patch_size: 14, num_additional_image_tokens: 0 },
};

/** llava-interleave-qwen-0.5b: SigLIP 384 stretched, no processor_config patch (from the tower). */
const interleave = {
  config: {
    model_type: 'llava',
    image_token_index: 151646,
    vision_config: { model_type: 'siglip_vision_model', image_size: 384, patch_size: 14 },
    text_config: { model_type: 'qwen2', hidden_size: 1024, num_attention_heads: 16, num_key_value_heads: 16, num_hidden_layers: 24, vocab_size: 152000, max_position_embeddings: 32768, eos_token_id: 151645 },
  },
  generationConfig: {},
  preprocessorConfig: { image_processor_type: 'SiglipImageProcessor', size: { height: 384, width: 384 }, resample: 3, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] },
};

describe('the llava family (CLIP / SigLIP towers)', () => {
  it('reads LLaVA-1.5: patch 14 at 336 gives 576 tokens, and pads with the mean colour when asked', () => {
    const spec = parseBundleSpec('http://x/', llava15);
    expect(spec.family).toBe('llava');
    expect(planImage(500, 375, spec.image.loupe).totalTokens).toBe(576);
    const padded = parseBundleSpec('http://x/', { ...llava15, preprocessorConfig: { ...llava15.preprocessorConfig, do_pad: true } });
    const plan = planImage(500, 375, padded.image.loupe);
    expect(plan.strategy).toBe('pad-square');
    expect(plan.inputs[0]).toMatchObject({ width: 336, height: 336, fill: [122, 116, 104], canvas: { width: 500, height: 500 }, placement: { x: 0, y: 62 } });
  });

  it('reads llava-interleave: SigLIP 384 stretched to 27 x 27 = 729 tokens', () => {
    const spec = parseBundleSpec('http://x/', interleave);
    const plan = planImage(640, 480, spec.image.loupe);
    expect(plan.strategy).toBe('stretch');
    expect(plan.totalTokens).toBe(729);
    expect(plan.inputs[0]).toMatchObject({ width: 384, height: 384, source: { x: 0, y: 0, width: 640, height: 480 } });
  });

  it('refuses another resolution for a fixed-size encoder, and a device too small for it, never shrinking it', () => {
    const spec = parseBundleSpec('http://x/', llava15);
    expect(() => planImage(500, 375, spec.image.loupe, { resolution: 448 })).toThrow(/takes exactly 336 x 336/);
    const roomy = planImage(500, 375, { config: spec.image.loupe, vision: spec.vision, limits: { maxStorageBufferBindingSize: 128 * 2 ** 20 } });
    expect(roomy.totalTokens).toBe(576);
    expect(() => planImage(500, 375, { config: spec.image.loupe, vision: spec.vision, limits: { maxStorageBufferBindingSize: 2 ** 16 } })).toThrow(
      expect.objectContaining({ code: 'DEVICE_LIMIT', message: expect.stringMatching(/fixed input size.*device: 'wasm'/) }),
    );
  });

});
