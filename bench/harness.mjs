// What bench/run.mjs and bench/eval.mjs share: command-line options, the web server (the
// production build by default, Vite's dev server with --dev), Debian's Chromium, the bench page.
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { buildBenchPage, serveBench } from './static.mjs';

const argv = process.argv.slice(2);

/** `--name value` from the command line, or the fallback. */
export function option(name, fallback) {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
}

/** Whether `--name` was given. */
export function flag(name) {
  return argv.includes(`--${name}`);
}

/** The dev server (with its COOP/COEP headers), for --dev. */
async function devServer() {
  const server = await createServer({ logLevel: 'error', server: { port: 0, host: '127.0.0.1' } });
  await server.listen();
  return { port: server.httpServer.address().port, close: () => server.close() };
}

/** Serves the bench page (built, unless --dev) and starts headless Chromium. */
export async function startBench() {
  const dev = flag('dev');
  if (!dev) await buildBenchPage();
  const server = dev ? await devServer() : await serveBench();
  const { port } = server;
  const browser = await chromium.launch({
    executablePath: process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--enable-unsafe-webgpu'],
  });
  return {
    browser,
    port,
    /** 'production build' or 'dev server': recorded with the results. */
    served: dev ? 'dev server' : 'production build',
    /** bench/bench.html in `context` (a new page of the default context if none), ready to drive. */
    async openPage(context = browser) {
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${port}/bench/bench.html`);
      await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'ready', null, { timeout: 120_000 });
      return page;
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}
