import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { BUNDLE, IMAGE, golden, openHarness } from './support';

/** Bad input gets a typed error and leaves the engine usable. */

async function loadError(page: import('@playwright/test').Page, bundle: string, options: Record<string, unknown> = {}) {
  return page.evaluate(
    async ({ bundle, options }) => {
      try {
        await window.loupe.loadModel(bundle, { device: 'wasm', dtype: 'fp32', ...options });
        return null;
      } catch (error) {
        const e = error as { name: string; code: string; message: string; details: Record<string, unknown> };
        return { name: e.name, code: e.code, message: e.message, details: e.details, isLoupe: e instanceof window.loupe.LoupeError };
      }
    },
    { bundle, options },
  );
}

test('a missing bundle names the URL that answered 404', async ({ page }) => {
  await openHarness(page);
  const error = await loadError(page, '/models/no-such-bundle/');
  expect(error).toMatchObject({ code: 'BUNDLE_FILE_MISSING', isLoupe: true });
  expect(error!.message).toContain('/models/no-such-bundle/');
  expect(error!.details.url).toMatch(/\/models\/no-such-bundle\/(config|generation_config|preprocessor_config|tokenizer|tokenizer_config)\.json$/);
});

test('a server that answers a missing file with its HTML page is reported as a missing file', async ({ page }) => {
  await page.context().route('**/tiny-random-convllava/onnx/decoder_model_merged.onnx', (route) =>
    route.fulfill({ body: '<!doctype html><title>App</title>', contentType: 'text/html; charset=utf-8' }),
  );
  await openHarness(page);
  const error = await loadError(page, BUNDLE);
  expect(error).toMatchObject({ code: 'BUNDLE_FILE_MISSING', details: { status: 200 } });
  expect(error!.message).toMatch(/decoder_model_merged\.onnx answered with an HTML page/);
});

test('a dtype whose file the bundle lacks names that file', async ({ page }) => {
  await openHarness(page);
  const error = await loadError(page, BUNDLE, { dtype: { decoder_model_merged: 'q8' } });
  expect(error).toMatchObject({ code: 'BUNDLE_FILE_MISSING' });
  expect(error!.details.url).toMatch(/onnx\/decoder_model_merged_quantized\.onnx$/);
});

