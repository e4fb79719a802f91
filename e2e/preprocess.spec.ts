import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { BUNDLE, openHarness } from './support';

/**
 * The canvas stage in Chromium: the browser's own decoder and strip reader feed the
 * Pillow-exact renderer; results are compared with the Python goldens in 0..255 units.
 */
const index = JSON.parse(readFileSync(new URL('./fixtures/preprocess/index.json', import.meta.url), 'utf8')) as {
  sources: Record<string, { file: string }>;
  cases: { image: string; case: string; strategy: string; plan: string }[];
};

function overridesFor(name: string): Record<string, unknown> {
  const n = name.split('-').map(Number);
  if (name.startsWith('convllava-square')) return { strategy: 'convllava-square', resolution: n[2] };
  if (name.startsWith('convllava-native')) return { strategy: 'convllava-native', tokenBudget: n[2] };
  if (name.startsWith('multicrop')) return { strategy: 'multicrop', maxCrops: n[1], numTokens: 728 };
  if (name.startsWith('pyramid')) return { strategy: 'pyramid', resolution: n[1], lowResolution: n[2] };
  const [tile, maxTiles] = name.replace('tiles-', '').split('x').map(Number);
  return { strategy: 'tiles', tileSize: tile, maxTiles };
}

async function withModel(page: Page, preprocessor: 'auto' | 'cpu' | 'gpu' = 'auto'): Promise<Record<string, unknown>> {
  await openHarness(page);
  return page.evaluate(
    async ({ bundle, preprocessor }) => {
      const model = await window.loupe.loadModel(bundle, { device: 'wasm', dtype: 'fp32', preprocessor });
      (window as unknown as { model: unknown }).model = model;
      return model.info.preprocessor as unknown as Record<string, unknown>;
    },
    { bundle: BUNDLE, preprocessor },
  );
}

