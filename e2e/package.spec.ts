import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';

/**
 * The npm package as a consumer gets it: `npm pack`, install the tarball into a separate Vite
 * app, build it, serve it, and ask a question through <loupe-chat>.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PORT = Number(process.env.LOUPE_HOST_PORT ?? 5197);

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });
}

test('the packed library works inside another Vite app', async ({ page }) => {
  test.setTimeout(600_000);
  const work = mkdtempSync(join(tmpdir(), 'loupe-host-'));
  run('npm', ['pack', '--pack-destination', work], ROOT);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  expect(tarball).toMatch(/^loupe-vlm-.*\.tgz$/);
  const listing = run('tar', ['-tzf', join(work, tarball)], work);
  expect(listing).toContain('package/dist-lib/src/index.js');
  expect(listing).toContain('package/dist-lib/workers/loupe.worker.js');
  expect(listing).not.toContain('.test.');

  const app = join(work, 'app');
  cpSync(join(ROOT, 'e2e/host-app'), app, { recursive: true });
  cpSync(join(ROOT, 'public/models/tiny-random-convllava'), join(app, 'public/models/tiny-random-convllava'), { recursive: true });
  cpSync(join(ROOT, '.npmrc'), join(app, '.npmrc'));
  const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  const ours = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  pkg.dependencies = { 'loupe-vlm': `file:${join(work, tarball)}` };
  pkg.devDependencies = { vite: ours.devDependencies.vite };
  writeFileSync(join(app, 'package.json'), JSON.stringify(pkg, null, 2));
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], app);
  run('npx', ['vite', 'build', '--logLevel', 'error'], app);
  const assets = readdirSync(join(app, 'dist/assets'));
  expect(assets.filter((f) => f.endsWith('.wasm'))).toHaveLength(1);
  expect(assets.some((f) => f.startsWith('loupe.worker'))).toBe(true);

  let server: ChildProcess | undefined;
  try {
    server = spawn('npx', ['vite', 'preview', '--port', String(PORT), '--strictPort', '--host', '127.0.0.1'], { cwd: app, stdio: 'ignore', detached: true });
    const url = `http://127.0.0.1:${PORT}/`;
    await expect.poll(async () => (await fetch(url).catch(() => null))?.status ?? 0, { timeout: 60_000 }).toBe(200);
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(url);
    await expect.poll(() => page.evaluate(() => (window as unknown as { hostReady?: boolean }).hostReady), { timeout: 60_000 }).toBe(true);
    await expect(page.locator('loupe-chat').locator('[part="status"]')).toContainText('Ready', { timeout: 120_000 });
    const result = await page.evaluate(async () => {
      const element = document.querySelector('loupe-chat') as HTMLElement & { setImage(b: Blob): Promise<void>; ask(q: string): Promise<string> };
      const canvas = new OffscreenCanvas(200, 150);
      const ctx = canvas.getContext('2d')!;
      ctx.fillStyle = '#3070c0';
      ctx.fillRect(0, 0, 200, 150);
      await element.setImage(await canvas.convertToBlob({ type: 'image/png' }));
      const answer = await element.ask('What is in the image?');
      const events = (window as unknown as { hostEvents: { type: string }[] }).hostEvents;
      return { answer, tokens: events.filter((e) => e.type === 'loupe-token').length, answers: events.filter((e) => e.type === 'loupe-answer').length, errors: events.filter((e) => e.type === 'loupe-error') };
    });
    expect(result.errors).toEqual([]);
    expect(result.tokens).toBeGreaterThan(1);
    expect(result.answers).toBe(1);
    expect(result.answer.length).toBeGreaterThan(0);
    await expect(page.locator('loupe-chat').locator('[part~="answer"]')).not.toBeEmpty();
    // Nothing came from anywhere but the app's own origin.
    expect(requests.filter((r) => !r.startsWith(url) && !r.startsWith('blob:') && !r.startsWith('data:'))).toEqual([]);
  } finally {
    if (server?.pid) process.kill(-server.pid);
  }
});
