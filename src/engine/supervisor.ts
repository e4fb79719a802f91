import * as Comlink from 'comlink';
import { LoupeError } from '../errors';
import { DEVICE_LOST_EVENT, type DeviceLostEvent } from '../../workers/protocol';

/** What the supervisor needs of a worker: Comlink's endpoint, its error events, terminate. */
export type SupervisedWorker = Comlink.Endpoint & Pick<Worker, 'terminate'>;

interface Pending {
  what: string;
  reject: (error: LoupeError) => void;
}

/** Starts a fresh worker's part of the model (its `load`); run on every restart. */
export type WorkerStart<T, R> = (remote: Comlink.Remote<T>) => Promise<R>;

/**
 * Owns one worker role for the model's whole life. Every call made through `remote`
 * settles: with the worker's answer, or, when the worker reports an error it did not catch
 * (an exception or an unhandled rejection inside it, forwarded as an `error` event) or
 * cannot take a message, with WORKER_CRASHED naming the worker and the call that was
 * waiting; when its GPU device is lost, with DEVICE_LOST; when the model is disposed, with
 * DISPOSED. A failed worker is terminated and new calls fail at once with its error, until
 * `restart` puts a fresh worker (sessions loaded again) behind the same `remote`; calls
 * made while it starts wait for it. A device loss restarts the worker by itself.
 */
export class WorkerSupervisor<T, R = unknown> {
  readonly remote: Comlink.Remote<T>;
  private worker: SupervisedWorker;
  private wrapped: Comlink.Remote<T>;
  private readonly pending = new Set<Pending>();
  private failure: LoupeError | undefined;
  private starting: Promise<R> | undefined;
  private ended = false;
  /** Set while the worker is being ended on purpose (dispose): the error its failing calls get. */
  private closing: LoupeError | undefined;
  private restarts = 0;
  /** Called with the fresh worker's load result after each restart that succeeded. */
  onRestarted: ((result: R) => void) | undefined;

  constructor(
    readonly name: string,
    private readonly create: () => SupervisedWorker,
    private readonly start: WorkerStart<T, R>,
  ) {
    this.worker = this.create();
    this.wrapped = this.attach(this.worker);
    this.remote = this.proxy<T>((wrapped) => wrapped);
  }

  /**
   * The remote of one object the worker exposes under `key` (a worker hosting several
   * services exposes `{ vision, language }`); its calls are supervised like `remote`'s.
   */
  view<K extends keyof T & string>(key: K): Comlink.Remote<T[K]> {
    return this.proxy<T[K]>((wrapped) => (wrapped as Record<string, unknown>)[key]);
  }

  /** Every method of the remote goes through `call`, so none can outlive the worker. */
  private proxy<V>(target: (wrapped: Comlink.Remote<T>) => unknown): Comlink.Remote<V> {
    return new Proxy({} as Comlink.Remote<V>, {
      get: (_, method) =>
        typeof method === 'string' && method !== 'then'
          ? (...args: unknown[]) => this.call(method, () => (target(this.wrapped) as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(...args))
          : undefined,
    });
  }

  /** The error every call gets now, if the worker is gone and not restarting. */
  get error(): LoupeError | undefined {
    return this.failure;
  }

  /** How many times a fresh worker replaced the first: per-chat state in the worker did not survive. */
  get generation(): number {
    return this.restarts;
  }

  private attach(worker: SupervisedWorker): Comlink.Remote<T> {
    const crashed = (detail: string) => {
      if (worker !== this.worker) return;
      this.fail(new LoupeError('WORKER_CRASHED', `The ${this.name} worker crashed (${detail}). Call model.recover() (or loadModel() again); chats keep their image and history.`));
    };
    worker.addEventListener('error', (event) => crashed((event as ErrorEvent).message || 'an uncaught error'));
    worker.addEventListener('messageerror', () => crashed('a message it could not read'));
    worker.addEventListener('message', (event) => {
      const data = (event as MessageEvent).data as DeviceLostEvent | undefined;
      if (worker !== this.worker || data?.type !== DEVICE_LOST_EVENT) return;
      const lost = new LoupeError(
        'DEVICE_LOST',
        `The GPU device of the ${this.name} worker was lost (${data.reason}: ${data.message || 'no message'}). Its sessions are being created again on a new device (or on wasm, reported in model.info); ask again.`,
        { details: { reason: data.reason } },
      );
      void this.restart(lost).catch(() => undefined);
    });
    return Comlink.wrap<T>(worker);
  }

  private async call<V>(what: string, run: () => Promise<V>): Promise<V> {
    if (this.starting) await this.starting.catch(() => undefined);
    if (this.failure) throw this.failure;
    return this.track(what, run);
  }

  /** Runs `run`, settling it early if the worker fails meanwhile. */
  private track<V>(what: string, run: () => Promise<V>): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const entry: Pending = { what, reject };
      this.pending.add(entry);
      run()
        .then(resolve, (error: unknown) => reject(this.closing ? this.named(this.closing, what) : error))
        .finally(() => this.pending.delete(entry));
    });
  }

  /** Ends the worker: every pending call rejects with `error` (naming what it was), new calls too. */
  fail(error: LoupeError): void {
    if (this.failure) return;
    this.failure = error;
    for (const { what, reject } of this.pending) reject(this.named(error, what));
    this.pending.clear();
    this.worker.terminate();
  }

  private named(error: LoupeError, what: string): LoupeError {
    return new LoupeError(error.code, `${error.message} It was running ${this.name}.${what}().`, { details: { ...error.details, worker: this.name, call: what } });
  }

  /**
   * The worker is about to be ended with `error` (dispose releases its sessions first): a
   * call that fails from now on, on what the release took from under it, rejects with
   * `error`, not with what it tripped over.
   */
  beginEnd(error: LoupeError): void {
    this.closing = error;
  }

  /** Ends the worker for good (dispose): no restart after this. */
  end(error: LoupeError): void {
    this.ended = true;
    this.fail(error);
  }

  /**
   * Ends the current worker (its pending calls reject with `reason`) and starts a fresh one
   * behind the same `remote`; calls made meanwhile wait for it. Resolves with the fresh
   * worker's load result; if that load fails, its error becomes the one calls get.
   */
  restart(reason: LoupeError): Promise<R> {
    if (this.ended) return Promise.reject(this.failure ?? reason);
    if (this.starting) return this.starting;
    this.fail(reason);
    this.worker = this.create();
    this.wrapped = this.attach(this.worker);
    this.failure = undefined;
    this.restarts++;
    const wrapped = this.wrapped;
    const starting = this.track('load', () => this.start(wrapped)).then(
      (result) => {
        this.onRestarted?.(result);
        return result;
      },
      (error: unknown) => {
        const failed = error instanceof LoupeError ? error : new LoupeError('WORKER_CRASHED', `The ${this.name} worker could not start again: ${String(error)}`);
        this.fail(failed);
        throw failed;
      },
    );
    this.starting = starting;
    void starting.catch(() => undefined).finally(() => {
      if (this.starting === starting) this.starting = undefined;
    });
    return starting;
  }
}