for (const path of ['cpu', 'gpu'] as const) test(`every strategy on every reference image matches the Python goldens in Chromium (${path} path)`, async ({ page }) => {
  const report = await withModel(page, path);
  expect(report).toMatchObject({ path, reason: 'requested' });
  const cases = index.cases.map((c) => {
    const plan = JSON.parse(readFileSync(new URL(`./fixtures/preprocess/${c.plan}`, import.meta.url), 'utf8')) as { inputs: { files: { png?: string } }[] };
    return {
      source: `/e2e/fixtures/preprocess/${index.sources[c.image]!.file}`,
      name: `${c.image}/${c.case}`,
      overrides: overridesFor(c.case),
      goldens: plan.inputs.map((i) => (i.files.png ? `/e2e/fixtures/preprocess/${c.image}/${c.case}/${i.files.png}` : null)),
    };
  });
  const results = await page.evaluate(async (cases) => {
    const model = (window as unknown as { model: import('../src').LoupeModel }).model;
    const pixelsOf = async (url: string) => {
      const bitmap = await createImageBitmap(await (await fetch(url)).blob(), { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const context = canvas.getContext('2d')!;
      context.drawImage(bitmap, 0, 0);
      return context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    };
    const out: { name: string; mean: number; max: number; inputs: number }[] = [];
    for (const c of cases) {
      const rendered = await model.render(await (await fetch(c.source)).blob(), c.overrides);
      let sum = 0;
      let count = 0;
      let max = 0;
      for (let i = 0; i < c.goldens.length; i++) {
        const url = c.goldens[i];
        const mine = rendered.inputs[i];
        if (!url || !mine) continue;
        const golden = await pixelsOf(url);
        for (let p = 0; p < mine.width * mine.height; p++) {
          for (let ch = 0; ch < 3; ch++) {
            const d = Math.abs(mine.rgb[p * 3 + ch]! - golden[p * 4 + ch]!);
            sum += d;
            max = Math.max(max, d);
            count++;
          }
        }
      }
      out.push({ name: c.name, mean: sum / count, max, inputs: rendered.inputs.length });
    }
    return out;
  }, cases);
  expect(results).toHaveLength(index.cases.length);
  for (const r of results) {
    expect.soft(r.mean, r.name).toBeLessThanOrEqual(0.5);
    expect.soft(r.max, r.name).toBeLessThanOrEqual(3);
  }
  test.info().annotations.push({ type: 'parity', description: JSON.stringify(results.map((r) => [r.name, r.mean.toFixed(4), r.max])) });
});

test('auto preprocessing stays on the CPU on a software GPU adapter, and says why', async ({ page }) => {
  const report = await withModel(page, 'auto');
  expect(report).toMatchObject({ path: 'cpu', reason: 'software GPU adapter: the CPU path is faster' });
});

test('bad images get a correct tensor or a typed error, and the worker stays usable', async ({ page }) => {
  await withModel(page);
  const result = await page.evaluate(async () => {
    const model = (window as unknown as { model: import('../src').LoupeModel }).model;
    const file = (name: string) => fetch(`/e2e/fixtures/images/${name}`).then((r) => r.blob());
    const attempt = async (work: () => Promise<unknown>) => {
      try {
        return { ok: await work() };
      } catch (error) {
        const e = error as { code?: string; message: string; details?: Record<string, unknown> };
        return { code: e.code, message: e.message, details: e.details };
      }
    };
    const firstPixel = async (blob: Blob) => {
      const r = await model.render(blob, { strategy: 'convllava-native', tokenBudget: 4 });
      return { rgb: Array.from(r.inputs[0]!.rgb.subarray(0, 3)), plan: r.plan };
    };
    return {
      cmyk: await attempt(async () => {
        const r = await model.render(await file('cmyk.jpg'), { strategy: 'convllava-native', tokenBudget: 1 });
        return { width: r.plan.imageWidth, height: r.plan.imageHeight };
      }),
      gifPixel: await attempt(async () => (await firstPixel(await file('animated.gif'))).rgb),
      strip: await attempt(async () => {
        const blob = await file('strip.png');
        const plans = [];
        for (const strategy of ['convllava-square', 'convllava-native', 'multicrop', 'tiles', 'pyramid'] as const) {
          const r = await model.render(blob, { strategy, resolution: 128, lowResolution: 64, tileSize: 128 });
          plans.push({ strategy, inputs: r.inputs.length, tokens: r.plan.totalTokens, sizes: r.inputs.map((i) => (i ? i.width * i.height : 0)) });
        }
        return plans;
      }),
      alpha: await attempt(async () => {
        // Fully transparent leftmost column -> the fill colour exactly.
        const r = await model.render(await file('alpha_small.png'), { strategy: 'convllava-native', tokenBudget: 1 });
        return { first: Array.from(r.inputs[0]!.rgb.subarray(0, 3)), fill: r.plan.alphaFill };
      }),
      svg: await attempt(async () => {
        const r = await model.render(await file('no-size.svg'), { strategy: 'convllava-native', tokenBudget: 4 });
        return { width: r.plan.imageWidth, height: r.plan.imageHeight };
      }),
      svgNoBox: await attempt(() => model.render(new Blob(['<svg xmlns="http://www.w3.org/2000/svg"><rect width="5" height="5"/></svg>'], { type: 'image/svg+xml' }))),
      notImage: await attempt(async () => model.render(await file('not-an-image.bin'))),
      zeroHeight: await attempt(async () => model.render(await file('zero-height.png'))),
      huge: await attempt(async () => model.render(await file('huge-header.png'))),
      afterAll: await attempt(async () => (await model.render(await file('cmyk.jpg'))).plan.totalTokens),
    };
  });
  expect(result.cmyk).toEqual({ ok: { width: 64, height: 48 } });
  expect(result.gifPixel).toEqual({ ok: [255, 0, 0] });
  const strip = (result.strip as { ok: { strategy: string; inputs: number; tokens: number; sizes: number[] }[] }).ok;
  expect(strip.map((s) => s.strategy)).toEqual(['convllava-square', 'convllava-native', 'multicrop', 'tiles', 'pyramid']);
  for (const s of strip) expect(s.sizes.every((n) => n > 0) || s.strategy === 'pyramid').toBe(true);
  expect((result.alpha as { ok: { first: number[]; fill: number[] } }).ok.first).toEqual([122, 116, 104]);
  expect(result.svg).toEqual({ ok: { width: 120, height: 80 } });
  expect(result.svgNoBox).toMatchObject({ code: 'IMAGE_DECODE_FAILED', message: expect.stringMatching(/no intrinsic size/) });
  expect(result.notImage).toMatchObject({ code: 'IMAGE_DECODE_FAILED', message: expect.stringMatching(/not an image this browser can decode/) });
  expect(result.zeroHeight).toMatchObject({ code: 'IMAGE_DECODE_FAILED', message: expect.stringMatching(/no pixels \(10 x 0\)/) });
  expect(result.huge).toMatchObject({ code: 'IMAGE_TOO_LARGE', details: { width: 70000, height: 70000, maxPixels: 2 ** 28 } });
  expect(result.huge.message).toMatch(/at most 256 Mi pixels and 65535 px per side/);
  expect(result.afterAll).toEqual({ ok: 4 });
});

test('a CMYK JPEG decodes to the colours PIL gives, within the pixel tolerance', async ({ page }) => {
  await withModel(page);
  const diff = await page.evaluate(async () => {
    // The decode Loupe uses (createImageBitmap, no colour conversion) against PIL's convert('RGB').
    const read = async (url: string) => {
      const bitmap = await createImageBitmap(await (await fetch(url)).blob(), { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
      const context = new OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d')!;
      context.drawImage(bitmap, 0, 0);
      return context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    };
    const mine = await read('/e2e/fixtures/images/cmyk.jpg');
    const reference = await read('/e2e/fixtures/images/cmyk_expected.png');
    let sum = 0;
    let max = 0;
    for (let i = 0; i < mine.length; i++) {
      if (i % 4 === 3) continue;
      const d = Math.abs(mine[i]! - reference[i]!);
      sum += d;
      max = Math.max(max, d);
    }
    return { mean: sum / ((mine.length / 4) * 3), max };
  });
  test.info().annotations.push({ type: 'cmyk', description: JSON.stringify(diff) });
  expect(diff.mean).toBeLessThanOrEqual(0.5);
  expect(diff.max).toBeLessThanOrEqual(3);
});

test('every accepted input type gives the same pixels: Blob, URL, <img>, canvas, ImageData, ImageBitmap, VideoFrame', async ({ page }) => {
  await withModel(page);
  const result = await page.evaluate(async () => {
    const model = (window as unknown as { model: import('../src').LoupeModel }).model;
    const url = '/e2e/fixtures/preprocess/sources/photo.png';
    const blob = await (await fetch(url)).blob();
    const img = new Image();
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    canvas.getContext('2d')!.drawImage(img, 0, 0);
    const imageData = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    const inputs: [string, () => Promise<import('../src').ImageInput>][] = [
      ['blob', async () => blob],
      ['url', async () => url],
      ['URL', async () => new URL(url, location.href)],
      ['img', async () => img],
      ['canvas', async () => canvas],
      ['ImageData', async () => imageData],
      ['ImageBitmap', () => createImageBitmap(blob)],
      ['VideoFrame', async () => new VideoFrame(canvas, { timestamp: 0 })],
    ];
    const digests: Record<string, string> = {};
    for (const [name, make] of inputs) {
      const rendered = await model.render(await make(), { strategy: 'convllava-square', resolution: 128 });
      const bytes = rendered.inputs[0]!.rgb;
      digests[name] = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bytes)))).map((b) => b.toString(16).padStart(2, '0')).join('');
    }
    return digests;
  });
  expect(new Set(Object.values(result)).size).toBe(1);
});
