import { existsSync, readFileSync, statSync } from 'node:fs';
import { AutoModelForImageTextToText, AutoProcessor, RawImage, Tensor, env } from '@huggingface/transformers';
import * as ortNode from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, maxAbsDiff, readF32, readJson } from '../testing/fixtures';

/**
 * The tiny random bundles in the published layouts (training/make_family_bundles.py):
 * transformers.js v4 (Node, onnxruntime-node CPU) must tokenise and preprocess exactly as
 * the Python reference did and generate the PyTorch greedy tokens with every dtype variant,
 * including the variants that carry what large bundles need (golden.json `variant_features`):
 * fastvlm's fp16 decoder keeps its weights in external data, its q4f16 decoder takes
 * `num_logits_to_keep` and a float16 KV cache.
 */

interface PixelRecord {
  image: string;
  file: string;
  shape: number[];
  resampled: boolean;
}

interface FamilyGolden {
  question: string;
  prompt_text: string;
  input_ids_expanded: number[];
  pixel_values: PixelRecord;
  pixel_values_exact_crop: PixelRecord;
  greedy_ids: number[];
  tokenizer_samples: { text: string; ids: number[] }[];
  /** {module: {dtype: features}} (training/families/variants.py); absent: none. */
  variant_features?: Record<string, Partial<Record<Dtype, Feature[]>>>;
}

type Dtype = (typeof DTYPES)[number];
type Feature = 'external_data' | 'num_logits_to_keep' | 'float16_kv_cache';

interface Family {
  name: string;
  /** Per channel: pixel_values * std * 255 = 0..255 levels. */
  imageStd: [number, number, number];
  /**
   * transformers.js resizes with sharp's affine bicubic (4x4 taps, no antialiasing); the
   * reference is PIL's bicubic, whose taps widen by 1/scale when downscaling. Smooth areas
   * agree to a level; hard edges do not. Measured (sharp bundled with transformers.js 4.3.1),
   * in 0..255 levels: fastvlm 200x150 -> 170x128, max 45, mean 0.66; llava15 200x150 ->
   * 149x112, max 76, mean 1.17; signed mean ~0 (no half-pixel shift). Bounds: a few percent above.
   */
  resampled: { maxLevels: number; meanLevels: number };
  /**
   * Shortest edge already S: crop only. With mean 0 / std 1 the pixels are bit-exact; with
   * CLIP mean/std transformers.js normalises in float64 with float64 constants and HF numpy in
   * float32, 1 to 2 float32 ulps apart (measured 2.4e-7 at values up to 2.15).
   */
  exactCropTolerance: number;
  /** The decoder variants' features the bundle must carry (so the checks below are not vacuous). */
  decoderFeatures: Partial<Record<Dtype, Feature[]>>;
}

const FAMILIES: Family[] = [
  {
    name: 'tiny-random-fastvlm',
    imageStd: [1, 1, 1],
    resampled: { maxLevels: 47, meanLevels: 0.7 },
    exactCropTolerance: 0,
    decoderFeatures: { fp16: ['external_data'], q4f16: ['num_logits_to_keep', 'float16_kv_cache'] },
  },
  {
    name: 'tiny-random-llava15',
    imageStd: [0.26862954, 0.26130258, 0.27577711],
    resampled: { maxLevels: 79, meanLevels: 1.25 },
    exactCropTolerance: 5e-7,
    decoderFeatures: {},
  },
];
const MODULES = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'] as const;
const SUFFIX: Record<Dtype, string> = { fp32: '', q4: '_q4', fp16: '_fp16', q4f16: '_q4f16' };

/** What transformers.js fed the decoder and got back, per call. */
interface DecoderCall {
  keep?: { type: string; dims: readonly number[]; value: bigint };
  pastType: string;
  presentType: string;
  logitsDims: readonly number[];
}
const DTYPES = ['fp32', 'q4', 'fp16', 'q4f16'] as const;

