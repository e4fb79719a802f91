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
 * `npm run convert` on a tiny ConvLLaVA-sft checkpoint in the released format (bf16 .bin
 * shards + index, HF ConvNext tower names, -200 image index, SentencePiece tokenizer.model;
 * training/convert/tiny_release.py), checked against a PyTorch reference that runs the
 * checkpoint's own tensors (training/convert/reference_convllava.py, goldens.py).
 */
interface ConvertGolden {
  question: string;
  image: string;
  resolution: number;
  prompt_ids_llava: number[];
  image_token_id: number;
  num_image_tokens: number;
  pixel_values: { shape: number[]; mean: number; std: number; min: number; max: number };
  image_features: { file: string; shape: number[] };
  first_logits: { file: string; argmax: number };
  greedy_ids: number[];
  sentencepiece_samples: { text: string; ids: number[] }[];
}

const DIR = `${ROOT}public/models/tiny-converted-convllava/`;
const FIXTURES = `${ROOT}e2e/fixtures/convert/`;
const g = readJson<ConvertGolden>(`${FIXTURES}golden.json`);
const spec = bundleSpec('tiny-converted-convllava');
const tokenizer = BundleTokenizer.fromFiles(readJson(`${DIR}tokenizer.json`), readJson(`${DIR}tokenizer_config.json`));
const image = decodePng(readBytes(`${FIXTURES}${g.image}`));
const plan = planImage(image.width, image.height, spec.image.loupe);
const goldenFeatures = readF32(`${FIXTURES}${g.image_features.file}`);
const goldenLogits = readF32(`${FIXTURES}${g.first_logits.file}`);
const vocab = goldenLogits.length;

describe('a converted ConvLLaVA-sft checkpoint', () => {
  it('is a convllava bundle with the released processor: pad (122, 116, 104), bicubic, CLIP mean/std, stride 64', () => {
    expect(spec.family).toBe('convllava');
    expect(spec.image.loupe).toMatchObject({ strategy: 'convllava-square', resolution: g.resolution, stride: 64, padColor: [122, 116, 104] });
    expect(plan.totalTokens).toBe(g.num_image_tokens);
    expect(spec.imageTokenId).toBe(g.image_token_id);
  });

  it('tokenizer.json generated from tokenizer.model encodes like SentencePiece (byte fallback included)', () => {
    for (const sample of g.sentencepiece_samples) expect(tokenizer.encode(sample.text), sample.text).toEqual(sample.ids);
  });

  it("the vicuna_v1 prompt gives LLaVA's ids, with <image> where LLaVA puts -200", () => {
    const ids = tokenizer.encodeChat([{ role: 'user', content: `${spec.imageToken}\n${g.question}` }]);
    expect(ids).toEqual(g.prompt_ids_llava.map((id) => (id === -200 ? g.image_token_id : id)));
  });

  it('renders the reference pixels', () => {
    const tensor = renderPlan(new RasterSource(image, plan.alphaFill), plan, spec.image).tensors[0]!;
    let [sum, min, max] = [0, Infinity, -Infinity];
    for (const v of tensor) [sum, min, max] = [sum + v, Math.min(min, v), Math.max(max, v)];
    expect(Math.abs(sum / tensor.length - g.pixel_values.mean)).toBeLessThan(1e-5);
    expect(min).toBeCloseTo(g.pixel_values.min, 5);
    expect(max).toBeCloseTo(g.pixel_values.max, 5);
  });

  describe('graphs', () => {
    let pixels: Float32Array;
    let features: Float32Array;
    let fp32: LanguageModel;
    let ids: number[];
    beforeAll(async () => {
      pixels = renderPlan(new RasterSource(image, plan.alphaFill), plan, spec.image).tensors[0]!;
      const vision = await openModule('vision_encoder', 'fp32', 2, DIR);
      features = (await encodePlan(vision, plan, [pixels])).features;
      await vision.release();
      fp32 = new LanguageModel(spec, await openModule('embed_tokens', 'fp32', 2, DIR), await openModule('decoder_model_merged', 'fp32', 2, DIR));
      ids = g.prompt_ids_llava.flatMap((id) => (id === -200 ? new Array<number>(g.num_image_tokens).fill(g.image_token_id) : [id]));
    });
    afterAll(async () => {
      await fp32.release();
    });
    const imageSpan = () => ({ span: { start: ids.indexOf(g.image_token_id), length: g.num_image_tokens }, features });

    it('fp32 vision features within 1e-4 of the reference; int8 at cosine >= 0.99', async () => {
      expect(maxAbsDiff(features, goldenFeatures)).toBeLessThan(1e-4);
      const int8 = await openModule('vision_encoder', 'int8', 2, DIR);
      expect(cosine((await encodePlan(int8, plan, [pixels])).features, goldenFeatures)).toBeGreaterThanOrEqual(0.99);
      await int8.release();
    });

    it('fp32 first logits within 1e-3 (and <image> never generated), 16 greedy ids exact', async () => {
      const logits = await fp32.step(ids, new KvCache(spec.text), imageSpan());
      expect(logits.length).toBe(vocab + 1);
      expect(maxAbsDiff(logits.subarray(0, vocab), goldenLogits)).toBeLessThan(1e-3);
      expect(logits[vocab]).toBeLessThan(-1e3);
      expect(argmax(logits)).toBe(g.first_logits.argmax);
      expect(await greedyIds(fp32, spec, ids, imageSpan())).toEqual(g.greedy_ids);
    });

    it('the streamed q4 decoder (external data) computes its 4-bit weights exactly, at cosine >= 0.99 of fp32', async () => {
      const q4 = new LanguageModel(spec, await openModule('embed_tokens', 'fp32', 2, DIR), await openModule('decoder_model_merged', 'q4', 2, DIR));
      const logits = await q4.step(ids, new KvCache(spec.text), imageSpan());
      expect(maxAbsDiff(logits.subarray(0, vocab), readF32(`${FIXTURES}first_logits_q4_reference.f32`))).toBeLessThan(1e-3);
      expect(logits[vocab]).toBeLessThan(-1e3);
      expect(cosine(logits.subarray(0, vocab), goldenLogits)).toBeGreaterThanOrEqual(0.99);
      await q4.release();
    });
  });
});

