import { describe, expect, it } from 'vitest';
import { planImage, type PlanOverrides } from '../plan';
import { ROOT, bundleSpec, decodePng, readBytes, readF32, readJson } from '../testing/fixtures';
import { renderPlan } from './execute-plan';
import { RasterSource } from './source';

/**
 * Every strategy on every reference image against the Python tool's goldens (PIL + torch):
 * geometry first, then pixels in 0..255 units before normalisation (bar: mean <= 0.5, max <= 3).
 */
const DIR = `${ROOT}e2e/fixtures/preprocess/`;

interface Case {
  image: string;
  case: string;
  strategy: string;
  plan: string;
}
interface GoldenInput {
  role: string;
  source: number[];
  width: number;
  height: number;
  tokens?: number;
  coord?: [number, number];
  files: { png?: string };
}
interface GoldenPlan {
  image_size: [number, number];
  inputs: GoldenInput[];
}

const index = readJson<{ sources: Record<string, { file: string }>; cases: Case[] }>(`${DIR}index.json`);
const config = bundleSpec().image.loupe;
// MC-LLaVA's token split assumes SigLIP's 728 tokens per crop (27 x 27 patches of 14 px, patch 0 dropped).
const siglip = { ...config, stride: 14, extraTokens: -1 };
const configFor = (name: string) => (name.startsWith('multicrop') ? siglip : config);
const IMAGENET = { mean: [0.485, 0.456, 0.406] as [number, number, number], std: [0.229, 0.224, 0.225] as [number, number, number], rescaleFactor: 1 / 255 };

function overridesFor(name: string): PlanOverrides {
  const n = name.split('-').map(Number);
  if (name.startsWith('convllava-square')) return { strategy: 'convllava-square', resolution: n[2]! };
  if (name.startsWith('convllava-native')) return { strategy: 'convllava-native', tokenBudget: n[2]! };
  if (name.startsWith('multicrop')) return { strategy: 'multicrop', maxCrops: n[1]!, numTokens: 728 };
  if (name.startsWith('pyramid')) return { strategy: 'pyramid', resolution: n[1]!, lowResolution: n[2]! };
  const [tile, maxTiles] = name.replace('tiles-', '').split('x').map(Number);
  return { strategy: 'tiles', tileSize: tile!, maxTiles: maxTiles! };
}

function compare(actual: ArrayLike<number>, expected: ArrayLike<number>): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / expected.length, max };
}

function rgbOf(png: ReturnType<typeof decodePng>): Uint8Array {
  const out = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++) out.set(png.data.subarray(i * 4, i * 4 + 3), i * 3);
  return out;
}

/** A normalised CHW tensor back to 0..255 units. */
function toPixels(tensor: ArrayLike<number>, pixels: number): Float32Array {
  const out = new Float32Array(tensor.length);
  for (let c = 0; c < 3; c++) for (let i = 0; i < pixels; i++) out[c * pixels + i] = (tensor[c * pixels + i]! * IMAGENET.std[c]! + IMAGENET.mean[c]!) * 255;
  return out;
}

describe('preprocessing parity with the Python reference', () => {
  const images = new Map(Object.entries(index.sources).map(([name, s]) => [name, decodePng(readBytes(`${DIR}${s.file}`))]));

  for (const entry of index.cases) {
    it(`${entry.image} / ${entry.case}`, () => {
      const golden = readJson<GoldenPlan>(`${DIR}${entry.plan}`);
      const image = images.get(entry.image)!;
      const plan = planImage(image.width, image.height, configFor(entry.case), overridesFor(entry.case));
      // Geometry: the same inputs, roles, sizes, token counts, crop rectangles and centres.
      expect(plan.inputs.map((i) => i.role)).toEqual(golden.inputs.map((i) => i.role));
      plan.inputs.forEach((input, i) => {
        const g = golden.inputs[i]!;
        expect([input.window?.width ?? input.width, input.window?.height ?? input.height]).toEqual([g.width, g.height]);
        if (g.tokens !== undefined && input.role !== 'low' && input.role !== 'high') expect(input.tokens).toBe(g.tokens);
        if (g.coord) expect(input.coord![0]).toBeCloseTo(g.coord[0], 12);
        if (g.coord) expect(input.coord![1]).toBeCloseTo(g.coord[1], 12);
        if (input.role === 'crop' || input.role === 'global') {
          expect([input.source.x, input.source.y, input.source.width, input.source.height]).toEqual(g.source);
        }
      });
      // Pixels.
      const spec = entry.strategy === 'pyramid' ? IMAGENET : bundleSpec().image;
      const pixels = renderPlan(new RasterSource(image, plan.alphaFill), plan, spec);
      golden.inputs.forEach((g, i) => {
        if (!g.files.png) return;
        const diff = compare(pixels.rgb[i]!, rgbOf(decodePng(readBytes(`${DIR}${entry.image}/${entry.case}/${g.files.png}`))));
        expect(diff.mean).toBeLessThanOrEqual(0.5);
        expect(diff.max).toBeLessThanOrEqual(3);
      });
      if (entry.strategy === 'pyramid') {
        for (const [i, file] of [[0, 'high.f32'], [1, 'low.f32']] as const) {
          const size = golden.inputs[i] ?? { width: 0, height: 0 };
          const n = size.width * size.height;
          const diff = compare(toPixels(pixels.tensors[i]!, n), toPixels(readF32(`${DIR}${entry.image}/${entry.case}/${file}`), n));
          expect(diff.mean).toBeLessThanOrEqual(0.5);
          expect(diff.max).toBeLessThanOrEqual(3);
          expect(diff.max).toBeLessThan(1e-3); // float stages agree to rounding
        }
      }
    });
  }

  it('MC-LLaVA worked example geometry matches the reference tool', () => {
    const worked = readJson<{ inputs?: { crop_box?: number[]; coord?: number[] }[]; crops?: unknown }>(`${DIR}multicrop_worked_example.json`);
    const plan = planImage(2246, 1582, siglip, { strategy: 'multicrop', maxCrops: 100, numTokens: 728 });
    const boxes = (worked.inputs ?? []).map((i) => i.crop_box);
    expect(boxes.length).toBe(71);
    expect(plan.inputs.map((i) => [i.source.x, i.source.y, i.source.x + i.source.width, i.source.y + i.source.height])).toEqual(boxes);
  });
});
