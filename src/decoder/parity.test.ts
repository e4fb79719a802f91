import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_DIR, FIXTURE_DIR, bundleSpec, cosine, golden, maxAbsDiff, readBytes, readF32 } from '../testing/fixtures';
import { ort } from '../device/ort';
import { foldInt8Weights } from '../device/session';
import { openModule } from '../testing/sessions';
import { encodePlan } from '../vision';
import { planImage } from '../plan';
import { argmax } from '../tokens';
import { KvCache } from './kv-cache';
import { LanguageModel } from './language-model';
import { generate } from './generate';

/**
 * The runtime's numeric path against the PyTorch reference (golden values written by
 * training/make_tiny_bundle.py), on onnxruntime-web's wasm backend in Node.
 */
const spec = bundleSpec();
const encodePixels = (session: Awaited<ReturnType<typeof openModule>>, tensor: Float32Array, width: number, height: number) =>
  encodePlan(session, planImage(width, height, spec.image.loupe, { strategy: 'convllava-native', tokenBudget: (width * height) / 64 ** 2 }), [tensor]);
const g = golden();
const pixels = readF32(`${FIXTURE_DIR}pixel_values.f32`);
const goldenFeatures = readF32(`${FIXTURE_DIR}image_features.f32`);
const goldenLogits = readF32(`${FIXTURE_DIR}first_logits.f32`);
const image = { span: { start: g.input_ids_expanded.indexOf(3), length: g.num_image_tokens }, features: goldenFeatures };

async function languageModel(embed: 'fp32' | 'int8', decoder: 'fp32' | 'q4'): Promise<LanguageModel> {
  return new LanguageModel(spec, await openModule('embed_tokens', embed), await openModule('decoder_model_merged', decoder));
}

function greedy(model: LanguageModel, cache: KvCache, ids: readonly number[], maxNewTokens = 16) {
  return generate(model, cache, {
    ids,
    image,
    maxNewTokens,
    eosTokenIds: spec.generation.eosTokenIds,
    pick: argmax,
    onToken: () => undefined,
    cancelled: () => false,
  });
}

describe('vision_encoder parity', () => {
  it('fp32 reproduces the PyTorch image features', async () => {
    const session = await openModule('vision_encoder', 'fp32');
    const encoded = await encodePixels(session, pixels, 128, 128);
    expect([encoded.tokens, encoded.hidden]).toEqual(g.image_features.shape.slice(1));
    expect(maxAbsDiff(encoded.features, goldenFeatures)).toBeLessThan(1e-4);
    expect(maxAbsDiff(encoded.features.slice(0, 16), g.image_features.slice)).toBeLessThan(1e-4);
    await session.release();
  });

  it('int8 weights stay within cosine 0.99 of fp32', async () => {
    const session = await openModule('vision_encoder', 'int8');
    const encoded = await encodePixels(session, pixels, 128, 128);
    expect(cosine(encoded.features, goldenFeatures)).toBeGreaterThanOrEqual(0.99);
    await session.release();
  });

  it('int8 folded to fp32 at load (the wasm default) equals int8 dequantized every run', async () => {
    expect(foldInt8Weights({ module: 'vision_encoder', dtype: 'int8', provider: 'wasm', bytes: new Uint8Array(10) })).toBe(true);
    expect(foldInt8Weights({ module: 'embed_tokens', dtype: 'int8', provider: 'wasm', bytes: new Uint8Array(10) })).toBe(false);
    expect(foldInt8Weights({ module: 'vision_encoder', dtype: 'int8', provider: 'webgpu', bytes: new Uint8Array(10) })).toBe(false);
    const folded = await openModule('vision_encoder', 'int8');
    const asStored = await ort.InferenceSession.create(readBytes(`${BUNDLE_DIR}onnx/vision_encoder_int8.onnx`), { executionProviders: ['wasm'] });
    const a = await encodePixels(folded, pixels, 128, 128);
    const b = await encodePixels(asStored, pixels, 128, 128);
    expect(maxAbsDiff(a.features, b.features)).toBeLessThan(1e-5);
    await folded.release();
    await asStored.release();
  });

  it('accepts any size that is a multiple of the stride (native aspect)', async () => {
    const session = await openModule('vision_encoder', 'fp32');
    const encoded = await encodePixels(session, new Float32Array(3 * 128 * 256), 256, 128);
    expect(encoded.tokens).toBe(2 * 4);
    await session.release();
  });
});

