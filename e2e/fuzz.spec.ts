import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { BUNDLE, IMAGE, golden, openHarness } from './support';

/**
 * Seeded fuzzing of the browser parts: truncated and bit-flipped PNG, JPEG, GIF and WebP
 * images; mutated config.json, preprocessor_config.json and tokenizer.json; truncated ONNX
 * files; random option objects. Every case must end in a result or a typed LoupeError
 * within a bound, and the same engine then answers a normal question with the reference
 * tokens. CI runs a bounded number of cases with a fixed seed;
 * `LOUPE_FUZZ_SEED=random LOUPE_FUZZ_CASES=200 npx playwright test -c e2e/playwright.config.ts fuzz`
 * runs more, new ones; the printed seed replays them.
 */
const CASES = Number(process.env.LOUPE_FUZZ_CASES ?? 8);
const SEED = process.env.LOUPE_FUZZ_SEED === 'random' ? Date.now() % 2 ** 31 : Number(process.env.LOUPE_FUZZ_SEED ?? 20261130);
/** A case that takes longer than this is a hang. */
const CASE_BOUND_MS = 30_000;
const MODEL_DIR = new URL(`../public${BUNDLE}`, import.meta.url);

/** mulberry32: a small seeded generator, the same cases for the same seed. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(items: readonly T[]): T => items[int(items.length)]! };
}
type Random = ReturnType<typeof generator>;

function mutateBytes(random: Random, bytes: Uint8Array): { bytes: Uint8Array; how: string } {
  if (random.next() < 0.5) {
    const at = random.int(bytes.length);
    return { bytes: bytes.slice(0, at), how: `cut at ${at}/${bytes.length}` };
  }
  const out = bytes.slice();
  const flips = 1 + random.int(8);
  const where: number[] = [];
  for (let i = 0; i < flips; i++) {
    const at = random.int(out.length);
    out[at]! ^= 1 << random.int(8);
    where.push(at);
  }
  return { bytes: out, how: `bits flipped at ${where.join(',')}` };
}

const ODD_VALUES: unknown[] = [null, -1, 0, 1e12, Number.NaN, 'x', '', true, [], {}, [1, 2], { a: 1 }, 1.5, -1e-9];

/** Deletes a key, replaces a value with an odd one, or cuts the text, somewhere in the JSON. */
function mutateJson(random: Random, text: string): { text: string; how: string } {
  if (random.next() < 0.2) {
    const at = random.int(text.length);
    return { text: text.slice(0, at), how: `cut at ${at}` };
  }
  const root = JSON.parse(text) as unknown;
  const paths: (string | number)[][] = [];
  const walk = (value: unknown, path: (string | number)[], depth: number) => {
    if (depth > 3 || value === null || typeof value !== 'object') return;
    const entries = Array.isArray(value) ? value.slice(0, 8).map((v, i) => [i, v] as const) : Object.entries(value).slice(0, 64);
    for (const [key, child] of entries) {
      paths.push([...path, key]);
      walk(child, [...path, key], depth + 1);
    }
  };
  walk(root, [], 0);
  const path = random.pick(paths);
  const parent = path.slice(0, -1).reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], root) as Record<string | number, unknown>;
  const key = path[path.length - 1]!;
  if (random.next() < 0.4 && !Array.isArray(parent)) {
    delete parent[key];
    return { text: JSON.stringify(root), how: `deleted ${path.join('.')}` };
  }
  const value = random.pick(ODD_VALUES);
  parent[key] = value;
  return { text: JSON.stringify(root), how: `${path.join('.')} = ${JSON.stringify(value)}` };
}

function randomOptions(random: Random): Record<string, unknown> {
  const keys = ['maxNewTokens', 'minNewTokens', 'sampling', 'history', 'signal', 'strategy', 'resolution', 'maxCrops', 'numTokens', 'tokenBudget', 'unknownKnob'];
  const options: Record<string, unknown> = {};
  for (let i = 0, n = 1 + random.int(3); i < n; i++) options[random.pick(keys)] = random.pick([...ODD_VALUES, 4, 64, 'convllava-square', 'multicrop', 'trim', { temperature: -1 }]);
  return options;
}

interface Outcome {
  what: string;
  result: string;
  isTyped: boolean;
  ms: number;
  healthyIds: (number | null)[];
}

/** Runs one case in the page against the engine on window.fuzzRun; returns how it ended. */
async function runCase(page: Page, kind: string, what: string, payload: Record<string, unknown>): Promise<Outcome> {
  return page.evaluate(
    async ({ kind, what, payload, bound }) => {
      const started = performance.now();
      const outcome = await Promise.race([
        window.fuzzRun.attempt(kind, payload).then(
          (result) => ({ result, isTyped: true }),
          (error: unknown) => ({ result: (error as { code?: string }).code ?? `untyped: ${String(error)}`, isTyped: error instanceof window.loupe.LoupeError }),
        ),
        new Promise<{ result: string; isTyped: boolean }>((resolve) => setTimeout(() => resolve({ result: 'HANG', isTyped: false }), bound)),
      ]);
      const ms = performance.now() - started;
      return { what, ...outcome, ms, healthyIds: await window.fuzzRun.healthy() };
    },
    { kind, what, payload, bound: CASE_BOUND_MS },
  );
}

declare global {
  interface Window {
    fuzzRun: { attempt(kind: string, payload: Record<string, unknown>): Promise<string>; healthy(): Promise<(number | null)[]> };
  }
}

