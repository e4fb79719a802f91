import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { SwitchableStaticServer } from './static-server';

/**
 * A static host that sends no headers: the service worker makes the page cross-origin isolated
 * (wasm threads) from the second visit. A new deploy replaces the app shell (a new precache)
 * and leaves the downloaded model alone: after the update the model still loads from the
 * cache, with the network off.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PORT = Number(process.env.LOUPE_DEPLOY_PORT ?? 5196);

function build(id: string, outDir: string): void {
  execFileSync('npx', ['vite', 'build', '--logLevel', 'error', '--outDir', outDir, '--emptyOutDir'], { cwd: ROOT, env: { ...process.env, VITE_BUILD_ID: id }, stdio: 'ignore' });
}

/** What the browser does on its own from time to time: look for a new service worker. */
async function checkForUpdate(page: import('@playwright/test').Page): Promise<void> {
  await page
    .evaluate(async () => {
      await (await navigator.serviceWorker.getRegistration())?.update();
    })
    .catch((error: Error) => {
      if (!/context was destroyed|navigat/i.test(error.message)) throw error; // the page reloaded itself
    });
}

test('a new deploy waits for the user during a conversation, updates an idle page at once, and keeps the cached model', async ({ page, context }) => {
  test.setTimeout(400_000);
  const work = mkdtempSync(join(tmpdir(), 'loupe-deploy-'));
  build('A', join(work, 'a'));
  build('B', join(work, 'b'));
  const host = new SwitchableStaticServer(join(work, 'a'));
  await host.listen(PORT);
  try {
    const app = `http://127.0.0.1:${PORT}/`;
    await page.goto(app);
    await expect(page.locator('#build')).toHaveText('build A');
    await expect(page.locator('#model-status')).toContainText('Loaded in', { timeout: 120_000 });
    await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null), { timeout: 60_000 }).toBe(true);
    // This host sends no COOP/COEP: the first visit runs wasm on one thread and says why.
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(false);
    await expect(page.locator('#model-status')).toContainText('wasm 1 thread (page not cross-origin isolated)');
    // Once the service worker serves the page, it adds the headers: isolated, several threads.
    await page.reload();
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    await expect(page.locator('#model-status')).toContainText(cores > 1 ? `wasm ${Math.min(4, cores)} threads.` : 'wasm 1 thread.', { timeout: 120_000 });
    const cachedBefore = await page.evaluate(async () => (await (await caches.open('loupe-models-v1')).keys()).length);
    expect(cachedBefore).toBeGreaterThanOrEqual(8);

    // A conversation is in progress: the new deploy waits for the user. (A question without an
    // image: encoding the 1536-px sample on SwiftShader's WebGPU would take minutes.)
    await page.getByLabel('Question', { exact: true }).fill('What is in the image?');
    await page.getByRole('button', { name: 'Ask' }).click();
    await expect(page.locator('#stats')).toContainText('tokens/s', { timeout: 120_000 });
    host.root = join(work, 'b'); // deploy
    await checkForUpdate(page);
    await expect(page.locator('#update')).toContainText('A new version of Loupe is ready', { timeout: 60_000 });
    await expect(page.locator('#build')).toHaveText('build A');
    await expect(page.locator('#conversation .assistant')).toHaveCount(1); // not reloaded under the user
    await page.getByRole('button', { name: 'Reload now' }).click();
    await expect(page.locator('#build')).toHaveText('build B', { timeout: 60_000 });
    expect(await page.evaluate(async () => (await (await caches.open('loupe-models-v1')).keys()).length)).toBe(cachedBefore);

    await context.setOffline(true);
    await page.reload();
    await expect(page.locator('#build')).toHaveText('build B');
    await expect(page.locator('#model-status')).toContainText('Loaded in', { timeout: 120_000 });
    await context.setOffline(false);

    // An idle page (no image, no conversation) takes the next deploy at once.
    await expect(page.locator('#model-status')).toContainText('Loaded in', { timeout: 120_000 });
    host.root = join(work, 'a'); // deploy the other build again
    await checkForUpdate(page);
    await expect(page.locator('#build')).toHaveText('build A', { timeout: 60_000 });
    await expect(page.locator('#update')).toBeHidden();
  } finally {
    await host.close();
  }
});
