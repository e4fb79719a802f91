import { expect, test } from '@playwright/test';
import { BUNDLE, openHarness } from './support';

/**
 * A 12000 x 9000 JPEG (108 MP) is planned and rendered strip by strip: Loupe never holds a
 * full-resolution copy (432 MB as RGBA, 1.3 GB as float32), only a strip of source rows,
 * the rows the vertical filter still needs, and the output.
 */
test('a 12000x9000 JPEG is processed with bounded extra memory', async ({ page }) => {
  test.setTimeout(300_000);
  await openHarness(page);
  const result = await page.evaluate(async (bundle) => {
    const width = 12000;
    const height = 9000;
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d')!;
    const gradient = ctx.createLinearGradient(0, 0, width, height);
    gradient.addColorStop(0, '#204060');
    gradient.addColorStop(1, '#e0c080');
    ctx.fillStyle = gradient;
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = '#c02020';
    for (let i = 0; i < 40; i++) ctx.fillRect((i * 977) % width, (i * 613) % height, 300, 200);
    const jpeg = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.85 });
    canvas.width = 1;
    canvas.height = 1;
    const model = await window.loupe.loadModel(bundle, { device: 'wasm', dtype: 'fp32' });
    const runs: Record<string, unknown>[] = [];
    for (const overrides of [
      { strategy: 'convllava-square', resolution: 1536 },
      { strategy: 'convllava-native', tokenBudget: 576 },
      { strategy: 'multicrop', maxCrops: 16 },
    ] as const) {
      const started = performance.now();
      const rendered = await model.render(jpeg, overrides);
      runs.push({
        strategy: overrides.strategy,
        ms: performance.now() - started,
        decodeMs: rendered.decodeMs,
        preprocessMs: rendered.preprocessMs,
        workingBytes: rendered.workingBytes,
        outputBytes: rendered.inputs.reduce((n, i) => n + (i ? i.rgb.byteLength : 0), 0),
        inputs: rendered.inputs.length,
        size: [rendered.inputs[0]!.width, rendered.inputs[0]!.height],
      });
    }
    // And the whole path: encode it and keep chatting.
    const chat = model.chat();
    const summary = await chat.setImage(jpeg, { strategy: 'convllava-native', tokenBudget: 64 });
    await model.dispose();
    return { jpegBytes: jpeg.size, runs, encoded: { tokens: summary.visualTokens, workingBytes: summary.workingBytes } };
  }, BUNDLE);
  test.info().annotations.push({ type: 'huge-image', description: JSON.stringify(result) });
  const fullRgba = 12000 * 9000 * 4;
  for (const run of result.runs) {
    // Stated bound: a 4 MiB strip held three times (canvas, its ImageData, Loupe's copy)
    // + one canvas row + (filter taps + 1) rows of the output width: under 16 MiB.
    expect(run.workingBytes as number).toBeLessThan(16 * 2 ** 20);
    expect(run.workingBytes as number).toBeLessThan(fullRgba / 30);
  }
  expect(result.runs[0]!.size).toEqual([1536, 1536]);
  expect(result.encoded.tokens).toBeLessThanOrEqual(64);
});
