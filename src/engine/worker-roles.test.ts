import * as Comlink from 'comlink';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WorkerLoadResult } from '../../workers/protocol';
import { installErrorTransfer } from './comlink-errors';
import type { WorkerFactories } from './types';
import { sharesWorker, startRoles } from './worker-roles';

/** A worker stand-in exposing `api` over a MessageChannel; counts how many were made. */
function factory(api: unknown, made: string[], name: string): () => Worker {
  return () => {
    made.push(name);
    const { port1, port2 } = new MessageChannel();
    Comlink.expose(api, port1);
    port2.start();
    return Object.assign(port2, { terminate: () => port2.close() }) as unknown as Worker;
  };
}

const result = (module: string): WorkerLoadResult =>
  ({ modules: [{ module }], gpu: { available: false, shaderF16: false }, threads: { threads: 1, crossOriginIsolated: false }, timings: { startedAt: 0, runtimeMs: 1 } }) as unknown as WorkerLoadResult;
const vision = { load: () => result('vision_encoder'), gpuBytes: () => ({ live: 1, peak: 1 }) };
const language = { load: () => result('decoder_model_merged'), gpuBytes: () => ({ live: 2, peak: 2 }) };

describe('worker roles', () => {
  installErrorTransfer();
  afterEach(() => vi.unstubAllGlobals());

  it('one worker hosts both roles on wasm, or where the browser has no WebGPU; WebGPU keeps one per role', () => {
    const two = { vision: () => ({}) as Worker, language: () => ({}) as Worker };
    const three: WorkerFactories = { ...two, both: () => ({}) as Worker };
    vi.stubGlobal('navigator', { gpu: {} });
    expect(sharesWorker(three, 'wasm')).toBe(true);
    expect(sharesWorker(three, 'auto')).toBe(false);
    expect(sharesWorker(three, 'webgpu')).toBe(false);
    // Custom factories without `both`: a worker per role.
    expect(sharesWorker(two, 'wasm')).toBe(false);
    vi.stubGlobal('navigator', {});
    expect(sharesWorker(three, 'auto')).toBe(true);
  });

  it('a shared worker: one worker made, each role reaches its own service, one supervisor for both', async () => {
    const made: string[] = [];
    const factories = { vision: factory(vision, made, 'vision'), language: factory(language, made, 'language'), both: factory({ vision, language }, made, 'both') };
    const roles = startRoles(factories, true, { vision: (r) => r.load({} as never, Comlink.proxy(() => undefined) as never), language: (r) => r.load({} as never, Comlink.proxy(() => undefined) as never) });
    expect(made).toEqual(['both']);
    expect(roles.vision.supervisor).toBe(roles.language.supervisor);
    await expect(roles.vision.remote.gpuBytes()).resolves.toEqual({ live: 1, peak: 1 });
    await expect(roles.language.remote.gpuBytes()).resolves.toEqual({ live: 2, peak: 2 });
    // A restart loads both roles in the fresh worker and reports every module.
    const restarted = await roles.vision.supervisor.restart(new (await import('../errors')).LoupeError('ABORTED', 'overdue'));
    expect(made).toEqual(['both', 'both']);
    expect(restarted.modules.map((m) => m.module)).toEqual(['vision_encoder', 'decoder_model_merged']);
  });

  it('separate workers: two made, two supervisors', () => {
    const made: string[] = [];
    const factories = { vision: factory(vision, made, 'vision'), language: factory(language, made, 'language'), both: factory({ vision, language }, made, 'both') };
    const roles = startRoles(factories, false, { vision: (r) => r.load({} as never, Comlink.proxy(() => undefined) as never), language: (r) => r.load({} as never, Comlink.proxy(() => undefined) as never) });
    expect(made).toEqual(['vision', 'language']);
    expect(roles.vision.supervisor).not.toBe(roles.language.supervisor);
  });
});