describe('decoder parity', () => {
  let fp32: LanguageModel;
  beforeAll(async () => {
    fp32 = await languageModel('fp32', 'fp32');
  });
  afterAll(async () => {
    await fp32.release();
  });

  it('fp32 first-step logits match PyTorch within 1e-3', async () => {
    const cache = new KvCache(spec.text);
    const logits = await fp32.step(g.input_ids_expanded, cache, image);
    expect(maxAbsDiff(logits, goldenLogits)).toBeLessThan(1e-3);
    expect(argmax(logits)).toBe(g.first_logits.argmax);
    expect(cache.length).toBe(g.input_ids_expanded.length);
    cache.clear();
  });

  it('fp32 greedy decoding reproduces the 16 PyTorch token ids exactly', async () => {
    const cache = new KvCache(spec.text);
    const result = await greedy(fp32, cache, g.input_ids_expanded);
    expect(result.tokenIds).toEqual(g.greedy_ids);
    expect(result.stopReason).toBe('max-tokens');
    // The cache covers the prompt and every generated token but the last (never fed back).
    expect(cache.length).toBe(g.input_ids_expanded.length + 15);
    cache.clear();
  });

  it('a follow-up turn reuses the cached prefix and gives the same logits as a fresh prefill', async () => {
    const cache = new KvCache(spec.text);
    const first = await greedy(fp32, cache, g.input_ids_expanded, 4);
    const followUp = [...g.input_ids_expanded, ...first.tokenIds, 2, 100, 101, 102];
    const reused = await greedy(fp32, cache, followUp, 4);
    expect(reused.reusedTokens).toBe(g.input_ids_expanded.length + 3);
    const fresh = await greedy(fp32, new KvCache(spec.text), followUp, 4);
    expect(fresh.reusedTokens).toBe(0);
    expect(reused.tokenIds).toEqual(fresh.tokenIds);
  });

  it('a diverging prompt truncates the CPU cache to the common prefix and stays exact', async () => {
    const cache = new KvCache(spec.text);
    await greedy(fp32, cache, g.input_ids_expanded, 2);
    const edited = [...g.input_ids_expanded.slice(0, -3), 120, 121, 122];
    expect(await cache.prepare(edited)).toEqual({ keep: edited.length - 3, truncate: true });
    const truncated = await fp32.step(edited, cache, image);
    const fresh = await fp32.step(edited, new KvCache(spec.text), image);
    expect(maxAbsDiff(truncated, fresh)).toBeLessThan(1e-4);
  });

  it('a new image keeps the template text before it cached (forgetFrom) and stays exact', async () => {
    const cache = new KvCache(spec.text);
    await greedy(fp32, cache, g.input_ids_expanded, 4);
    cache.forgetFrom(3);
    const start = g.input_ids_expanded.indexOf(3);
    const again = await greedy(fp32, cache, g.input_ids_expanded);
    expect(again.reusedTokens).toBe(start);
    expect(again.tokenIds).toEqual(g.greedy_ids);
    // Nothing of the image in the cache: all of it stays.
    const text = new KvCache(spec.text);
    await fp32.step([1, 100, 101], text);
    text.forgetFrom(3);
    expect(text.tokens).toEqual([1, 100, 101]);
  });

  it('q4 decoder with int8 embeddings stays within cosine 0.99 of the fp32 logits', async () => {
    const q4 = await languageModel('int8', 'q4');
    const logits = await q4.step(g.input_ids_expanded, new KvCache(spec.text), image);
    expect(cosine(logits, goldenLogits)).toBeGreaterThanOrEqual(0.99);
    // And it computes what its own (dequantized) weights say it should.
    const embedFp32 = await languageModel('fp32', 'q4');
    const exact = await embedFp32.step(g.input_ids_expanded, new KvCache(spec.text), image);
    expect(maxAbsDiff(exact, readF32(`${FIXTURE_DIR}first_logits_q4_reference.f32`))).toBeLessThan(1e-3);
    await q4.release();
    await embedFp32.release();
  });

  it('refuses a prompt longer than the context with a typed error, leaving the cache usable', async () => {
    const cache = new KvCache(spec.text);
    const tooLong = new Array<number>(spec.text.maxPositions).fill(100);
    await expect(greedy(fp32, cache, tooLong)).rejects.toMatchObject({ code: 'PROMPT_TOO_LONG' });
    const result = await greedy(fp32, cache, g.input_ids_expanded);
    expect(result.tokenIds).toEqual(g.greedy_ids);
  });

  it('suppresses end-of-sequence until minNewTokens, then stops on it', async () => {
    const eos = g.greedy_ids[0]!;
    const result = await generate(fp32, new KvCache(spec.text), {
      ids: g.input_ids_expanded,
      image,
      maxNewTokens: 16,
      minNewTokens: 4,
      eosTokenIds: [eos],
      pick: argmax,
      onToken: () => undefined,
      cancelled: () => false,
    });
    expect(result.tokenIds.length).toBeGreaterThanOrEqual(4);
    expect(result.tokenIds.slice(0, 4)).not.toContain(eos);
    const plain = await generate(fp32, new KvCache(spec.text), { ids: g.input_ids_expanded, image, maxNewTokens: 16, eosTokenIds: [eos], pick: argmax, onToken: () => undefined, cancelled: () => false });
    expect(plain).toMatchObject({ tokenIds: [], stopReason: 'eos' });
  });

  it('stops within one token when cancelled', async () => {
    const cache = new KvCache(spec.text);
    let seen = 0;
    const result = await generate(fp32, cache, {
      ids: g.input_ids_expanded,
      image,
      maxNewTokens: 16,
      eosTokenIds: spec.generation.eosTokenIds,
      pick: argmax,
      onToken: () => void seen++,
      cancelled: () => seen >= 3,
    });
    expect(result.stopReason).toBe('aborted');
    expect(result.tokenIds).toEqual(g.greedy_ids.slice(0, 3));
  });
});

describe('image rows are found by position', () => {
  it('a generated token that shares the placeholder id is text, not image', async () => {
    const model = await languageModel('fp32', 'fp32');
    const cache = new KvCache(spec.text);
    await model.step(g.input_ids_expanded, cache, image);
    // Feeding the placeholder id after the prompt must not pull in an image row.
    await expect(model.step([...g.input_ids_expanded, 3], cache, image)).resolves.toHaveLength(spec.text.vocabSize);
    await model.release();
  });
});
