// Shared by the Node verifiers (verify_bundle.mjs, vlm/verify_export.mjs): onnxruntime-web
// set up for reproducible checks, file readers, and a check list that fails the process.
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

/** `check(ok, what)` logs each result; `finish()` exits 1 after printing how many failed. */
export function checkList() {
  const failures = [];
  const check = (ok, what) => {
    if (!ok) failures.push(what);
    console.error(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  };
  return { check, failures };
}
