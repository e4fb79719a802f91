#!/usr/bin/env node
// `npm run bench:profile`: the vision graph's time per operator type, onnxruntime-web's wasm
// kernels (run in Node: the same .wasm the browser runs) against onnxruntime-node's native
// kernels, same thread count, same optimisation level, int8 weights folded in both. Prints
// a table and writes bench/results/profile-ops.json. Options: --bundle DIR (default
// public/models/loupe-synth), --size N (square input, default 1536), --threads N (default 1),
// --runs N (default 3; the last run is profiled).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { option } from './harness.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const bundle = option('bundle', join(ROOT, 'public/models/loupe-synth'));
const size = Number(option('size', '1536'));
const threads = Number(option('threads', '1'));
const runs = Number(option('runs', '3'));
const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
const declared = config['transformers.js_config']?.dtype;
const dtype = (typeof declared === 'string' ? declared : declared?.vision_encoder) ?? 'fp32';
const file = join(bundle, 'onnx', `vision_encoder${dtype === 'fp32' ? '' : `_${dtype}`}.onnx`);

/** Runs the graph `runs` times with profiling on; the runtime writes the profile (a file, or stdout for wasm). */
async function run(runtime, prefix) {
  const web = runtime === 'wasm';
  const ort = web ? await import('onnxruntime-web') : await import('onnxruntime-node');
  if (web) ort.env.wasm.numThreads = threads;
  const options = {
    executionProviders: [web ? 'wasm' : 'cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads,
    enableProfiling: true, profileFilePrefix: prefix, extra: { session: { disable_quant_qdq: '1' } },
  };
  const session = await ort.InferenceSession.create(readFileSync(file), options);
  const input = new ort.Tensor('float32', new Float32Array(3 * size * size), [1, 3, size, size]);
  for (let i = 0; i < runs; i++) await session.run({ [session.inputNames[0]]: input });
  session.endProfiling();
  await session.release();
}

/** The kernel events of the last profiled run, and its time. */
function lastRun(events) {
  const last = events.filter((e) => e.name === 'model_run').pop();
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= last.ts && e.ts <= last.ts + last.dur);
  return { runMs: last.dur / 1000, kernels };
}

/**
 * onnxruntime-web writes its profile to stdout (one JSON event per line, from inside the
 * wasm module), so it runs in a child process whose output is parsed; native writes a file.
 */
async function profile(runtime) {
  if (runtime === 'wasm') {
    const stdout = execFileSync(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2), '--child', 'wasm'], { encoding: 'utf8', maxBuffer: 2 ** 28 });
    return lastRun(stdout.split('\n').filter((l) => l.startsWith('{"cat"')).map((l) => JSON.parse(l.replace(/,$/, ''))));
  }
  const dir = mkdtempSync(join(tmpdir(), 'loupe-profile-'));
  await run('native', join(dir, 'native'));
  return lastRun(JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8')));
}

if (option('child', undefined) === 'wasm') {
  await run('wasm', '');
  process.exit(0);
}

const byOp = (kernels) => kernels.reduce((m, e) => m.set(e.args.op_name, (m.get(e.args.op_name) ?? 0) + e.dur / 1000), new Map());
const wasm = await profile('wasm');
const native = await profile('native');
const w = byOp(wasm.kernels);
const n = byOp(native.kernels);
const ops = [...new Set([...w.keys(), ...n.keys()])].sort((a, b) => (w.get(b) ?? 0) - (w.get(a) ?? 0));
const rows = ops.map((op) => ({ op, wasm_ms: +(w.get(op) ?? 0).toFixed(1), native_ms: +(n.get(op) ?? 0).toFixed(1) }));
console.log(`${file} at ${size}x${size}, ${threads} thread(s), dtype ${dtype}: wasm ${wasm.runMs.toFixed(0)} ms, native ${native.runMs.toFixed(0)} ms (${(wasm.runMs / native.runMs).toFixed(2)}x)`);
console.log('operator                     wasm ms   native ms   wasm/native   share of wasm');
for (const r of rows.filter((r) => r.wasm_ms >= 0.5 || r.native_ms >= 0.5)) {
  const ratio = r.native_ms > 0 ? (r.wasm_ms / r.native_ms).toFixed(1) : '-';
  console.log(`${r.op.padEnd(28)} ${r.wasm_ms.toFixed(1).padStart(8)} ${r.native_ms.toFixed(1).padStart(11)} ${ratio.padStart(13)} ${((100 * r.wasm_ms) / wasm.runMs).toFixed(0).padStart(13)} %`);
}
const out = new URL('./results/', import.meta.url);
mkdirSync(out, { recursive: true });
writeFileSync(new URL('profile-ops.json', out), `${JSON.stringify({ file: file.replace(ROOT, ''), size, threads, dtype, wasm_ms: wasm.runMs, native_ms: native.runMs, operators: rows }, null, 1)}\n`);
console.log('\nwrote bench/results/profile-ops.json');
