import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
// @ts-expect-error: plain JavaScript run by node (bench/run.mjs), no type declarations
import { checkRecords } from '../bench/records.mjs';

/**
 * `npm run bench -- --json` for real, on the tiny bundle with one run: every stage of Loupe,
 * transformers.js and onnxruntime-node comes out as a JSON line carrying runtime, provider,
 * threads, bundle and dtype, and nothing else is printed. (Its figures mean nothing here.)
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

test('the benchmark emits every stage of every runtime as JSON lines', async () => {
  test.setTimeout(600_000);
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile('node', ['bench/run.mjs', '--bundle', '/models/tiny-random-convllava/', '--runs', '1', '--json'], { cwd: ROOT, maxBuffer: 2 ** 24, timeout: 540_000 }, (error, out, err) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout: out, stderr: err }),
    );
    void child;
  });
  expect(stderr).not.toMatch(/records missing or malformed/);
  expect(code).toBe(0);
  const lines = stdout.trim().split('\n');
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const [head, ...records] = parsed;
  expect(head).toHaveProperty('machine.served', 'production build');
  expect(checkRecords(records)).toEqual([]);
  const loupeLoad = records.find((r) => r.runtime === 'loupe' && r.stage === 'load');
  expect(loupeLoad).toMatchObject({ workers: 1, breakdown: { runtime_start: expect.any(Number), decoder_model_merged_session: expect.any(Number) } });
});

/**
 * `npm run eval --out FILE` keeps each item in FILE.partial.jsonl as it is scored, so a stopped
 * evaluation started again asks only what is left: here a run "stopped" after one item, with a
 * second line cut short by the stop, resumes, keeps the first item as it was and asks the rest.
 */
test('a stopped evaluation resumes from the items it kept', async () => {
  test.setTimeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), 'loupe-eval-'));
  const out = join(dir, 'eval.jsonl');
  const run = { bundle: '/models/tiny-random-convllava/', split: 'val', device: 'wasm', resolutions: ['128'], tokenBudget: 576, zooms: ['off'], dtype: null };
  const kept = { index: 0, type: 'attribute', strategy: 'convllava-square', resolution: '128', question: 'kept', answer: 'red', prediction: 'KEPT', correct: false, ms: 1, confidence: 0, preprocessMs: 1, encodeMs: 1, visualTokens: 4 };
  writeFileSync(`${out}.partial.jsonl`, `${JSON.stringify({ run })}\n${JSON.stringify(kept)}\n{"index":1,"ty`);
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile('node', ['bench/eval.mjs', '--bundle', run.bundle, '--split', 'val', '--limit', '2', '--resolution', '128', '--out', out], { cwd: ROOT, timeout: 240_000 }, (error, _out, err) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stderr: err }),
    );
  });
  expect(code, stderr).toBe(0);
  expect(stderr).toContain('resuming: 1 items already scored');
  const items = readFileSync(`${out}.items.jsonl`, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { index: number; prediction: string });
  expect(items.map((i) => i.index)).toEqual([0, 1]);
  expect(items[0]!.prediction).toBe('KEPT');
  expect(items[1]!.prediction).not.toBe('KEPT');
  expect(existsSync(`${out}.partial.jsonl`)).toBe(false);
  rmSync(dir, { recursive: true, force: true });
});
