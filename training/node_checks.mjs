// Shared by the Node verifiers (verify_bundle.mjs, vlm/verify_export.mjs): onnxruntime-web
// set up for reproducible checks, file readers, comparisons, and a check list that fails the process.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export function configureOrt(ort) {
  ort.env.wasm.numThreads = 1; // no worker threads in Node; also keeps sums in one order
  ort.env.logLevel = 'error';
}

export const jsonReader = (dir) => (file) => JSON.parse(readFileSync(path.join(dir, file), 'utf8'));

export const f32Reader = (dir) => (file) => {
  const bytes = readFileSync(path.join(dir, file));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

export const maxAbsDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

export function cosine(a, b) {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
}

export const argmax = (a) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);

/** `check(ok, what)` logs each result; `finish()` exits 1 after printing how many failed. */
export function checkList() {
  const failures = [];
  const check = (ok, what) => {
    if (!ok) failures.push(what);
    console.error(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  };
  return { check, failures };
}
