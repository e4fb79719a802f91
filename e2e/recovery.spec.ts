import { expect, test } from '@playwright/test';
import { BUNDLE, IMAGE, golden, openHarness } from './support';

/**
 * The engine survives its workers: a crash settles what was pending and model.recover()
 * brings the role back; a lost GPU device restarts the worker by itself; a call that ignores
 * its cancel is ended by restarting its worker. Each time the same chat then answers, with
 * its image and history, the tokens a healthy chat gives.
 */

test('a crashed language worker: pending ask rejects with WORKER_CRASHED at once; recover() and the chat answers with its image and history', async ({ page }) => {
  await openHarness(page);
  const result = await page.evaluate(
    async ({ bundle, image, question }) => {
      let language: Worker | undefined;
      const workers = {
        vision: window.loupeWorkers.vision,
        language: () => (language = window.loupeWorkers.language()),
      };
      const codeOf = window.loupeTest.codeOf;
      const drain = window.loupeTest.drain;
      const model = await window.loupe.loadModel(bundle, { device: 'wasm', dtype: 'fp32', workers });
      const blob = await (await fetch(image)).blob();
      const chat = model.chat();
      await chat.setImage(blob);
      const first = await drain(chat.ask(question, { maxNewTokens: 8 }));
      const streaming = codeOf(drain(chat.ask(question, { maxNewTokens: 400, minNewTokens: 400 })));
      await new Promise((resolve) => setTimeout(resolve, 200));
      // What the browser does when a worker throws an error nobody catches, then the worker is gone.
      const started = performance.now();
      language!.dispatchEvent(new ErrorEvent('error', { message: 'RuntimeError: memory access out of bounds' }));
      const crashed = await streaming;
      const settleMs = performance.now() - started;
      const meanwhile = await codeOf(drain(chat.ask(question, { maxNewTokens: 2 })));
      await model.recover();
      const second = await drain(chat.ask(question, { maxNewTokens: 8 }));
      // A healthy chat with the same history, for comparison.
      const healthy = model.chat();
      await healthy.setImage(blob);
      await drain(healthy.ask(question, { maxNewTokens: 8 }));
      const expected = await drain(healthy.ask(question, { maxNewTokens: 8 }));
      await model.dispose();
      return { first, crashed, settleMs, meanwhile, second, expected, history: chat.history.length };
    },
    { bundle: BUNDLE, image: IMAGE, question: golden.question },
  );
  expect(result.first).toEqual(golden.greedy_ids.slice(0, 8));
  expect(result.crashed).toBe('WORKER_CRASHED');
  expect(result.settleMs).toBeLessThan(1000);
  expect(result.meanwhile).toBe('WORKER_CRASHED');
  expect(result.second).toEqual(result.expected);
  expect(result.history).toBe(4);
});

test('on wasm one worker hosts both roles (one onnxruntime); its crash settles pending work, and recover() brings both back', async ({ page }) => {
  await openHarness(page);
  const result = await page.evaluate(
    async ({ bundle, image, question }) => {
      let shared: Worker | undefined;
      let created = 0;
      const count = (make: () => Worker) => () => (created++, make());
      const workers = {
        vision: count(window.loupeWorkers.vision),
        language: count(window.loupeWorkers.language),
        both: count(() => (shared = window.loupeWorkers.both!())),
      };
      const codeOf = window.loupeTest.codeOf;
      const drain = window.loupeTest.drain;
      const model = await window.loupe.loadModel(bundle, { device: 'wasm', dtype: 'fp32', workers });
      const info = { workers: model.info.workers, created, runtime: [model.info.loadTimings.vision.runtimeMs, model.info.loadTimings.language.runtimeMs] };
      const blob = await (await fetch(image)).blob();
      const chat = model.chat();
      const other = model.chat();
      await chat.setImage(blob);
      const first = await drain(chat.ask(question, { maxNewTokens: 8 }));
      const streaming = codeOf(drain(chat.ask(question, { maxNewTokens: 400, minNewTokens: 400 })));
      await new Promise((resolve) => setTimeout(resolve, 200));
      shared!.dispatchEvent(new ErrorEvent('error', { message: 'RuntimeError: memory access out of bounds' }));
      const crashed = await streaming;
      // The vision role went down with the worker too.
      const encodeMeanwhile = await codeOf(other.setImage(blob));
      await model.recover();
      const second = await drain(chat.ask(question, { maxNewTokens: 8 }));
      // A healthy chat with the same history, for comparison.
      const fresh = model.chat();
      await fresh.setImage(blob);
      const again = await drain(fresh.ask(question, { maxNewTokens: 8 }));
      const expected = await drain(fresh.ask(question, { maxNewTokens: 8 }));
      const createdAfter = created;
      await model.dispose();
      return { info, first, crashed, encodeMeanwhile, second, again, expected, createdAfter };
    },
    { bundle: BUNDLE, image: IMAGE, question: golden.question },
  );
  // One worker, one runtime start shared by both roles.
  expect(result.info.workers).toBe(1);
  expect(result.info.created).toBe(1);
  expect(result.info.runtime[0]).toBe(result.info.runtime[1]);
  expect(result.first).toEqual(golden.greedy_ids.slice(0, 8));
  expect(result.crashed).toBe('WORKER_CRASHED');
  expect(result.encodeMeanwhile).toBe('WORKER_CRASHED');
  expect(result.again).toEqual(golden.greedy_ids.slice(0, 8));
  expect(result.second).toEqual(result.expected);
  expect(result.createdAfter).toBe(2);
});

