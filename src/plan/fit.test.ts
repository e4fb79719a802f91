import { describe, expect, it } from 'vitest';
import type { VisionSpec } from '../bundle';
import { bundleSpec } from '../testing/fixtures';
import { fedInputs, largestActivationBytes, outputSize, planImage, runBytes, type ImagePlan, type PlanOverrides } from '.';

const MB = 2 ** 20;
const LIMITS = [16, 64, 128] as const;
const config = { ...bundleSpec().image.loupe, resolution: 1536, tokenBudget: 576, cropSize: 384 };
/** Loupe-Synth's ConvNeXt: 32 channels in the first stage, 4 px stem. */
const convnext: VisionSpec = { firstStageWidth: 32, patchSize: 4 };
/** A PIIP pair: the narrow ConvNeXt on the high-resolution input, a 3x wider one on the low. */
const piip: VisionSpec = { ...convnext, low: { firstStageWidth: 96, patchSize: 4 } };
/** SigLIP so400m at 384 px (MC-LLaVA's tower): fixed size, 16 heads over 729 tokens. */
const siglip: VisionSpec = { firstStageWidth: undefined, patchSize: 14, hiddenSize: 1152, intermediateSize: 4304, heads: 16 };

function fitted(vision: VisionSpec, limitMb: number, overrides: PlanOverrides, image = { width: 3000, height: 2000 }, cfg = config): ImagePlan {
  return planImage(image.width, image.height, { config: cfg, vision, limits: { maxStorageBufferBindingSize: limitMb * MB } }, overrides);
}

/** Every run of the plan's recipe fits the limit, and every planned input is fed once. */
function expectFits(plan: ImagePlan, vision: VisionSpec, limitMb: number): void {
  for (const run of plan.recipe.runs) expect(runBytes(plan, run, vision)).toBeLessThanOrEqual(limitMb * MB);
  expect(fedInputs(plan)).toEqual(plan.inputs.map((_, i) => i));
}

