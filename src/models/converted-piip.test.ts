import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvCache } from '../decoder/kv-cache';
import { LanguageModel } from '../decoder/language-model';
import { RasterSource, renderPlan } from '../pixels';
import { planImage } from '../plan';
import { ROOT, bundleSpec, cosine, decodePng, maxAbsDiff, readBytes, readF32, readJson } from '../testing/fixtures';
import { greedyIds } from '../testing/language-parity';
import { openModule } from '../testing/sessions';
import { BundleTokenizer, argmax } from '../tokens';
import { encodePlan } from '../vision';

/**
 * `npm run convert` on a tiny PIIP-LLaVA release (bf16 .bin shards + index, the tower's
 * config .py, CLIP branch1 + timm ConvNeXt branch2 + deformable interaction units, the
 * two-branch GroupNorm projector, -200 image index, SentencePiece; training/convert/
 * tiny_release.py), checked against the PyTorch reference that runs the checkpoint's own
 * tensors with grid_sample (training/convert/reference_piip.py, goldens.py).
 */
interface Stats {
  shape: number[];
  mean: number;
  min: number;
  max: number;
}
interface PiipGolden {
  question: string;
  image: string;
  resolution: number;
  low_resolution: number;
  prompt_ids_llava: number[];
  image_token_id: number;
  num_image_tokens: number;
  pixel_values: Stats;
  pixel_values_low: Stats;
  image_features: { file: string };
  first_logits: { file: string; argmax: number };
  first_logits_q4_reference: { file: string; cosine_to_fp32: number; min_cosine_other_questions: number };
  greedy_ids: number[];
}

const DIR = `${ROOT}public/models/tiny-converted-piip/`;
const FIXTURES = `${ROOT}e2e/fixtures/convert/`;
const g = readJson<PiipGolden>(`${FIXTURES}piip-golden.json`);
const spec = bundleSpec('tiny-converted-piip');
const image = decodePng(readBytes(`${FIXTURES}${g.image}`));
const plan = planImage(image.width, image.height, spec.image.loupe);
const reference = readF32(`${FIXTURES}${g.image_features.file}`);
const referenceLogits = readF32(`${FIXTURES}${g.first_logits.file}`);
const vocab = referenceLogits.length;
const ids = g.prompt_ids_llava.flatMap((id) => (id === -200 ? new Array<number>(g.num_image_tokens).fill(g.image_token_id) : [id]));

function expectStats(tensor: Float32Array, want: Stats): void {
  let [sum, min, max] = [0, Infinity, -Infinity];
  for (const v of tensor) [sum, min, max] = [sum + v, Math.min(min, v), Math.max(max, v)];
  expect(tensor.length).toBe(want.shape.reduce((a, b) => a * b, 1));
  expect(Math.abs(sum / tensor.length - want.mean)).toBeLessThan(1e-5);
  expect(min).toBeCloseTo(want.min, 4);
  expect(max).toBeCloseTo(want.max, 4);
}

describe('a converted PIIP-LLaVA checkpoint', () => {
  let tensors: Float32Array[];
  let features: Float32Array;
  let language: LanguageModel;
  beforeAll(async () => {
    tensors = renderPlan(new RasterSource(image, plan.alphaFill), plan, spec.image).tensors;
    const vision = await openModule('vision_encoder', 'fp32', 2, DIR);
    features = (await encodePlan(vision, plan, tensors)).features;
    await vision.release();
    language = new LanguageModel(spec, await openModule('embed_tokens', 'fp32', 2, DIR), await openModule('decoder_model_merged', 'fp32', 2, DIR));
  });
  afterAll(async () => {
    await language.release();
  });
  const span = () => ({ span: { start: ids.indexOf(g.image_token_id), length: g.num_image_tokens }, features });

  it("is a piip bundle: ImageNet pad colour, ConvNeXt stride 32 on the high image, CLIP patch 16 on the low one, vicuna_v1 with LLaVA's ids", () => {
    expect(spec.family).toBe('piip');
    expect(spec.image.loupe).toMatchObject({ strategy: 'pyramid', resolution: g.resolution, lowResolution: g.low_resolution, stride: 32, lowStride: 16, padColor: [123, 116, 103] });
    expect(plan.totalTokens).toBe(g.num_image_tokens);
    const tokenizer = BundleTokenizer.fromFiles(readJson(`${DIR}tokenizer.json`), readJson(`${DIR}tokenizer_config.json`));
    expect(tokenizer.encodeChat([{ role: 'user', content: `${spec.imageToken}\n${g.question}` }])).toEqual(g.prompt_ids_llava.map((id) => (id === -200 ? g.image_token_id : id)));
  });

  it("renders the reference's two inputs: the padded bicubic high tensor and its bilinear low-resolution copy", () => {
    expectStats(tensors[0]!, g.pixel_values);
    expectStats(tensors[1]!, g.pixel_values_low);
  });

  it('fp32: features within 1e-4, first logits within 1e-3 (<image> never generated), 16 greedy ids exact', async () => {
    expect(maxAbsDiff(features, reference)).toBeLessThan(1e-4);
    const logits = await language.step(ids, new KvCache(spec.text), span());
    expect(maxAbsDiff(logits.subarray(0, vocab), referenceLogits)).toBeLessThan(1e-3);
    expect(logits[vocab]).toBeLessThan(-1e3);
    expect(argmax(logits)).toBe(g.first_logits.argmax);
    expect(await greedyIds(language, spec, ids, span())).toEqual(g.greedy_ids);
  });

  it('int8 encoder at cosine >= 0.99; the streamed q4 decoder computes its quantised weights exactly, at cosine >= 0.99 of fp32', async () => {
    const int8 = await openModule('vision_encoder', 'int8', 2, DIR);
    expect(cosine((await encodePlan(int8, plan, tensors)).features, reference)).toBeGreaterThanOrEqual(0.99);
    await int8.release();
    const q4 = new LanguageModel(spec, await openModule('embed_tokens', 'fp32', 2, DIR), await openModule('decoder_model_merged', 'q4', 2, DIR));
    const logits = await q4.step(ids, new KvCache(spec.text), span());
    expect(maxAbsDiff(logits.subarray(0, vocab), readF32(`${FIXTURES}${g.first_logits_q4_reference.file}`))).toBeLessThan(1e-3);
    // 4-bit blocks with searched ranges and an 8-bit lm_head (stream_decoder.WIDE_BITS): within
    // the bar of fp32 here and (PyTorch) on four more prompts.
    expect(cosine(logits.subarray(0, vocab), referenceLogits)).toBeGreaterThanOrEqual(0.99);
    expect(g.first_logits_q4_reference.min_cosine_other_questions).toBeGreaterThanOrEqual(0.99);
    await q4.release();
  });
});
