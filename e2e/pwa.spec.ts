import { readdirSync, readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { PREVIEW_PORT } from './playwright.config';

/**
 * The production build as an offline PWA: one online visit with the model loaded, then the
 * network goes away, the page reloads and still answers, streamed.
 */
const app = `http://127.0.0.1:${PREVIEW_PORT}/`;

test('after one online visit the app loads the model and answers with the network off', async ({ page, context }, testInfo) => {
  test.setTimeout(300_000);
  await page.goto(app);
  await expect(page.locator('#model-status')).toContainText('Loaded in', { timeout: 120_000 });
  await page.evaluate(() => navigator.serviceWorker.ready);
  await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null), { timeout: 60_000 }).toBe(true);
  await page.getByRole('button', { name: 'Make available offline' }).click();
  await expect(page.locator('#storage')).toContainText('model files');
  await expect(page.locator('#storage')).not.toContainText('0 model files');

  await context.setOffline(true);
  await page.reload();
  await expect(page.locator('#model-status')).toContainText('Loaded in', { timeout: 120_000 });
  // The default model encodes a 3000 px sample at 1536: seconds on wasm, minutes on
  // SwiftShader's WebGPU, so this machine answers on wasm.
  await page.getByLabel('Device').selectOption('wasm');
  await page.getByRole('button', { name: 'Load' }).click();
  await expect(page.locator('#model-status')).toContainText('vision_encoder: wasm', { timeout: 120_000 });
  await page.getByRole('button', { name: 'Use the sample image' }).click();
  await expect(page.locator('#image-status')).toContainText('visual tokens', { timeout: 120_000 });
  await page.getByRole('button', { name: 'Ask' }).click();
  await expect(page.locator('#stats')).toContainText('tokens/s', { timeout: 120_000 });
  await expect(page.locator('#conversation .assistant')).not.toBeEmpty();
  await page.screenshot({ path: testInfo.outputPath('offline-answer.png'), fullPage: true });
  await context.setOffline(false);
});

test('the manifest makes the app installable', async ({ page }) => {
  await page.goto(app);
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  const manifest = (await (await page.request.get(new URL(href!, app).href)).json()) as { name: string; icons: { sizes: string }[]; display: string };
  expect(manifest.display).toBe('standalone');
  expect(manifest.icons.map((i) => i.sizes)).toEqual(['192x192', '512x512']);
});

test('the built app ships onnxruntime-web once: one wasm binary, one copy of its JavaScript', () => {
  // dist/ is the build the preview server above serves.
  const assets = new URL('../dist/assets/', import.meta.url);
  const files = readdirSync(assets);
  expect(files.filter((f) => f.endsWith('.wasm'))).toHaveLength(1);
  const withOrt = files.filter((f) => f.endsWith('.js') && readFileSync(new URL(f, assets), 'utf8').includes('ort-wasm-simd-threaded.asyncify.mjs'));
  // (The page's own script names the .wasm URL; only onnxruntime's glue names its .mjs.)
  expect(withOrt).toHaveLength(1);
});
