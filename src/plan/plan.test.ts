import { describe, expect, it } from 'vitest';
import { bundleSpec } from '../testing/fixtures';
import { planImage } from '.';

const config = { ...bundleSpec().image.loupe, tokenBudget: 576 };

describe('ConvLLaVA plans', () => {
  it('square: pads with the mean colour, centred on the short axis, (S/64)^2 tokens', () => {
    const plan = planImage(200, 150, config, { resolution: 1536 });
    expect(plan.totalTokens).toBe(576);
    expect(plan.inputs[0]).toMatchObject({ canvas: { width: 200, height: 200 }, placement: { x: 0, y: 25 }, fill: [122, 116, 104], width: 1536, height: 1536 });
    expect(planImage(150, 201, config, { resolution: 768 }).inputs[0]).toMatchObject({ placement: { x: 25, y: 0 }, tokens: 144 });
    expect(planImage(10, 10, config, { resolution: 1024 }).totalTokens).toBe(256);
  });

  it('native: keeps the aspect ratio within the token budget', () => {
    const plan = planImage(3000, 1000, config, { strategy: 'convllava-native' });
    const input = plan.inputs[0]!;
    expect(plan.totalTokens).toBeLessThanOrEqual(576);
    expect(input.width % 64).toBe(0);
    expect(input.height % 64).toBe(0);
    expect(input.width / input.height).toBeCloseTo(3, 0);
    // A 3000x1000 panorama at 576 tokens: the padded square spends 2/3 of its pixels on
    // padding (1536 x 512 of image), the native plan puts every token on the image.
    const square = planImage(3000, 1000, config, { resolution: 1536 }).inputs[0]!;
    const squareImagePixels = square.width * square.height * (1000 / 3000);
    const nativeImagePixels = input.width * input.height;
    expect(nativeImagePixels / squareImagePixels).toBeGreaterThan(2.5);
  });

  it('rejects sizes the encoder cannot take, and empty images, with a clear message', () => {
    expect(() => planImage(100, 100, config, { resolution: 100 })).toThrow(/multiple of the encoder stride 64, at most 16384; got 100/);
    expect(() => planImage(0, 100, config)).toThrow(/positive integer size/);
    expect(() => planImage(100, 100, config, { strategy: 'tiles', tileSize: 100 })).toThrow(/tileSize must be a positive multiple/);
  });
});