/** `npm run convert` on a tiny MC-LLaVA release (bf16 safetensors shards, SigLIP + coord_embed, Phi-2). */
interface McConvertGolden {
  question: string;
  image: string;
  knobs: { max_crops: number; num_tokens: number };
  prompt_ids: number[];
  image_token_id: number;
  num_image_tokens: number;
  keep: number[];
  coords: number[][];
  first_logits: { file: string; argmax: number };
  first_logits_q4_reference: { file: string; cosine_to_fp32: number; min_cosine_other_questions: number };
  greedy_ids: number[];
}

describe('a converted MC-LLaVA checkpoint (Phi-2 decoder)', () => {
  const dir = `${ROOT}public/models/tiny-converted-mcllava/`;
  const mc = readJson<McConvertGolden>(`${FIXTURES}mcllava-golden.json`);
  const mcSpec = bundleSpec('tiny-converted-mcllava');
  const picture = decodePng(readBytes(`${FIXTURES}${mc.image}`));
  const mcPlan = planImage(picture.width, picture.height, mcSpec.image.loupe, { maxCrops: mc.knobs.max_crops, numTokens: mc.knobs.num_tokens });
  const reference = readF32(`${FIXTURES}mcllava-image_features.f32`);
  const referenceLogits = readF32(`${FIXTURES}${mc.first_logits.file}`);
  let features: Float32Array;
  let language: LanguageModel;
  let ids: number[];
  beforeAll(async () => {
    const vision = await openModule('vision_encoder', 'fp32', 2, dir);
    features = (await encodePlan(vision, mcPlan, renderPlan(new RasterSource(picture, mcPlan.alphaFill), mcPlan, mcSpec.image).tensors)).features;
    await vision.release();
    language = new LanguageModel(mcSpec, await openModule('embed_tokens', 'fp32', 2, dir), await openModule('decoder_model_merged', 'fp32', 2, dir));
    ids = mc.prompt_ids.flatMap((id) => (id === mc.image_token_id ? new Array<number>(mc.num_image_tokens).fill(id) : [id]));
  });
  afterAll(async () => {
    await language.release();
  });
  const span = () => ({ span: { start: ids.indexOf(mc.image_token_id), length: mc.num_image_tokens }, features });

  it('is an mc-llava bundle: the reference crops, coordinates, kept tokens and ChatML prompt', () => {
    expect(mcSpec.family).toBe('mc-llava');
    expect(mcPlan.totalTokens).toBe(mc.num_image_tokens);
    expect(mcPlan.recipe.keepLast).toEqual(mc.keep);
    mcPlan.inputs.forEach((input, i) => {
      expect(input.coord![0]).toBeCloseTo(mc.coords[i]![0]!, 6);
      expect(input.coord![1]).toBeCloseTo(mc.coords[i]![1]!, 6);
    });
    const tokens = BundleTokenizer.fromFiles(readJson(`${dir}tokenizer.json`), readJson(`${dir}tokenizer_config.json`));
    expect(tokens.encodeChat([{ role: 'user', content: `${mcSpec.imageToken}\n${mc.question}` }])).toEqual(mc.prompt_ids);
  });

  it('fp32: features within 1e-4, first logits within 1e-3, 16 greedy ids exact', async () => {
    expect(maxAbsDiff(features, reference)).toBeLessThan(1e-4);
    const logits = await language.step(ids, new KvCache(mcSpec.text), span());
    expect(maxAbsDiff(logits, referenceLogits)).toBeLessThan(1e-3);
    expect(argmax(logits)).toBe(mc.first_logits.argmax);
    expect(await greedyIds(language, mcSpec, ids, span())).toEqual(mc.greedy_ids);
  });

  it('int8 encoder at cosine >= 0.99; the q4 decoder computes its quantised weights exactly, at cosine >= 0.99 of fp32', async () => {
    const int8 = await openModule('vision_encoder', 'int8', 2, dir);
    const pixels = renderPlan(new RasterSource(picture, mcPlan.alphaFill), mcPlan, mcSpec.image).tensors;
    const int8Features = (await encodePlan(int8, mcPlan, pixels)).features;
    expect(cosine(int8Features, reference)).toBeGreaterThanOrEqual(0.99);
    await int8.release();
    const q4 = new LanguageModel(mcSpec, await openModule('embed_tokens', 'fp32', 2, dir), await openModule('decoder_model_merged', 'q4', 2, dir));
    const q4Logits = await q4.step(ids, new KvCache(mcSpec.text), span());
    // Exact against the reference with the converter's quantised weights (4-bit blocks,
    // lm_head at 8 bits), and within the bar of fp32 here and (PyTorch) on four more prompts.
    expect(maxAbsDiff(q4Logits, readF32(`${FIXTURES}${mc.first_logits_q4_reference.file}`))).toBeLessThan(1e-3);
    expect(cosine(q4Logits, referenceLogits)).toBeGreaterThanOrEqual(0.99);
    expect(mc.first_logits_q4_reference.min_cosine_other_questions).toBeGreaterThanOrEqual(0.99);
    await q4.release();
  });
});
