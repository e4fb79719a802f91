import { describe, expect, it } from 'vitest';
import { parseBundleSpec } from '../bundle';
import { expandImageTokens } from '../embeddings';
import { RasterSource, renderPlan } from '../pixels';
import { planImage } from '../plan';
import { ROOT, decodePng, maxAbsDiff, readBytes, readF32, readJson } from '../testing/fixtures';
import { BundleTokenizer } from '../tokens';

/**
 * Loupe's own path for the published layouts, against the Python reference goldens that
 * transformers.js also matches (src/bundle/transformers-js-families.test.ts): the family
 * from the registry, the chat template and placeholder expansion, the plan and the pixels.
 */
interface FamilyGolden {
  question: string;
  prompt_ids: number[];
  input_ids_expanded: number[];
  num_image_tokens: number;
  pixel_values: { image: string; file: string; shape: number[] };
  pixel_values_exact_crop: { image: string; file: string; shape: number[] };
}

const BUNDLES = [
  { name: 'tiny-random-fastvlm', family: 'llava_qwen2', strategy: 'center-crop' },
  { name: 'tiny-random-llava15', family: 'llava', strategy: 'center-crop' },
] as const;

const optional = (path: string) => {
  try {
    return readJson(path);
  } catch {
    return undefined;
  }
};

describe.each(BUNDLES)('Loupe runs $name through the $family family', ({ name, family, strategy }) => {
  const dir = `${ROOT}public/models/${name}/`;
  const fixtures = `${ROOT}e2e/fixtures/${name}/`;
  const g = readJson<FamilyGolden>(`${fixtures}golden.json`);
  const spec = parseBundleSpec(`http://localhost/models/${name}/`, {
    config: readJson(`${dir}config.json`),
    generationConfig: readJson(`${dir}generation_config.json`),
    preprocessorConfig: readJson(`${dir}preprocessor_config.json`),
    processorConfig: optional(`${dir}processor_config.json`),
  });

  it('gives the reference input_ids', () => {
    expect(spec.family).toBe(family);
    const tokenizer = BundleTokenizer.fromFiles(readJson(`${dir}tokenizer.json`), readJson(`${dir}tokenizer_config.json`));
    const ids = tokenizer.encodeChat([{ role: 'user', content: `${spec.imageToken}\n${g.question}` }]);
    expect(ids).toEqual(g.prompt_ids);
    const [height, width] = g.pixel_values.shape.slice(2) as [number, number];
    const plan = planImage(width + 72, height, spec.image.loupe);
    expect(plan.totalTokens).toBe(g.num_image_tokens);
    expect(expandImageTokens(ids, spec.imageTokenId, plan.totalTokens).ids).toEqual(g.input_ids_expanded);
  });

  for (const record of ['pixel_values', 'pixel_values_exact_crop'] as const) {
    it(`gives the reference ${record} on a non-square image`, () => {
      const image = decodePng(readBytes(`${fixtures}${g[record].image}`));
      expect(image.width).not.toBe(image.height);
      const plan = planImage(image.width, image.height, spec.image.loupe);
      expect(plan.strategy).toBe(strategy);
      const pixels = renderPlan(new RasterSource(image, plan.alphaFill), plan, spec.image);
      const expected = readF32(`${fixtures}${g[record].file}`);
      expect(pixels.tensors[0]!.length).toBe(expected.length);
      // PIL's bicubic reproduced bit for bit; only float32 normalisation rounding remains.
      expect(maxAbsDiff(pixels.tensors[0]!, expected)).toBeLessThan(1e-5);
    });
  }
});
