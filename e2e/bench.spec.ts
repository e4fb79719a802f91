import { execFile } from 'node:child_process';
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
