import * as Comlink from 'comlink';
import { describe, expect, it } from 'vitest';
import { LoupeError } from '../errors';
import { installErrorTransfer } from './comlink-errors';
import { DEVICE_LOST_EVENT } from '../../workers/protocol';
import { WorkerSupervisor, type SupervisedWorker } from './supervisor';

/** A worker stand-in: a MessageChannel port for Comlink, error events on demand, terminate. */
function fakeWorker() {
  const { port1, port2 } = new MessageChannel();
  const events = new EventTarget();
  let terminated = false;
  const worker = {
    postMessage: (message: unknown, transfer?: Transferable[]) => port2.postMessage(message, transfer ?? []),
    addEventListener: (type: string, listener: EventListenerOrEventListenerObject) =>
      type === 'message' ? port2.addEventListener('message', listener) : events.addEventListener(type, listener),
    removeEventListener: (type: string, listener: EventListenerOrEventListenerObject) =>
      type === 'message' ? port2.removeEventListener('message', listener) : events.removeEventListener(type, listener),
    terminate: () => {
      terminated = true;
      port1.close();
      port2.close();
    },
  } as unknown as SupervisedWorker;
  port2.start();
  const api = {
    echo: (x: number) => x,
    hang: () => new Promise(() => undefined),
    /** Fails a moment later, as a decode step does on a session released under it. */
    failSoon: () => new Promise((_, reject) => setTimeout(() => reject(new Error('Session already released.')), 20)),
  };
  // The same object again under `inner`, as a worker hosting two services exposes each.
  Comlink.expose({ ...api, inner: api }, port1);
  const post = (data: unknown) => port1.postMessage(data);
  const crash = (message: string) => {
    const event = new Event('error') as Event & { message: string };
    event.message = message;
    events.dispatchEvent(event);
  };
  return { worker, crash, post, isTerminated: () => terminated };
}

type Api = { echo(x: number): number; hang(): Promise<void>; failSoon(): Promise<void>; inner: { echo(x: number): number; hang(): Promise<void> } };

/** A supervisor over fake workers; `workers` lists every one it created, first to last. */
function supervised(name = 'language', start: (remote: Comlink.Remote<Api>) => Promise<number> = (remote) => remote.echo(1)) {
  const workers: ReturnType<typeof fakeWorker>[] = [];
  const supervisor = new WorkerSupervisor<Api, number>(name, () => {
    const fake = fakeWorker();
    workers.push(fake);
    return fake.worker;
  }, start);
  return { supervisor, workers };
}

describe('worker supervisor', () => {
  installErrorTransfer();

  it('passes answers through', async () => {
    const { supervisor } = supervised();
    await expect(supervisor.remote.echo(7)).resolves.toBe(7);
  });

  it('a view reaches an object the worker exposes under a key, and a crash settles its calls like the remote\'s', async () => {
    const { supervisor, workers } = supervised();
    const inner = supervisor.view('inner');
    await expect(inner.echo(9)).resolves.toBe(9);
    const pending = inner.hang();
    workers[0]!.crash('RuntimeError: unreachable');
    await expect(pending).rejects.toMatchObject({ code: 'WORKER_CRASHED', details: { worker: 'language', call: 'hang' } });
    await supervisor.restart(supervisor.error!);
    await expect(inner.echo(3)).resolves.toBe(3);
  });

  it('a crash rejects every pending call with WORKER_CRASHED naming the worker and the call, at once, and every later call', async () => {
    const { supervisor, workers } = supervised();
    const { crash, isTerminated } = workers[0]!;
    const pending = supervisor.remote.hang();
    const started = performance.now();
    crash('RuntimeError: memory access out of bounds');
    const error = await pending.catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(LoupeError);
    expect(error).toMatchObject({ code: 'WORKER_CRASHED', message: expect.stringMatching(/language worker crashed \(RuntimeError.*running language\.hang\(\)/) });
    expect(isTerminated()).toBe(true);
    await expect(supervisor.remote.echo(1)).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
  });

  it('fail(DISPOSED) settles what is pending with DISPOSED and ends the worker', async () => {
    const { supervisor, workers } = supervised('vision');
    const pending = supervisor.remote.hang();
    supervisor.end(new LoupeError('DISPOSED', 'The model was disposed.'));
    await expect(pending).rejects.toMatchObject({ code: 'DISPOSED', details: { worker: 'vision', call: 'hang' } });
    expect(workers[0]!.isTerminated()).toBe(true);
    // Ended for good: no restart brings it back.
    await expect(supervisor.restart(new LoupeError('ABORTED', 'x'))).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(workers).toHaveLength(1);
  });

  it('a call that fails while the worker is being ended (dispose releasing its sessions) rejects with the ending error, not what it tripped over', async () => {
    const { supervisor } = supervised('language');
    await expect(supervisor.remote.failSoon()).rejects.toMatchObject({ code: 'INTERNAL' });
    const pending = supervisor.remote.failSoon();
    supervisor.beginEnd(new LoupeError('DISPOSED', 'The model was disposed.'));
    await expect(pending).rejects.toMatchObject({ code: 'DISPOSED', details: { worker: 'language', call: 'failSoon' } });
  });

  it('restart rejects what was pending with the reason, and calls made meanwhile wait for the fresh worker', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { supervisor, workers } = supervised('language', async (remote) => {
      await gate;
      return remote.echo(2);
    });
    const pending = supervisor.remote.hang();
    const restarted = supervisor.restart(new LoupeError('ABORTED', 'The answer was cancelled and did not stop.'));
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED', details: { worker: 'language', call: 'hang' } });
    expect(workers[0]!.isTerminated()).toBe(true);
    const during = supervisor.remote.echo(5); // waits for the start
    release();
    await expect(restarted).resolves.toBe(2);
    await expect(during).resolves.toBe(5);
    expect(supervisor.generation).toBe(1);
    expect(supervisor.error).toBeUndefined();
    expect(workers).toHaveLength(2);
  });

  it('after a crash, restart (model.recover) brings the role back', async () => {
    const { supervisor, workers } = supervised();
    workers[0]!.crash('boom');
    await expect(supervisor.remote.echo(1)).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
    await supervisor.restart(supervisor.error!);
    await expect(supervisor.remote.echo(3)).resolves.toBe(3);
  });

  it('a fresh worker that fails to load leaves its error for every call, and a crash during that load settles it', async () => {
    const { supervisor, workers } = supervised('vision', (remote) => remote.hang().then(() => 0));
    const restarted = supervisor.restart(new LoupeError('ABORTED', 'overdue'));
    await Promise.resolve();
    workers[1]!.crash('out of memory');
    await expect(restarted).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
    await expect(supervisor.remote.echo(1)).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
  });

  it("a worker's device-lost message rejects what was pending with DEVICE_LOST and restarts it", async () => {
    const { supervisor, workers } = supervised();
    let restartedWith: number | undefined;
    supervisor.onRestarted = (result) => (restartedWith = result);
    const pending = supervisor.remote.hang();
    workers[0]!.post({ type: DEVICE_LOST_EVENT, reason: 'unknown', message: 'GPU process exited' });
    await expect(pending).rejects.toMatchObject({ code: 'DEVICE_LOST', message: expect.stringMatching(/GPU process exited/) });
    await expect(supervisor.remote.echo(4)).resolves.toBe(4);
    expect(restartedWith).toBe(1);
    expect(supervisor.generation).toBe(1);
  });
});
