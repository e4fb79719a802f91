import { describe, expect, it } from 'vitest';
import { parseBundleSpec } from '../bundle/bundle-spec';
import { checkGraphLayout } from '../bundle/graph-layout';
import { LoupeError } from '../errors';
import { outputSize, planImage, planOverlay } from '../plan';
import { FAMILIES, resolveFamily } from './registry';
import { ECOSYSTEM_KV, kvNames, presentToPast } from './kv-layout';

/** FastVLM-0.5B-ONNX's files as published (shared/REAL-MODELS.md §1): flat Qwen2 config. */
const fastVlm = {
  config: {
    model_type: 'llava_qwen2',
    hidden_size: 896,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    num_hidden_layers: 24,
    vocab_size: 151936,
    max_position_embeddings: 32768,
    image_token_index: 151646,
    bos_token_id: 151643,
    eos_token_id: 151645,
  },
  generationConfig: { bos_token_id: 151643, eos_token_id: 151645 },
  preprocessorConfig: {
    image_processor_type: 'CLIPImageProcessor',
    size: { shortest_edge: 1024 },
    crop_size: { height: 1024, width: 1024 },
    do_center_crop: true,
    resample: 3,
    image_mean: [0, 0, 0],
    image_std: [1, 1, 1],
  },
  processorConfig: { processor_class: 'LlavaProcessor', image_token: '<image>', patch_size: 64, num_additional_image_tokens: 0 },
};

describe('model families', () => {
  it('reads FastVLM: flat config, derived head_dim, centre crop of stride 64', () => {
    const spec = parseBundleSpec('http://x/', fastVlm);
    expect(spec.family).toBe('llava_qwen2');
    expect(spec.text).toEqual({ hiddenSize: 896, numLayers: 24, numKeyValueHeads: 2, headDim: 64, vocabSize: 151936, maxPositions: 32768 });
    expect(spec.imageTokenId).toBe(151646);
    // config.json's image_aspect_ratio is Apple's training setting; the processor files decide.
    expect(parseBundleSpec('http://x/', { ...fastVlm, config: { ...fastVlm.config, image_aspect_ratio: 'pad' } }).image.loupe.strategy).toBe('center-crop');
    expect(spec.imageToken).toBe('<image>');
    expect(spec.generation.eosTokenIds).toEqual([151645]);
    expect(spec.image).toMatchObject({ mean: [0, 0, 0], std: [1, 1, 1] });
    expect(spec.image.loupe).toMatchObject({ strategy: 'center-crop', resolution: 1024, shortestEdge: 1024, stride: 64, fixedSize: true });
    // 4032 x 3024: the short side becomes 1024, the long int(1024 * 4032 / 3024) = 1365; crop at (1365 - 1024) // 2.
    const plan = planImage(4032, 3024, spec.image.loupe);
    const input = plan.inputs[0]!;
    expect(plan.totalTokens).toBe(256);
    expect([input.width, input.height]).toEqual([1365, 1024]);
    expect(input.window).toEqual({ x: 170, y: 0, width: 1024, height: 1024 });
    expect(outputSize(input)).toEqual({ width: 1024, height: 1024 });
    // The overlay shows the square of the photo the crop keeps.
    const box = planOverlay(plan)[0]!;
    expect([box.x, box.y, box.width, box.height].map(Math.round)).toEqual([502, 0, 3025, 3024]);
  });

  it('keeps Loupe bundles on ConvLLaVA, and a loupe key overrides any family', () => {
    const text_config = { hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, vocab_size: 512, max_position_embeddings: 512, eos_token_id: 2 };
    const convnext = { ...fastVlm, config: { model_type: 'llava', image_token_index: 3, vision_config: { model_type: 'convnext', hidden_sizes: [8, 16], patch_size: 4 }, text_config } };
    expect(parseBundleSpec('http://x/', convnext).family).toBe('convllava');
    const withKey = parseBundleSpec('http://x/', { ...fastVlm, preprocessorConfig: { ...fastVlm.preprocessorConfig, loupe: { strategy: 'convllava-native', stride: 64, resolution: 1024 } } });
    expect(withKey.image.loupe.strategy).toBe('convllava-native');
  });

  it('names the supported families when model_type is unknown', () => {
    const attempt = (config: Record<string, unknown>) => {
      try {
        parseBundleSpec('http://x/', { ...fastVlm, config });
      } catch (error) {
        return error as LoupeError;
      }
      throw new Error('expected UNSUPPORTED_MODEL');
    };
    const qwenVl = attempt({ ...fastVlm.config, model_type: 'qwen2_vl' });
    expect(qwenVl.code).toBe('UNSUPPORTED_MODEL');
    expect(qwenVl.message).toMatch(/model_type "qwen2_vl".*Supported: .*ConvLLaVA.*FastVLM/);
    expect(attempt({ model_type: 'llava', vision_config: { model_type: 'pixtral' } }).message).toMatch(/vision_config.model_type "pixtral"/);
    expect(FAMILIES.map((f) => f.name)).toContain('llava_qwen2');
    expect(() => resolveFamily({})).toThrow(/no model_type/);
  });

  it('refuses a resample filter Loupe cannot reproduce', () => {
    expect(() => parseBundleSpec('http://x/', { ...fastVlm, preprocessorConfig: { ...fastVlm.preprocessorConfig, resample: 1 } })).toThrow(/resample/);
  });
});

describe('KV cache names', () => {
  it('come from the family layout, and present outputs map to the next past inputs', () => {
    expect(kvNames(ECOSYSTEM_KV.past, 2)).toEqual(['past_key_values.0.key', 'past_key_values.0.value', 'past_key_values.1.key', 'past_key_values.1.value']);
    expect(presentToPast(ECOSYSTEM_KV, 2).get('present.1.value')).toBe('past_key_values.1.value');
    expect(presentToPast(ECOSYSTEM_KV, 2).get('logits')).toBeUndefined();
    const other = { past: 'cache.{layer}.{kind}_in', present: 'cache.{layer}.{kind}_out' };
    const inputs = ['inputs_embeds', 'attention_mask', ...kvNames(other.past, 1)];
    expect(() => checkGraphLayout('decoder_model_merged', 'd', 1, { inputNames: inputs, outputNames: ['logits', ...kvNames(other.present, 1)] }, other)).not.toThrow();
  });

  it('accept a decoder that declares num_logits_to_keep', () => {
    const inputs = ['inputs_embeds', 'attention_mask', 'position_ids', 'num_logits_to_keep', ...kvNames(ECOSYSTEM_KV.past, 1)];
    expect(() => checkGraphLayout('decoder_model_merged', 'd', 1, { inputNames: inputs, outputNames: ['logits', ...kvNames(ECOSYSTEM_KV.present, 1)] })).not.toThrow();
  });
});
