import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { BUNDLE, openHarness } from './support';

/** Bundle files are kept in Cache Storage; a file that changed on the server is fetched again. */
test('a second load comes from the cache, and a changed file is re-fetched', async ({ page }) => {
  await openHarness(page);
  const load = () =>
    page.evaluate(async (bundle) => {
      const seen: Record<string, boolean> = {};
      const model = await window.loupe.loadModel(bundle, {
        device: 'wasm',
        dtype: 'fp32',
        onProgress: (p) => {
          if (p.stage === 'download' && p.file && p.fromCache !== undefined && p.loadedBytes === p.totalBytes) seen[p.file] = p.fromCache;
        },
      });
      await model.dispose();
      return seen;
    }, BUNDLE);

  const first = await load();
  expect(first['onnx/decoder_model_merged.onnx']).toBe(false);
  expect(Object.values(first).every((fromCache) => fromCache === false)).toBe(true);

  const second = await load();
  expect(Object.keys(second).sort()).toEqual(Object.keys(first).sort());
  expect(Object.values(second).every((fromCache) => fromCache === true)).toBe(true);

  // The server now has another vision encoder (same tensor names, other size): re-fetched.
  const replacement = readFileSync(new URL('../public/models/tiny-random-convllava/onnx/vision_encoder_int8.onnx', import.meta.url));
  await page.context().route('**/tiny-random-convllava/onnx/vision_encoder.onnx', (route) =>
    route.fulfill({ body: replacement, headers: { 'content-type': 'application/octet-stream', 'content-length': String(replacement.length) } }),
  );
  const third = await load();
  expect(third['onnx/vision_encoder.onnx']).toBe(false);
  expect(third['onnx/decoder_model_merged.onnx']).toBe(true);
});