test('a truncated ONNX file and a non-ONNX file are GRAPH_INVALID errors naming the file', async ({ page }) => {
  const real = readFileSync(new URL('../public/models/tiny-random-convllava/onnx/vision_encoder.onnx', import.meta.url));
  await page.context().route('**/tiny-random-convllava/onnx/vision_encoder.onnx', (route) =>
    route.fulfill({ body: real.subarray(0, real.length >> 1), contentType: 'application/octet-stream' }),
  );
  await page.context().route('**/tiny-random-convllava/onnx/embed_tokens.onnx', (route) =>
    route.fulfill({ body: '<!doctype html><title>Not here</title>', contentType: 'application/octet-stream' }),
  );
  await openHarness(page);
  const truncated = await loadError(page, BUNDLE, { dtype: 'fp32' });
  expect(truncated).toMatchObject({ code: 'GRAPH_INVALID' });
  expect(truncated!.message).toMatch(/vision_encoder\.onnx|embed_tokens\.onnx/);
  const html = await page.evaluate(async (bundle) => {
    try {
      await window.loupe.loadModel(bundle, { device: 'wasm', dtype: { vision_encoder: 'int8', embed_tokens: 'fp32', decoder_model_merged: 'fp32' } });
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }, BUNDLE);
  expect(html).toMatch(/embed_tokens\.onnx \(\d+ bytes\) is not an ONNX model/);
});

test('a graph with the wrong tensor names lists expected vs found', async ({ page }) => {
  const bad = readFileSync(new URL('./fixtures/bad-io/vision_encoder.onnx', import.meta.url));
  await page.context().route('**/tiny-random-convllava/onnx/vision_encoder.onnx', (route) => route.fulfill({ body: bad }));
  await openHarness(page);
  const error = await loadError(page, BUNDLE);
  expect(error).toMatchObject({
    code: 'GRAPH_LAYOUT_MISMATCH',
    details: { missingInputs: ['pixel_values'], missingOutputs: ['image_features'], found: { inputs: ['images'], outputs: ['features'] } },
  });
});

test('one engine survives every misuse: bad image, long prompt, double ask, abort', async ({ page }) => {
  await openHarness(page);
  const result = await page.evaluate(
    async ({ bundle, image, question }) => {
      const codeOf = async (work: () => Promise<unknown>) => {
        try {
          await work();
          return 'ok';
        } catch (error) {
          return (error as { code?: string }).code === 'INTERNAL' ? String((error as Error).message) : (error as { code?: string }).code ?? String(error);
        }
      };
      const drain = window.loupeTest.drain;
      const model = await window.loupe.loadModel(bundle, { device: 'wasm', dtype: 'fp32' });
      const chat = model.chat();
      const out: Record<string, unknown> = {};
      out.notAnImage = await codeOf(() => chat.setImage(new Blob(['%PDF-1.4 not an image'], { type: 'application/pdf' })));
      out.askWithoutImage = await codeOf(() => drain(chat.ask(question, { maxNewTokens: 2 })));
      await chat.setImage(await (await fetch(image)).blob());
      out.tooLong = await codeOf(() => drain(chat.ask('word '.repeat(600), { maxNewTokens: 4 })));

      // A second ask while the first streams is rejected; the first finishes untouched.
      const fresh = model.chat();
      await fresh.setImage(await (await fetch(image)).blob());
      const running = drain(fresh.ask(question, { maxNewTokens: 16 }));
      out.doubleAsk = await codeOf(async () => fresh.ask('again?'));
      out.firstAnswer = await running;

      // Abort after three pieces: generation stops within a token, the chat stays usable.
      const aborted = model.chat();
      await aborted.setImage(await (await fetch(image)).blob());
      const controller = new AbortController();
      const seen: (number | null)[] = [];
      out.abort = await codeOf(async () => {
        for await (const piece of aborted.ask(question, { maxNewTokens: 400, signal: controller.signal })) {
          seen.push(piece.tokenId);
          if (seen.length === 3) controller.abort();
        }
      });
      out.seenBeforeAbort = seen.length;
      out.abortStats = aborted.stats;
      out.afterAbort = await drain(aborted.ask('Anything else?', { maxNewTokens: 3 }));
      const again = model.chat();
      await again.setImage(await (await fetch(image)).blob());
      out.cleanAfterAll = await drain(again.ask(question, { maxNewTokens: 16 }));
      await model.dispose();
      return out;
    },
    { bundle: BUNDLE, image: IMAGE, question: golden.question },
  );
  expect(result.notAnImage).toBe('IMAGE_DECODE_FAILED');
  expect(result.askWithoutImage).toBe('ok');
  expect(result.tooLong).toBe('PROMPT_TOO_LONG');
  expect(result.doubleAsk).toBe('BUSY');
  expect(result.firstAnswer).toEqual(golden.greedy_ids);
  expect(result.abort).toBe('ABORTED');
  expect(result.seenBeforeAbort).toBe(3);
  expect(result.abortStats).toMatchObject({ stopReason: 'aborted' });
  expect((result.abortStats as { tokensGenerated: number }).tokensGenerated).toBeLessThan(100); // of a 400-token budget; the main thread's lag, not the worker, sets this
  expect(result.afterAbort).toHaveLength(3);
  expect(result.cleanAfterAll).toEqual(golden.greedy_ids);
});

test('without a WebGPU adapter, "webgpu" is a typed error and "auto" runs on wasm saying why', async ({ playwright }, testInfo) => {
  const launch = testInfo.project.use.launchOptions!;
  // The same Chromium without --enable-unsafe-webgpu: navigator.gpu exists, requestAdapter() gives null.
  const browser = await playwright.chromium.launch({ ...launch, args: launch.args!.filter((arg) => arg !== '--enable-unsafe-webgpu') });
  const page = await browser.newPage({ baseURL: testInfo.project.use.baseURL! });
  await openHarness(page);
  const error = await loadError(page, BUNDLE, { device: 'webgpu' });
  expect(error).toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
  expect(error!.message).toMatch(/WebGPU was requested but cannot be used: requestAdapter\(\) returned null/);
  const auto = await page.evaluate(async (bundle) => {
    const model = await window.loupe.loadModel(bundle, { device: 'auto' });
    const modules = model.info.modules;
    await model.dispose();
    return modules;
  }, BUNDLE);
  for (const report of Object.values(auto)) {
    expect(report.provider).toBe('wasm');
    expect(report.fallbackReason).toMatch(/requestAdapter\(\) returned null/);
  }
  await browser.close();
});

for (const device of ['wasm', 'webgpu'] as const) {
  test(`hostile options are typed errors and dispose() during an answer settles it with DISPOSED (${device})`, async ({ page }) => {
    await openHarness(page);
    const result = await page.evaluate(
      async ({ bundle, image, question, device }) => {
        const codeOf = async (work: () => unknown) => {
          try {
            await work();
            return 'ok';
          } catch (error) {
            return (error as { code?: string }).code ?? String(error);
          }
        };
        const drain = window.loupeTest.drain;
        const model = await window.loupe.loadModel(bundle, { device, dtype: 'fp32' });
        const chat = model.chat();
        await chat.setImage(await (await fetch(image)).blob());
        const out: Record<string, unknown> = {};
        for (const [name, value] of [['NaN', Number.NaN], ['zero', 0], ['negative', -1], ['string', '4'], ['huge', 1e12]] as const) {
          out[name] = await codeOf(() => chat.ask(question, { maxNewTokens: value as number }));
        }
        out.fakeSignal = await codeOf(() => chat.ask(question, { signal: { aborted: false } as unknown as AbortSignal }));
        out.stillAnswers = (await drain(chat.ask(question, { maxNewTokens: 4 }))).length;
        // dispose() while an answer streams: the ask settles (DISPOSED), within a bound.
        let disposedMessage = '';
        const streaming = codeOf(() =>
          drain(chat.ask(question, { maxNewTokens: 400, minNewTokens: 400 })).catch((error: unknown) => {
            disposedMessage = String((error as Error).message);
            throw error;
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
        const started = performance.now();
        await model.dispose();
        out.disposedAsk = await streaming;
        out.disposedMessage = disposedMessage;
        out.settleMs = performance.now() - started;
        out.afterDispose = await codeOf(() => chat.setImage(new Blob([])));
        return out;
      },
      { bundle: BUNDLE, image: IMAGE, question: golden.question, device },
    );
    for (const name of ['NaN', 'zero', 'negative', 'string', 'huge', 'fakeSignal']) expect(result[name], name).toBe('INVALID_ARGUMENT');
    expect(result.stillAnswers).toBe(4);
    expect(result.disposedAsk, String(result.disposedMessage)).toBe('DISPOSED');
    expect(result.settleMs as number).toBeLessThan(3000);
    expect(result.afterDispose).toBe('DISPOSED');
  });
}

test('an image URL that never answers holds up no other chat of the same model', async ({ page }) => {
  await page.route('**/never-answers/**', () => undefined); // the request stays open
  await openHarness(page);
  const result = await page.evaluate(
    async ({ bundle, image, question }) => {
      const model = await window.loupe.loadModel(bundle, { device: 'wasm', dtype: 'fp32' });
      const stuck = model.chat();
      const stalled = stuck.setImage('/never-answers/photo.jpg').then(
        () => 'resolved',
        (error: { code?: string }) => error.code ?? String(error),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      const other = model.chat();
      const started = performance.now();
      const summary = await other.setImage(await (await fetch(image)).blob());
      const ids: (number | null)[] = [];
      for await (const piece of other.ask(question, { maxNewTokens: 4 })) ids.push(piece.tokenId);
      const otherMs = performance.now() - started;
      await model.dispose();
      return { visualTokens: summary.visualTokens, answered: ids.length, otherMs, stalled: await stalled };
    },
    { bundle: BUNDLE, image: IMAGE, question: golden.question },
  );
  expect(result.visualTokens).toBeGreaterThan(0);
  expect(result.answered).toBe(4);
  expect(result.otherMs).toBeLessThan(15_000);
  expect(result.stalled).toBe('DISPOSED');
});
