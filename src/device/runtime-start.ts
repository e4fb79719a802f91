import { LoupeError } from '../errors';
import { ort } from './ort';

/**
 * A one-node ONNX graph (Identity on float[1], 67 bytes). Creating a session on it starts
 * onnxruntime's wasm runtime: the wasm module is fetched, compiled and instantiated, its
 * thread pool spawned. Made with onnx.helper (opset 13, IR 7).
 */
const STARTER_GRAPH = 'CAcSADo3ChAKAXgSAXkiCElkZW50aXR5EgF3Wg8KAXgSCgoICAESBAoCCAFiDwoBeRIKCggIARIECgIIAUIECgAQDQ==';

let started: Promise<number> | undefined;

function starterBytes(): Uint8Array {
  const text = atob(STARTER_GRAPH);
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/**
 * Starts onnxruntime's runtime in this worker, once; resolves with how long that took (ms).
 * A worker calls it as soon as its load begins, so the runtime starts while the graphs
 * download instead of after; every session creation awaits it. `configureOrt` must run first.
 */
export function startRuntime(): Promise<number> {
  started ??= (async () => {
    const t0 = performance.now();
    try {
      const session = await ort.InferenceSession.create(starterBytes(), { executionProviders: ['wasm'] });
      await session.release();
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new LoupeError(
        'PROVIDER_UNAVAILABLE',
        `onnxruntime's WebAssembly runtime could not start (${detail}). Check that the wasmUrl option points at onnxruntime-web's ort-wasm-simd-threaded.asyncify.wasm, served as application/wasm from this origin.`,
      );
    }
    return performance.now() - t0;
  })();
  return started;
}
