import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBundleSpec } from '../../bundle';
import type { LanguageModel } from '../../decoder/language-model';
import { RasterSource, renderPlan } from '../../pixels';
import { planImage, planOverlay } from '../../plan';
import { ROOT, decodePng, maxAbsDiff, readBytes, readF32, readJson } from '../../testing/fixtures';
import { openModule } from '../../testing/sessions';
import { expectPromptAndGreedy, openLanguage, type LanguageGolden } from '../../testing/language-parity';
import { encodePlan } from '../../vision';

/**
 * tiny-random-mcllava (training/families/mcllava.py) through Loupe's own path in Node,
 * against PyTorch: the crop plan, each crop's pixels, the vision graph fed a batch of
 * crops with their `coords`, each image's last tokens, the ChatML prompt and 16 greedy ids.
 */
interface McGolden extends LanguageGolden {
  image: { file: string; width: number; height: number };
  inputs: { role: string; crop_box: number[]; coord: number[]; keep: number; sum: number; slices: Record<string, number[]> }[];
  tokens_per_crop: number;
  image_features: { shape: number[] };
}

const NAME = 'tiny-random-mcllava';
const DIR = `${ROOT}public/models/${NAME}/`;
const FIXTURES = `${ROOT}e2e/fixtures/${NAME}/`;
const g = readJson<McGolden>(`${FIXTURES}golden.json`);
const spec = parseBundleSpec(`http://localhost/models/${NAME}/`, {
  config: readJson(`${DIR}config.json`),
  generationConfig: readJson(`${DIR}generation_config.json`),
  preprocessorConfig: readJson(`${DIR}preprocessor_config.json`),
  processorConfig: readJson(`${DIR}processor_config.json`),
});
const image = decodePng(readBytes(`${FIXTURES}${g.image.file}`));
const plan = planImage(image.width, image.height, spec.image.loupe);
const goldenFeatures = readF32(`${FIXTURES}image_features.f32`);

describe('MC-LLaVA (tiny-random-mcllava) against PyTorch', () => {
  it('is the mc-llava family: multicrop over a fixed-size SigLIP, patch 0 dropped', () => {
    expect(spec.family).toBe('mc-llava');
    expect(spec.image.loupe).toMatchObject({ strategy: 'multicrop', stride: 32, cropSize: 384, fixedSize: true, extraTokens: -1, maxCrops: 4, numTokens: 96 });
    expect(spec.image.mean).toEqual([0.5, 0.5, 0.5]);
  });

  it('plans the reference crops, coordinates and kept tokens, and a recipe that feeds coords', () => {
    expect(plan.inputs.map((i) => i.role)).toEqual(g.inputs.map((i) => i.role));
    plan.inputs.forEach((input, i) => {
      const [x0, y0, x1, y1] = g.inputs[i]!.crop_box as [number, number, number, number];
      expect(input.source).toEqual({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
      expect(input.coord).toEqual(g.inputs[i]!.coord);
    });
    expect(plan.recipe.keepLast).toEqual(g.inputs.map((i) => i.keep));
    expect(plan.recipe.runs).toEqual([
      {
        feeds: [
          { name: 'pixel_values', from: 'pixels', inputs: [0, 1, 2] },
          { name: 'coords', from: 'coords', inputs: [0, 1, 2] },
        ],
        images: [0, 1, 2],
      },
    ]);
    expect(plan.totalTokens).toBe(g.num_image_tokens);
    expect(planOverlay(plan).map((b) => b.tokens)).toEqual(g.inputs.map((i) => i.keep));
  });

  it('renders each crop to the reference pixels', () => {
    const pixels = renderPlan(new RasterSource(image, plan.alphaFill), plan, spec.image);
    pixels.tensors.forEach((tensor, i) => {
      const ref = g.inputs[i]!;
      let sum = 0;
      for (const v of tensor) sum += v;
      expect(Math.abs(sum - ref.sum)).toBeLessThan(1e-2);
      for (const [offset, values] of Object.entries(ref.slices)) {
        expect(maxAbsDiff(tensor.subarray(Number(offset), Number(offset) + values.length), values)).toBeLessThan(1e-5);
      }
    });
  });

  describe('graphs', () => {
    let language: LanguageModel;
    let features: Float32Array;
    beforeAll(async () => {
      const vision = await openModule('vision_encoder', 'fp32', 2, DIR);
      const pixels = renderPlan(new RasterSource(image, plan.alphaFill), plan, spec.image);
      const encoded = await encodePlan(vision, plan, pixels.tensors);
      features = encoded.features;
      await vision.release();
      language = await openLanguage(spec, DIR);
    });
    afterAll(async () => {
      await language.release();
    });

    it('the vision graph with coords gives the PyTorch features of the kept tokens within 1e-4', () => {
      expect(features.length).toBe(g.image_features.shape[1]! * g.image_features.shape[2]!);
      expect(maxAbsDiff(features, goldenFeatures)).toBeLessThan(1e-4);
    });

    it('the crop centres reach the graph: centred coords change the features', async () => {
      const vision = await openModule('vision_encoder', 'fp32', 2, DIR);
      const pixels = renderPlan(new RasterSource(image, plan.alphaFill), plan, spec.image);
      const centred = { ...plan, inputs: plan.inputs.map((i) => ({ ...i, coord: [0.5, 0.5] as [number, number] })) };
      const encoded = await encodePlan(vision, centred, pixels.tensors);
      expect(maxAbsDiff(encoded.features, goldenFeatures)).toBeGreaterThan(1e-2);
      await vision.release();
    });

    it('the ChatML prompt, first logits within 1e-3 and 16 greedy ids exact', async () => {
      await expectPromptAndGreedy(spec, language, g, { dir: DIR, fixtures: FIXTURES }, plan.totalTokens, features);
    });
  });
});
