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

test('a new deploy updates the app without breaking the cached model', async ({ page, context }) => {
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

    host.root = join(work, 'b'); // deploy
    // A navigation makes the browser fetch service-worker.js again; the new one installs (only
    // the changed shell files are fetched), activates and takes control, and the app
    // (registerType autoUpdate) may reload itself onto the new build. The test reloads only
    // while no new worker is installing or waiting, so its reloads never race that update.
    await page.reload();
    await expect
      .poll(
        async () => {
          const updating = await page
            .evaluate(async () => {
              const registration = await navigator.serviceWorker.getRegistration();
              return registration === undefined || registration.installing !== null || registration.waiting !== null;
            })
            .catch(() => true); // the app is reloading itself
          if (!updating) await page.reload();
          return page.locator('#build').textContent();
        },
        { timeout: 120_000, intervals: [3_000] },
      )
      .toBe('build B');
    expect(await page.evaluate(async () => (await (await caches.open('loupe-models-v1')).keys()).length)).toBe(cachedBefore);

    await context.setOffline(true);
    await page.reload();
    await expect(page.locator('#build')).toHaveText('build B');
    await expect(page.locator('#model-status')).toContainText('Loaded in', { timeout: 120_000 });
    await context.setOffline(false);
  } finally {
    await host.close();
  }
});