describe.each(LIMITS)('fit at a %i MB buffer limit', (limitMb) => {
  it('convllava-square: the side steps down only as far as the limit needs, and the note says from what to what', () => {
    const plan = fitted(convnext, limitMb, { strategy: 'convllava-square' });
    expectFits(plan, convnext, limitMb);
    const need = largestActivationBytes(1536, 1536, convnext);
    if (need <= limitMb * MB) {
      expect(plan.inputs[0]!.width).toBe(1536);
      expect(plan.notes).toEqual([]);
    } else {
      const side = plan.inputs[0]!.width;
      expect(largestActivationBytes(side + 64, side + 64, convnext)).toBeGreaterThan(limitMb * MB);
      expect(plan.notes.join(' ')).toMatch(new RegExp(`Reduced from resolution 1536 \\(576 visual tokens\\) to resolution ${side} \\(${(side / 64) ** 2}\\).*at most ${limitMb} MB`));
    }
  });

  it('convllava-native: the token budget shrinks until the native grid fits', () => {
    const plan = fitted(convnext, limitMb, { strategy: 'convllava-native' });
    expectFits(plan, convnext, limitMb);
    expect(plan.totalTokens).toBeLessThanOrEqual(576);
    if (largestActivationBytes(1920, 1280, convnext) > limitMb * MB) expect(plan.notes.join(' ')).toMatch(/Reduced from token budget 576/);
  });

  it('multicrop on a ConvNeXt: crops stay 384 px and run in batches that fit; no reduction is claimed', () => {
    const plan = fitted(convnext, limitMb, { strategy: 'multicrop', maxCrops: 16, numTokens: 576 });
    expectFits(plan, convnext, limitMb);
    expect(plan.inputs.every((i) => i.width === 384)).toBe(true);
    expect(plan.totalTokens).toBe(plan.recipe.keepLast!.reduce((a, b) => a + b, 0));
    const perCrop = largestActivationBytes(384, 384, convnext);
    const batch = Math.floor((limitMb * MB) / perCrop);
    if (batch >= plan.inputs.length) {
      expect(plan.recipe.runs).toHaveLength(1);
      expect(plan.notes).toEqual([]);
    } else {
      expect(Math.max(...plan.recipe.runs.map((r) => r.images.length))).toBe(batch);
      expect(plan.notes.join(' ')).toMatch(new RegExp(`runs ${plan.inputs.length} images in ${Math.ceil(plan.inputs.length / batch)} batches of at most ${batch}`));
      expect(plan.notes.join(' ')).not.toMatch(/Reduced/);
    }
    // coords travel with their crops into every batch
    for (const run of plan.recipe.runs) expect(run.feeds.find((f) => f.name === 'coords')!.inputs).toEqual(run.images);
  });

  it('multicrop on a fixed-size SigLIP: batches where one crop fits, a DEVICE_LIMIT refusal naming the limit where not', () => {
    const fixed = { ...config, stride: 14, extraTokens: -1, fixedSize: true };
    const one = largestActivationBytes(384, 384, siglip);
    if (one > limitMb * MB) {
      expect(() => fitted(siglip, limitMb, { strategy: 'multicrop', maxCrops: 4 }, undefined, fixed)).toThrow(
        expect.objectContaining({ code: 'DEVICE_LIMIT', message: expect.stringMatching(new RegExp(`at most ${limitMb} MB per buffer \\(maxStorageBufferBindingSize\\)`)) }),
      );
    } else {
      const plan = fitted(siglip, limitMb, { strategy: 'multicrop', maxCrops: 4 }, undefined, fixed);
      expectFits(plan, siglip, limitMb);
      expect(plan.totalTokens).toBe(728);
    }
  });

  it('pyramid: both branches shrink in proportion, each measured with its own width', () => {
    const plan = fitted(piip, limitMb, { strategy: 'pyramid', resolution: 1024, lowResolution: 512 });
    expectFits(plan, piip, limitMb);
    const [high, low] = plan.inputs.map((i) => outputSize(i).width) as [number, number];
    const need = Math.max(largestActivationBytes(1024, 1024, convnext), largestActivationBytes(512, 512, piip.low!));
    if (need <= limitMb * MB) {
      expect([high, low]).toEqual([1024, 512]);
    } else {
      expect(high).toBeLessThan(1024);
      expect(Math.abs(low - high / 2)).toBeLessThanOrEqual(32);
      expect(plan.notes.join(' ')).toMatch(new RegExp(`Reduced from resolution 1024, lowResolution 512 .* to resolution ${high}, lowResolution ${low}`));
    }
    expect(plan.totalTokens).toBe((high / 64) ** 2);
  });

  it('tiles: same-size tiles are batched to fit; a tile too large alone shrinks', () => {
    const plan = fitted(convnext, limitMb, { strategy: 'tiles', tileSize: 1024, maxTiles: 4 });
    expectFits(plan, convnext, limitMb);
  });
});

describe('fit edge cases', () => {
  it('the issue 12 reproductions: multicrop at 16 MB never claims a reduction it did not make; pyramid at 64 MB keeps the branches in proportion', () => {
    const crops = fitted({ firstStageWidth: 96, patchSize: 4 }, 16, { strategy: 'multicrop', maxCrops: 16 });
    expect(crops.notes.join(' ')).not.toMatch(/Reduced/);
    expect(crops.recipe.runs.length).toBeGreaterThan(1);
    const pyramid = fitted({ firstStageWidth: 96, patchSize: 4, low: { firstStageWidth: 192, patchSize: 4 } }, 64, { strategy: 'pyramid', resolution: 1536, lowResolution: 768 });
    const [high, low] = pyramid.inputs.map((i) => i.width) as [number, number];
    expect(high).toBeGreaterThanOrEqual(512);
    expect(low / high).toBeCloseTo(0.5, 1);
  });

  it('maxBufferSize counts when it is the lower limit', () => {
    const plan = planImage(3000, 2000, { config, vision: convnext, limits: { maxStorageBufferBindingSize: 1024 * MB, maxBufferSize: 16 * MB } });
    expect(plan.notes.join(' ')).toMatch(/at most 16 MB per buffer \(maxBufferSize\)/);
  });

  it('a strategy with nothing left to shrink is refused with DEVICE_LIMIT', () => {
    expect(() => fitted(convnext, 0.001, { strategy: 'convllava-square' })).toThrow(expect.objectContaining({ code: 'DEVICE_LIMIT' }));
  });
});
