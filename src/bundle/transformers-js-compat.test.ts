import { env, LlavaForConditionalGeneration, Tensor } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { FIXTURE_DIR, ROOT, golden, readF32 } from '../testing/fixtures';

/**
 * The bundle layout is the ecosystem's: transformers.js v4 (here on onnxruntime-node, native
 * CPU) loads the tiny bundle unchanged as a LLaVA model and generates the same greedy tokens
 * as PyTorch and as Loupe. This is what lets the benchmark compare the two on one bundle.
 */
describe('transformers.js loads a Loupe bundle as a LLaVA model', () => {
  it('and generates the PyTorch golden tokens', async () => {
    env.allowRemoteModels = false;
    env.localModelPath = `${ROOT}public/models/`;
    const g = golden();
    const model = await LlavaForConditionalGeneration.from_pretrained('tiny-random-convllava', {
      dtype: { vision_encoder: 'fp32', embed_tokens: 'fp32', decoder_model_merged: 'fp32' },
      device: 'cpu',
    });
    const ids = g.input_ids_expanded;
    const output = (await model.generate({
      input_ids: new Tensor('int64', BigInt64Array.from(ids, (id) => BigInt(id)), [1, ids.length]),
      attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
      pixel_values: new Tensor('float32', readF32(`${FIXTURE_DIR}pixel_values.f32`), [1, 3, g.resolution, g.resolution]),
      max_new_tokens: 16,
      do_sample: false,
    } as never)) as Tensor;
    const generated = Array.from(output.data as BigInt64Array, Number).slice(ids.length);
    expect(generated).toEqual(g.greedy_ids);
    await model.dispose();
  });
});