test('an answer whose cancel is lost is ended within the abort deadline by restarting the worker; the chat then answers as before', async ({ page }) => {
  await openHarness(page);
  const result = await page.evaluate(
    async ({ bundle, image, question }) => {
      // The language worker never receives cancel(): as if its session.run could not be interrupted.
      const workers = {
        vision: window.loupeWorkers.vision,
        language: () => {
          const worker = window.loupeWorkers.language();
          const post = worker.postMessage.bind(worker) as (message: unknown, transfer?: Transferable[]) => void;
          worker.postMessage = ((message: { path?: string[] }, transfer?: Transferable[]) => {
            if (message?.path?.[0] !== 'cancel') post(message, transfer);
          }) as Worker['postMessage'];
          return worker;
        },
      };
      const drain = window.loupeTest.drain;
      const model = await window.loupe.loadModel(bundle, { device: 'wasm', dtype: 'fp32', workers, abortDeadlineMs: 500 });
      const chat = model.chat();
      await chat.setImage(await (await fetch(image)).blob());
      const stop = new AbortController();
      const streaming = drain(chat.ask(question, { maxNewTokens: 4000, minNewTokens: 4000, signal: stop.signal })).then(
        () => 'finished',
        (error: { code?: string; message: string }) => `${error.code}: ${error.message}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = performance.now();
      stop.abort();
      const aborted = await streaming;
      const stopMs = performance.now() - started;
      const next = await drain(chat.ask(question, { maxNewTokens: 8 }));
      await model.dispose();
      return { aborted, stopMs, next, history: chat.history.length };
    },
    { bundle: BUNDLE, image: IMAGE, question: golden.question },
  );
  expect(result.aborted).toMatch(/^ABORTED: .*did not stop within 500 ms/);
  expect(result.stopMs).toBeLessThan(1500);
  // The aborted turn never finished, so the history holds only the new one (image attached).
  expect(result.next).toEqual(golden.greedy_ids.slice(0, 8));
  expect(result.history).toBe(2);
});

test('a lost GPU device: the pending answer is DEVICE_LOST, the workers restart on a new device, and the chat answers with its history', async ({ page }) => {
  await openHarness(page);
  const result = await page.evaluate(
    async ({ bundle, image, question }) => {
      const codeOf = window.loupeTest.codeOf;
      const drain = window.loupeTest.drain;
      const model = await window.loupe.loadModel(bundle, { device: 'webgpu', dtype: 'fp32' });
      const blob = await (await fetch(image)).blob();
      const chat = model.chat();
      await chat.setImage(blob);
      const first = await drain(chat.ask(question, { maxNewTokens: 4 }));
      const streaming = codeOf(drain(chat.ask(question, { maxNewTokens: 400, minNewTokens: 400 })));
      await new Promise((resolve) => setTimeout(resolve, 500));
      const lost = await model.loseGpuDevice();
      const code = await streaming;
      const second = await drain(chat.ask(question, { maxNewTokens: 4 }));
      const providers = Object.values(model.info.modules).map((m) => m.provider);
      const healthy = model.chat();
      await healthy.setImage(blob);
      await drain(healthy.ask(question, { maxNewTokens: 4 }));
      const expected = await drain(healthy.ask(question, { maxNewTokens: 4 }));
      await model.dispose();
      return { first, lost, code, second, expected, providers };
    },
    { bundle: BUNDLE, image: IMAGE, question: golden.question },
  );
  expect(result.first).toEqual(golden.greedy_ids.slice(0, 4));
  expect(result.lost).toBe(true);
  expect(result.code).toBe('DEVICE_LOST');
  expect(result.second).toEqual(result.expected);
  expect(result.providers).toEqual(['webgpu', 'webgpu', 'webgpu']);
});

const CLOSE_DEADLINE_MS = 1500;

for (const device of ['wasm', 'webgpu'] as const) {
  test(`chat.close() during an answer stops it cleanly (ABORTED), frees the chat, and the model answers in another chat (${device})`, async ({ page }) => {
    await openHarness(page);
    const result = await page.evaluate(
      async ({ bundle, image, question, device, deadline }) => {
        const outcome = window.loupeTest.codeOf;
        const drain = window.loupeTest.drain;
        const model = await window.loupe.loadModel(bundle, { device, dtype: 'fp32', abortDeadlineMs: deadline });
        const blob = await (await fetch(image)).blob();
        const chat = model.chat();
        await chat.setImage(blob);
        const streaming = outcome(drain(chat.ask(question, { maxNewTokens: 400, minNewTokens: 400 })));
        await new Promise((resolve) => setTimeout(resolve, 300));
        const started = performance.now();
        chat.close();
        const closed = await streaming;
        const stopMs = performance.now() - started;
        const afterClose = await outcome((async () => chat.ask(question))());
        const other = model.chat();
        await other.setImage(blob);
        const ids = await drain(other.ask(question, { maxNewTokens: 4 }));
        await model.dispose();
        return { closed, stopMs, afterClose, ids };
      },
      { bundle: BUNDLE, image: IMAGE, question: golden.question, device, deadline: CLOSE_DEADLINE_MS },
    );
    expect(result.closed).toBe('ABORTED');
    // A step already running finishes first (on SwiftShader the first prefill compiles its
    // shaders for seconds); past the abort deadline the worker is restarted instead.
    expect(result.stopMs).toBeLessThan(CLOSE_DEADLINE_MS + 1000);
    expect(result.afterClose).toBe('DISPOSED');
    expect(result.ids).toEqual(golden.greedy_ids.slice(0, 4));
  });
}