/** Mean and max |a - b| in 0..255 levels, NCHW with one std per channel. */
function levelDiff(a: Float32Array, b: Float32Array, std: readonly number[]): { max: number; mean: number } {
  const plane = a.length / std.length;
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) * std[Math.floor(i / plane)]! * 255;
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

describe.each(FAMILIES)('transformers.js runs $name', (family) => {
  const fixtures = `${ROOT}e2e/fixtures/${family.name}/`;
  const onnxDir = `${ROOT}public/models/${family.name}/onnx/`;
  const g = readJson<FamilyGolden>(`${fixtures}golden.json`);
  const features = (module: string, dtype: Dtype): Feature[] => g.variant_features?.[module]?.[dtype] ?? [];
  type Processor = Awaited<ReturnType<typeof AutoProcessor.from_pretrained>>;
  let processor: Processor;
  const preprocess = async (record: PixelRecord) => {
    const image = await RawImage.read(`${fixtures}${record.image}`);
    const inputs = (await processor(image, g.prompt_text)) as { input_ids: Tensor; attention_mask: Tensor; pixel_values: Tensor };
    return { inputs, pixels: inputs.pixel_values.data as Float32Array };
  };

  beforeAll(async () => {
    env.allowRemoteModels = false;
    env.localModelPath = `${ROOT}public/models/`;
    processor = await AutoProcessor.from_pretrained(family.name);
  });

  it('renders the chat template as the Python twin does', () => {
    const messages = [{ role: 'user', content: `<image>\n${g.question}` }];
    expect(processor.apply_chat_template(messages as never, { add_generation_prompt: true, tokenize: false })).toBe(g.prompt_text);
  });

  it('tokenises like the Python BPE', () => {
    for (const { text, ids } of g.tokenizer_samples) expect(processor.tokenizer!.encode(text)).toEqual(ids);
  });

  it('crops like the reference when the shortest edge needs no resize', async () => {
    const record = g.pixel_values_exact_crop;
    expect(record.resampled).toBe(false);
    const { inputs, pixels } = await preprocess(record);
    expect(Array.from(inputs.input_ids.data as BigInt64Array, Number)).toEqual(g.input_ids_expanded);
    expect(inputs.pixel_values.dims).toEqual(record.shape);
    expect(maxAbsDiff(pixels, readF32(`${fixtures}${record.file}`))).toBeLessThanOrEqual(family.exactCropTolerance);
  });

  it('resizes within the stated bound of PIL bicubic', async () => {
    const record = g.pixel_values;
    expect(record.resampled).toBe(true);
    const { inputs, pixels } = await preprocess(record);
    expect(Array.from(inputs.input_ids.data as BigInt64Array, Number)).toEqual(g.input_ids_expanded);
    expect(inputs.pixel_values.dims).toEqual(record.shape);
    const diff = levelDiff(pixels, readF32(`${fixtures}${record.file}`), family.imageStd);
    expect(diff.max).toBeLessThanOrEqual(family.resampled.maxLevels);
    expect(diff.mean).toBeLessThanOrEqual(family.resampled.meanLevels);
  });

  it('carries the decoder variant features it is built to exercise', () => {
    expect(g.variant_features?.decoder_model_merged ?? {}).toEqual(family.decoderFeatures);
    for (const module of MODULES) if (module !== 'decoder_model_merged') expect(g.variant_features?.[module]).toBeUndefined();
  });

  it('keeps the weights of exactly the declared graphs in external data files', async () => {
    const config = readJson<{ 'transformers.js_config': { use_external_data_format?: Record<string, number> } }>(
      `${ROOT}public/models/${family.name}/config.json`,
    );
    const declared = config['transformers.js_config'].use_external_data_format ?? {};
    const expected: Record<string, number> = {};
    for (const module of MODULES)
      for (const dtype of DTYPES) {
        const file = `${module}${SUFFIX[dtype]}.onnx`;
        if (!features(module, dtype).includes('external_data')) {
          expect(existsSync(`${onnxDir}${file}_data`), `${file}_data`).toBe(false);
          continue;
        }
        expected[file] = 1; // transformers.js v4: {file: chunk count}, chunk 0 is `<file>_data`
        const graph = statSync(`${onnxDir}${file}`).size;
        const data = statSync(`${onnxDir}${file}_data`).size;
        // Measured 78 KB of graph (nodes, inline Constants) and 214 KB of weights.
        expect(graph, file).toBeLessThan(data / 2);
        // From bytes alone the graph cannot load: its weights are not in it.
        await expect(ortNode.InferenceSession.create(readFileSync(`${onnxDir}${file}`))).rejects.toThrow(/external data/i);
      }
    expect(declared).toEqual(expected);
  });

  it.each(DTYPES)('generates the PyTorch greedy tokens with dtype %s', async (dtype) => {
    const { inputs } = await preprocess(g.pixel_values);
    const model = await AutoModelForImageTextToText.from_pretrained(family.name, { dtype, device: 'cpu' });
    const decoderFeatures = features('decoder_model_merged', dtype);
    const kvType = decoderFeatures.includes('float16_kv_cache') ? 'float16' : 'float32';
    const keepsLogits = decoderFeatures.includes('num_logits_to_keep');
    try {
      // What the session declares: transformers.js reads the cache dtype and whether to feed
      // num_logits_to_keep from it.
      const session = (model as unknown as { sessions: Record<string, ortNode.InferenceSession> }).sessions.decoder_model_merged!;
      const past = session.inputMetadata.filter((m) => m.name.startsWith('past_key_values.'));
      expect(past.length).toBeGreaterThan(0);
      for (const m of past) expect(m, m.name).toMatchObject({ isTensor: true, type: kvType });
      const keep = session.inputMetadata.find((m) => m.name === 'num_logits_to_keep');
      if (keepsLogits) expect(keep).toMatchObject({ isTensor: true, type: 'int64', shape: [] });
      else expect(keep).toBeUndefined();

      const calls: DecoderCall[] = [];
      const run = session.run.bind(session) as (feeds: ortNode.InferenceSession.FeedsType) => Promise<ortNode.InferenceSession.ReturnType>;
      (session as { run: unknown }).run = async (feeds: ortNode.InferenceSession.FeedsType) => {
        const out = await run(feeds);
        const n = feeds.num_logits_to_keep;
        calls.push({
          keep: n && { type: n.type, dims: n.dims, value: (n.data as BigInt64Array)[0]! },
          pastType: feeds['past_key_values.0.key']!.type,
          presentType: out['present.0.key']!.type,
          logitsDims: out.logits!.dims,
        });
        return out;
      };

      const output = (await model.generate({
        ...inputs,
        // The reference pixels, so the tokens test the graphs, not sharp's resampling.
        pixel_values: new Tensor('float32', readF32(`${fixtures}${g.pixel_values.file}`), g.pixel_values.shape),
        max_new_tokens: 16,
        do_sample: false,
      } as never)) as Tensor;
      expect(Array.from(output.data as BigInt64Array, Number).slice(g.input_ids_expanded.length)).toEqual(g.greedy_ids);

      // One prefill and one call per further token; every call with the cache dtype, and
      // with num_logits_to_keep = 1 the prefill returns only the last position's logits.
      expect(calls).toHaveLength(g.greedy_ids.length);
      for (const call of calls) expect([call.pastType, call.presentType]).toEqual([kvType, kvType]);
      const keptLast = { keep: { type: 'int64', dims: [], value: 1n }, logitsDims: [1, 1, expect.any(Number)] };
      if (keepsLogits) for (const call of calls) expect(call).toMatchObject(keptLast);
      else expect(calls[0]!.logitsDims[1]).toBe(g.input_ids_expanded.length);
    } finally {
      await model.dispose();
    }
  });
});
