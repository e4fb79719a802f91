#!/usr/bin/env node
// `npm run bench`: serves the repo with Vite, drives Debian's Chromium over bench/bench.html,
// prints one JSON line per measurement and a table. Options: --device wasm|webgpu, --runs N,
// --bundle URL, --preprocessor auto|cpu|gpu, --threads N (wasm threads; default: what the page allows), --no-peers.
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchNativeEncoder } from './native.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const device = option('device', 'wasm');
const runs = Number(option('runs', '3'));
const bundle = option('bundle', '/models/tiny-random-convllava/');
const preprocessor = option('preprocessor', 'auto');
const peers = !args.includes('--no-peers');
const threads = option('threads', undefined);

const server = await createServer({ logLevel: 'error', server: { port: 0, host: '127.0.0.1' } });
await server.listen();
const { port } = server.httpServer.address();
const browser = await chromium.launch({
  executablePath: process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--enable-unsafe-webgpu'],
});
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/bench/bench.html`);
  await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'ready', null, { timeout: 120_000 });
  const isolated = await page.evaluate(() => self.crossOriginIsolated);
  const machine = { cross_origin_isolated: isolated, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30), browser: browser.version(), node: process.version };
  const results = await page.evaluate((o) => window.runBench(o), { bundle, device, runs, preprocessor, peers, ...(threads ? { threads: Number(threads) } : {}) });
  // The same vision graph natively, at the sizes the browser encoded, one thread and all cores.
  const bundleDir = fileURLToPath(new URL(`..${bundle.startsWith('/bench/') ? '' : '/public'}${bundle}`, import.meta.url));
  const model = bundle.split('/').filter(Boolean).pop();
  const sizes = results
    .filter((r) => r.stage === 'encode' && r.strategy.startsWith('convllava'))
    .map((r) => ({ strategy: r.strategy, resolution: r.resolution, width: r.input_width, height: r.input_height }));
  for (const threads of [1, os.cpus().length]) results.push(...(await benchNativeEncoder({ bundleDir, model, sizes, runs, threads })));
  console.log(JSON.stringify({ machine }));
  for (const r of results) console.log(JSON.stringify(r));
  console.log('\nruntime                  stage       strategy           res    tokens      median    (min..max)');
  for (const r of results) {
    const runtime = `${r.runtime}/${r.stage === 'preprocess' && r.preprocessor ? r.preprocessor : r.provider}${r.threads ? ` x${r.threads}` : ''}`;
    console.log(
      `${runtime.padEnd(24)} ${r.stage.padEnd(11)} ${r.strategy.padEnd(18)} ${String(r.resolution ?? '-').padEnd(6)} ${String(r.visual_tokens ?? '-').padEnd(8)} ${r.median.toFixed(1).padStart(9)}${r.tokens_per_s !== undefined ? ' tok/s' : ' ms   '} (${r.min.toFixed(1)}..${r.max.toFixed(1)})`,
    );
  }
} finally {
  await browser.close();
  await server.close();
}
