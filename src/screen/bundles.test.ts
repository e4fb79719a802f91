import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ort } from '../device/ort';
import { ROOT, readBytes } from '../testing/fixtures';
import { SHIPPED_BUNDLES, bundlesTaking } from './bundles';

describe("the demo's bundle catalogue", () => {
  it.each(SHIPPED_BUNDLES)('$path: its vision graph takes $visionInputs', async ({ path, visionInputs }) => {
    // The fp32 graph, or the int8 one where only that fits the bundle (loupe-synth-piip, loupe-synth-mc).
    const dir = `${ROOT}public/${path}onnx/`;
    const file = existsSync(`${dir}vision_encoder.onnx`) ? 'vision_encoder.onnx' : 'vision_encoder_int8.onnx';
    const session = await ort.InferenceSession.create(readBytes(`${dir}${file}`), {
      executionProviders: ['wasm'],
    });
    expect([...session.inputNames].sort()).toEqual([...visionInputs].sort());
    await session.release();
  });

  it('names the bundles that can run a strategy', () => {
    expect(bundlesTaking(['pixel_values', 'coords']).map((b) => b.path)).toEqual([
      'models/loupe-synth-mc/',
      'models/tiny-random-mcllava/',
      'models/tiny-converted-mcllava/',
    ]);
    expect(bundlesTaking(['pixel_values_low', 'pixel_values']).map((b) => b.path)).toEqual([
      'models/loupe-synth-piip/',
      'models/tiny-random-piip/',
      'models/tiny-converted-piip/',
    ]);
  });
});
