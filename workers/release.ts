import * as Comlink from 'comlink';

/** Frees the MessagePort behind a callback the main thread passed with Comlink.proxy. */
export function releaseCallback(callback: unknown): void {
  if (typeof callback === 'function' && Comlink.releaseProxy in callback) {
    (callback as unknown as Comlink.Remote<() => void>)[Comlink.releaseProxy]();
  }
}
