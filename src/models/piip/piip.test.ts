import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LanguageModel } from '../../decoder/language-model';
import type { ort } from '../../device/ort';
import { RasterSource, renderPlan } from '../../pixels';
import { planImage, type ImagePlan } from '../../plan';
import { ROOT, bundleSpec, decodePng, maxAbsDiff, readBytes, readF32, readJson } from '../../testing/fixtures';
import { openModule } from '../../testing/sessions';
import { expectPromptAndGreedy, openLanguage, type LanguageGolden } from '../../testing/language-parity';
import { encodePlan } from '../../vision';

/**
 * tiny-random-piip (training/families/piip_bundle.py) through Loupe's own path in Node,
 * against PyTorch: the pyramid plan, both branches' pixels (the low one derived from the
 * normalised high tensor), the two-input vision graph at two size pairs, the prompt and
 * 16 greedy ids.
 */
interface TensorRecord {
  shape: number[];
  sum: number;
  slices: Record<string, number[]>;
}
interface PiipGolden extends LanguageGolden {
  image: { file: string };
  pixel_values: TensorRecord;
  pixel_values_low: TensorRecord;
  image_features: { shape: number[] };
  small: { resolution: number; low_resolution: number; file: string; shape: number[] };
}

const NAME = 'tiny-random-piip';
const DIR = `${ROOT}public/models/${NAME}/`;
const FIXTURES = `${ROOT}e2e/fixtures/${NAME}/`;
const g = readJson<PiipGolden>(`${FIXTURES}golden.json`);
const spec = bundleSpec(NAME);
const image = decodePng(readBytes(`${FIXTURES}${g.image.file}`));
const plan = planImage(image.width, image.height, spec.image.loupe);
const render = (p: ImagePlan) => renderPlan(new RasterSource(image, p.alphaFill), p, spec.image);

function expectRecord(tensor: Float32Array, record: TensorRecord): void {
  expect(tensor.length).toBe(record.shape.reduce((a, b) => a * b, 1));
  let sum = 0;
  for (const v of tensor) sum += v;
  expect(Math.abs(sum - record.sum)).toBeLessThan(1e-2);
  for (const [offset, values] of Object.entries(record.slices)) {
    expect(maxAbsDiff(tensor.subarray(Number(offset), Number(offset) + values.length), values)).toBeLessThan(1e-5);
  }
}

describe('PIIP (tiny-random-piip) against PyTorch', () => {
  it('is the piip family: a pyramid of 256 / 128 over stride 32, the wide branch known for device limits', () => {
    expect(spec.family).toBe('piip');
    expect(spec.image.loupe).toMatchObject({ strategy: 'pyramid', resolution: 256, lowResolution: 128, stride: 32 });
    expect(spec.vision).toMatchObject({ firstStageWidth: 8, patchSize: 4, low: { firstStageWidth: 16, patchSize: 4 } });
    expect(plan.totalTokens).toBe(g.num_image_tokens);
    expect(plan.recipe.runs).toEqual([
      {
        feeds: [
          { name: 'pixel_values', from: 'pixels', inputs: [0] },
          { name: 'pixel_values_low', from: 'pixels', inputs: [1] },
        ],
        images: [0],
      },
    ]);
  });

  it('renders both branches to the reference pixels', () => {
    const pixels = render(plan);
    expectRecord(pixels.tensors[0]!, g.pixel_values);
    expectRecord(pixels.tensors[1]!, g.pixel_values_low);
  });

  describe('graphs', () => {
    let vision: ort.InferenceSession;
    let language: LanguageModel;
    let features: Float32Array;
    beforeAll(async () => {
      vision = await openModule('vision_encoder', 'fp32', 2, DIR);
      features = (await encodePlan(vision, plan, render(plan).tensors)).features;
      language = await openLanguage(spec, DIR);
    });
    afterAll(async () => {
      await vision.release();
      await language.release();
    });

    it('the two-input vision graph gives the PyTorch features within 1e-4', () => {
      expect(features.length).toBe(g.image_features.shape[1]! * g.image_features.shape[2]!);
      expect(maxAbsDiff(features, readF32(`${FIXTURES}image_features.f32`))).toBeLessThan(1e-4);
    });

    it('takes another size pair (192 / 96, what a device fit makes) and still matches PyTorch', async () => {
      const small = planImage(image.width, image.height, spec.image.loupe, { resolution: g.small.resolution, lowResolution: g.small.low_resolution });
      const encoded = await encodePlan(vision, small, render(small).tensors);
      expect(encoded.tokens).toBe(g.small.shape[1]);
      expect(maxAbsDiff(encoded.features, readF32(`${FIXTURES}${g.small.file}`))).toBeLessThan(1e-4);
    });

    it('the low branch reaches the output: a zeroed pixel_values_low changes the features', async () => {
      const tensors = render(plan).tensors;
      const encoded = await encodePlan(vision, plan, [tensors[0]!, new Float32Array(tensors[1]!.length)]);
      expect(maxAbsDiff(encoded.features, features)).toBeGreaterThan(1e-2);
    });

    it('the vicuna prompt, first logits within 1e-3 and 16 greedy ids exact', async () => {
      await expectPromptAndGreedy(spec, language, g, { dir: DIR, fixtures: FIXTURES }, plan.totalTokens, features);
    });
  });
});
