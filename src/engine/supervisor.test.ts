import * as Comlink from 'comlink';
import { describe, expect, it } from 'vitest';
import { LoupeError } from '../errors';
import { installErrorTransfer } from './comlink-errors';
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
  Comlink.expose(
    {
      echo: (x: number) => x,
      hang: () => new Promise(() => undefined),
    },
    port1,
  );
  const crash = (message: string) => {
    const event = new Event('error') as Event & { message: string };
    event.message = message;
    events.dispatchEvent(event);
  };
  return { worker, crash, isTerminated: () => terminated };
}

type Api = { echo(x: number): number; hang(): Promise<void> };

describe('worker supervisor', () => {
  installErrorTransfer();

  it('passes answers through', async () => {
    const { worker } = fakeWorker();
    const supervisor = new WorkerSupervisor<Api>('language', worker);
    await expect(supervisor.remote.echo(7)).resolves.toBe(7);
  });

  it('a crash rejects every pending call with WORKER_CRASHED naming the worker and the call, at once, and every later call', async () => {
    const { worker, crash, isTerminated } = fakeWorker();
    const supervisor = new WorkerSupervisor<Api>('language', worker);
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
    const { worker, isTerminated } = fakeWorker();
    const supervisor = new WorkerSupervisor<Api>('vision', worker);
    const pending = supervisor.remote.hang();
    supervisor.fail(new LoupeError('DISPOSED', 'The model was disposed.'));
    await expect(pending).rejects.toMatchObject({ code: 'DISPOSED', details: { worker: 'vision', call: 'hang' } });
    expect(isTerminated()).toBe(true);
  });
});
