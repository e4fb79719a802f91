import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_DIR, bundleSpec, golden, maxAbsDiff, readF32 } from '../testing/fixtures';
import { openModule } from '../testing/sessions';
import { argmax } from '../tokens';
import { EvidenceSum } from './evidence';
import { KvCache } from './kv-cache';
import { LanguageModel } from './language-model';
import { generate } from './generate';

/**
 * The answer's evidence (issue #16) against PyTorch: training/make_tiny_bundle.py writes
 * evidence.f32 from one full forward (training/evidence.py); the runtime builds it one
 * decoder step at a time from the `attention_last` output.
 */
const spec = bundleSpec();
const g = golden();
const image = { span: { start: g.input_ids_expanded.indexOf(3), length: g.num_image_tokens }, features: readF32(`${FIXTURE_DIR}image_features.f32`) };
const expected = readF32(`${FIXTURE_DIR}evidence.f32`);

function answer(model: LanguageModel, evidence: boolean, eosTokenIds = spec.generation.eosTokenIds) {
  return generate(model, new KvCache(spec.text), { ids: g.input_ids_expanded, image, maxNewTokens: 16, eosTokenIds, pick: argmax, onToken: () => undefined, cancelled: () => false, evidence });
}

describe('answer evidence', () => {
  let fp32: LanguageModel;
  beforeAll(async () => {
    fp32 = new LanguageModel(spec, await openModule('embed_tokens', 'fp32'), await openModule('decoder_model_merged', 'fp32'));
  });
  afterAll(async () => {
    await fp32.release();
  });

  it('fp32 matches PyTorch within 1e-3 over the 16 greedy tokens', async () => {
    expect(fp32.hasEvidence).toBe(true);
    const result = await answer(fp32, true);
    expect(result.tokenIds).toEqual(g.greedy_ids);
    expect(result.evidence).toHaveLength(g.num_image_tokens);
    expect(maxAbsDiff(result.evidence!, expected)).toBeLessThan(1e-3);
    expect(maxAbsDiff(result.evidence!.slice(0, 4), g.evidence.slice)).toBeLessThan(1e-3);
  });

  it('is absent unless asked for, and asking changes neither the tokens nor the logits read', async () => {
    const plain = await answer(fp32, false);
    const withEvidence = await answer(fp32, true);
    expect(plain.evidence).toBeUndefined();
    expect(plain.tokenIds).toEqual(withEvidence.tokenIds);
    expect(plain.logitsReadBytes).toBe(withEvidence.logitsReadBytes);
  });

  it('q4 decoder carries the output too, close to fp32', async () => {
    const q4 = new LanguageModel(spec, await openModule('embed_tokens', 'fp32'), await openModule('decoder_model_merged', 'q4'));
    const result = await answer(q4, true);
    expect(maxAbsDiff(result.evidence!, expected)).toBeLessThan(0.05);
    await q4.release();
  });

  it('leaves out the row of an end-of-sequence token', async () => {
    // The third greedy token as end-of-sequence: two tokens kept, their two rows averaged.
    const stopAt = g.greedy_ids[2]!;
    const result = await answer(fp32, true, [stopAt]);
    expect(result.tokenIds).toEqual(g.greedy_ids.slice(0, 2));
    const sum = new EvidenceSum(image.span);
    const model = fp32;
    const cache = new KvCache(spec.text);
    await model.step(g.input_ids_expanded, cache, image, sum);
    sum.keep();
    await model.step([...g.input_ids_expanded, g.greedy_ids[0]!], cache, image, sum);
    sum.keep();
    expect(maxAbsDiff(result.evidence!, sum.mean())).toBeLessThan(1e-6);
  });

  it('a decoder without the output refuses evidence with a typed error', async () => {
    const dir = 'public/models/tiny-random-llava15/';
    const bare = new LanguageModel(spec, await openModule('embed_tokens', 'fp32'), await openModule('decoder_model_merged', 'fp32', 2, dir));
    expect(bare.hasEvidence).toBe(false);
    await expect(answer(bare, true)).rejects.toMatchObject({ code: 'UNSUPPORTED_MODEL' });
    await bare.release();
  });
});