test(`browser fuzzing: seed ${SEED}, ${CASES} cases of each kind end in a result or a typed error, and the engine answers after each`, async ({ page }) => {
  test.setTimeout(120_000 + CASES * 5 * 20_000);
  console.log(`[fuzz] browser: seed ${SEED}, ${CASES} cases per kind (LOUPE_FUZZ_SEED=${SEED} replays them)`);
  const random = generator(SEED);
  // Mutated bundles are served under their own paths; the healthy one stays untouched.
  const mutated = new Map<string, Uint8Array | string>();
  await page.route('**/fuzz-bundle/**', async (route) => {
    const url = new URL(route.request().url());
    const [, id, ...rest] = url.pathname.split('/').filter(Boolean);
    const file = rest.join('/');
    const override = mutated.get(`${id}/${file}`);
    if (override !== undefined) return route.fulfill({ body: typeof override === 'string' ? override : Buffer.from(override) });
    try {
      return await route.fulfill({ body: readFileSync(new URL(file, MODEL_DIR)) });
    } catch {
      return route.fulfill({ status: 404, body: 'not found' });
    }
  });
  await openHarness(page);
  await page.evaluate(
    async ({ bundle, image, question }) => {
      const model = await window.loupe.loadModel(bundle, { device: 'wasm', dtype: 'fp32' });
      const healthyImage = await (await fetch(image)).blob();
      const drain = window.loupeTest.drain;
      // WebP from the browser's own encoder (fixtures carry PNG, JPEG and GIF).
      const canvas = new OffscreenCanvas(64, 48);
      const g = canvas.getContext('2d')!;
      g.fillStyle = '#c33';
      g.fillRect(0, 0, 64, 48);
      g.fillStyle = '#3c3';
      g.fillRect(16, 12, 24, 20);
      const webp = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/webp' })).arrayBuffer());
      (window as unknown as { fuzzWebp: number[] }).fuzzWebp = [...webp];
      window.fuzzRun = {
        async attempt(kind, payload) {
          if (kind === 'image') {
            const chat = model.chat();
            await chat.setImage(new Blob([new Uint8Array(payload.bytes as number[])]));
            await drain(chat.ask(question, { maxNewTokens: 2 }));
            return 'ok';
          }
          if (kind === 'options') {
            const chat = model.chat();
            await chat.setImage(healthyImage, payload.setImage as never);
            await drain(chat.ask(question, payload.ask as never));
            return 'ok';
          }
          // kind === 'bundle': load a mutated copy, ask once, dispose.
          const other = await window.loupe.loadModel(payload.url as string, { device: 'wasm', dtype: 'fp32', cache: false });
          try {
            const chat = other.chat();
            await chat.setImage(healthyImage);
            await drain(chat.ask(question, { maxNewTokens: 2 }));
          } finally {
            await other.dispose();
          }
          return 'ok';
        },
        async healthy() {
          const chat = model.chat();
          await chat.setImage(healthyImage);
          const ids = await drain(chat.ask(question, { maxNewTokens: 4 }));
          chat.close();
          return ids;
        },
      };
    },
    { bundle: BUNDLE, image: IMAGE, question: golden.question },
  );

  const GIF = Uint8Array.from(Buffer.from('R0lGODlhAgACAPAAAP8AAAAA/yH5BAAAAAAALAAAAAACAAIAAAIChFEAOw==', 'base64'));
  const webp = Uint8Array.from(await page.evaluate(() => (window as unknown as { fuzzWebp: number[] }).fuzzWebp));
  const images: Record<string, Uint8Array> = {
    png: readFileSync(new URL(`.${IMAGE.replace('/e2e', '')}`, import.meta.url)),
    jpeg: readFileSync(new URL('../public/samples/scene-small-detail-1.jpg', import.meta.url)),
    gif: GIF,
    webp,
  };
  const outcomes: Outcome[] = [];
  for (let i = 0; i < CASES; i++) {
    const format = random.pick(Object.keys(images));
    const { bytes, how } = mutateBytes(random, images[format]!);
    outcomes.push(await runCase(page, 'image', `${format} ${how}`, { bytes: [...bytes] }));
  }
  for (let i = 0; i < CASES; i++) {
    const setImage = random.next() < 0.5 ? randomOptions(random) : {};
    const ask = randomOptions(random);
    outcomes.push(await runCase(page, 'options', `setImage ${JSON.stringify(setImage)} ask ${JSON.stringify(ask)}`, { setImage, ask }));
  }
  for (let i = 0; i < CASES; i++) {
    const file = random.pick(['config.json', 'preprocessor_config.json', 'tokenizer.json', 'onnx/vision_encoder.onnx', 'onnx/decoder_model_merged.onnx', 'onnx/embed_tokens.onnx']);
    const id = `case-${i}`;
    let how: string;
    if (file.endsWith('.onnx')) {
      const original = readFileSync(new URL(file, MODEL_DIR));
      const { bytes, how: cut } = mutateBytes(random, original);
      mutated.set(`${id}/${file}`, bytes);
      how = cut;
    } else {
      const { text, how: change } = mutateJson(random, readFileSync(new URL(file, MODEL_DIR), 'utf8'));
      mutated.set(`${id}/${file}`, text);
      how = change;
    }
    outcomes.push(await runCase(page, 'bundle', `${file}: ${how}`, { url: `/fuzz-bundle/${id}/` }));
  }
  for (const o of outcomes) console.log(`[fuzz] ${o.result.padEnd(22)} ${o.ms.toFixed(0).padStart(6)} ms  ${o.what.slice(0, 140)}`);
  for (const o of outcomes) {
    expect(o.isTyped, `${o.what} ended in ${o.result}`).toBe(true);
    expect(o.healthyIds, `after ${o.what}`).toEqual(golden.greedy_ids.slice(0, 4));
  }
});
