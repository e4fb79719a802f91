import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBundleSpec } from '../bundle';
import { KvCache } from '../decoder/kv-cache';
import { LanguageModel } from '../decoder/language-model';
import { generate } from '../decoder/generate';
import { RasterSource, renderPlan } from '../pixels';
import { planImage } from '../plan';
import { ROOT, cosine, decodePng, maxAbsDiff, readBytes, readF32, readJson } from '../testing/fixtures';
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
const spec = parseBundleSpec('http://localhost/models/tiny-converted-convllava/', {
  config: readJson(`${DIR}config.json`),
  generationConfig: readJson(`${DIR}generation_config.json`),
  preprocessorConfig: readJson(`${DIR}preprocessor_config.json`),
  processorConfig: readJson(`${DIR}processor_config.json`),
});
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
      const result = await generate(fp32, new KvCache(spec.text), {
        ids,
        image: imageSpan(),
        maxNewTokens: 16,
        eosTokenIds: spec.generation.eosTokenIds,
        pick: argmax,
        onToken: () => undefined,
        cancelled: () => false,
      });
      expect(result.tokenIds).toEqual(g.greedy_ids);
    });

    it('q4 decoder first logits at cosine >= 0.99 of the reference', async () => {
      const q4 = new LanguageModel(spec, await openModule('embed_tokens', 'fp32', 2, DIR), await openModule('decoder_model_merged', 'q4', 2, DIR));
      const logits = await q4.step(ids, new KvCache(spec.text), imageSpan());
      expect(cosine(logits.subarray(0, vocab), goldenLogits)).toBeGreaterThanOrEqual(0.99);
      await q4.release();
    });
  });
});
