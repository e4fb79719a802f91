import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';

/**
 * A bundle from another origin, addressed the way the Hugging Face Hub addresses files
 * (`https://huggingface.co/<org>/<name>/resolve/main/<file>`, answered by a redirect to a
 * CDN, with CORS headers): the demo's Bundle URL takes it as it is. Here a local server
 * plays the Hub with the tiny FastVLM-layout bundle.
 */
const MODELS = fileURLToPath(new URL('../public/models/', import.meta.url));
const PORT = Number(process.env.LOUPE_HUB_PORT ?? 5197);
const HUB = `http://127.0.0.1:${PORT}`;
const CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'content-length, etag', 'cross-origin-resource-policy': 'cross-origin' };
let server: Server;

test.beforeAll(async () => {
  server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', HUB).pathname);
    const resolve = /^\/onnx-community\/([\w-]+)\/resolve\/main\/(.+)$/.exec(path);
    if (resolve) {
      response.writeHead(302, { ...CORS, location: `${HUB}/cdn/${resolve[1]}/${resolve[2]}` }).end();
      return;
    }
    const cdn = /^\/cdn\/([\w-]+)\/([\w./-]+)$/.exec(path);
    if (!cdn || cdn[2]!.includes('..')) {
      response.writeHead(404, CORS).end();
      return;
    }
    readFile(join(MODELS, cdn[1]!, cdn[2]!))
      .then((body) => {
        response.writeHead(200, { ...CORS, 'content-type': 'application/octet-stream', 'content-length': body.length });
        response.end(request.method === 'HEAD' ? undefined : body);
      })
      .catch(() => response.writeHead(404, CORS).end('Entry not found'));
  });
  await new Promise<void>((done) => server.listen(PORT, '127.0.0.1', done));
});

test.afterAll(() => new Promise<void>((done) => server.close(() => done())));

test('the demo loads a FastVLM-layout bundle from a Hub-style URL on another origin and answers', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const url = `${HUB}/onnx-community/tiny-random-fastvlm/resolve/main/`;
  await page.goto(`/?model=${encodeURIComponent(url)}&sample=shapes-200x150.png`);
  await expect(page.locator('#model-status')).toContainText('Loaded in', { timeout: 120_000 });
  await expect(page.getByLabel('Bundle URL')).toHaveValue(url);
  await page.getByRole('button', { name: 'Use the sample image' }).click();
  // FastVLM's processor: shortest edge to 128, centre crop 128 x 128, one token per 64 px.
  await expect(page.locator('#image-status')).toContainText('200×150 → 170×128 → 128×128 crop (center-crop), 4 visual tokens');
  await page.getByRole('button', { name: 'Ask' }).click();
  await expect(page.locator('#stats')).toContainText('tokens/s', { timeout: 120_000 });
  await expect(page.locator('#conversation .assistant')).not.toBeEmpty();
  expect(errors).toEqual([]);
});
