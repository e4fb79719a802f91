import { execFileSync } from 'node:child_process';
import { expect, test, type Page } from '@playwright/test';
import { LAUNCH_ARGS } from './launch-args';
import { BUNDLE, IMAGE, golden, openHarness } from './support';

/**
 * No leaks: 50 ask cycles and 20 setImage cycles on one engine. Memory is the resident set
 * of Chromium's renderer processes, which hold the page and its workers (JS heaps, the
 * workers' wasm heaps, decoded images), read from the OS; GPU buffers come from
 * model.gpuMemory(). After the first cycle of each kind, the last may not be more than a
 * stated bound above it. (Linux: the resident set comes from `ps`.)
 */
const ASK_CYCLES = 50;
const IMAGE_CYCLES = 20;
/** Resident bytes the renderers may grow by between the first cycle and the last. */
const RSS_BOUND = 24 * 1024 * 1024;
/** GPU buffer bytes the model may hold beyond its level after the first cycle. */
const GPU_BOUND = 1024 * 1024;

function rendererBytes(): number {
  const out = execFileSync('ps', ['-C', 'chromium', '-o', 'rss=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes('--type=renderer'))
    .reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[0]) * 1024, 0);
}

declare global {
  interface Window {
    leakRun: { cycle(kind: 'ask' | 'image'): Promise<(number | null)[]>; gpu(): Promise<number>; dispose(): Promise<void> };
  }
}

async function cycles(page: Page, kind: 'ask' | 'image', count: number): Promise<(number | null)[]> {
  return page.evaluate(
    async ({ kind, count }) => {
      let ids: (number | null)[] = [];
      for (let i = 0; i < count; i++) ids = await window.leakRun.cycle(kind);
      return ids;
    },
    { kind, count },
  );
}

// gc() in the page before a sample, so a sample is less a collection's luck.
test.use({ launchOptions: { executablePath: process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium', args: [...LAUNCH_ARGS, '--js-flags=--expose-gc'] } });

async function sample(page: Page): Promise<{ rss: number; gpu: number }> {
  // In the page only: Playwright's worker.evaluate never answered in Loupe's workers here.
  await page.evaluate(() => (globalThis as unknown as { gc?: () => void }).gc?.());
  return { rss: rendererBytes(), gpu: await page.evaluate(() => window.leakRun.gpu()) };
}

for (const device of ['wasm', 'webgpu'] as const) {
  test(`50 ask and 20 setImage cycles on one engine leave memory within a bound of its first-cycle level (${device})`, async ({ page }) => {
    test.setTimeout(300_000);
    await openHarness(page);
    await page.evaluate(
      async ({ bundle, image, question, device }) => {
        const model = await window.loupe.loadModel(bundle, { device, dtype: 'fp32' });
        const blob = await (await fetch(image)).blob();
        const kept = model.chat();
        const drain = window.loupeTest.drain;
        window.leakRun = {
          // An ask cycle: a chat is opened, given the image, asked, and closed.
          // An image cycle: the same chat gets the image again (features replaced, cache cleared).
          async cycle(kind) {
            if (kind === 'image') {
              await kept.setImage(blob);
              return [];
            }
            const chat = model.chat();
            await chat.setImage(blob);
            const ids = await drain(chat.ask(question, { maxNewTokens: 4 }));
            chat.close();
            return ids;
          },
          gpu: async () => (await model.gpuMemory()).live,
          dispose: () => model.dispose(),
        };
      },
      { bundle: BUNDLE, image: IMAGE, question: golden.question, device },
    );
    const report: string[] = [];
    for (const [kind, count] of [['ask', ASK_CYCLES], ['image', IMAGE_CYCLES]] as const) {
      await cycles(page, kind, 1);
      const first = await sample(page);
      const ids = await cycles(page, kind, count - 1);
      const last = await sample(page);
      if (kind === 'ask') expect(ids).toEqual(golden.greedy_ids.slice(0, 4));
      const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
      report.push(`${kind}: renderers ${mib(first.rss)} -> ${mib(last.rss)} MiB, GPU ${mib(first.gpu)} -> ${mib(last.gpu)} MiB after 1 and ${count} cycles`);
      expect(last.rss - first.rss, `${kind}: resident bytes after ${count} cycles vs 1`).toBeLessThan(RSS_BOUND);
      expect(last.gpu - first.gpu, `${kind}: GPU bytes after ${count} cycles vs 1`).toBeLessThanOrEqual(GPU_BOUND);
    }
    await page.evaluate(() => window.leakRun.dispose());
    console.log(`${device}: ${report.join('; ')}`);
  });
}
