import * as Comlink from 'comlink';
import { LoupeError } from '../errors';

/** What the supervisor needs of a worker: Comlink's endpoint, its error events, terminate. */
export type SupervisedWorker = Comlink.Endpoint & Pick<Worker, 'terminate'>;

interface Pending {
  what: string;
  reject: (error: LoupeError) => void;
}

/**
 * Owns one worker for its whole life. Every call made through `remote` settles: with the
 * worker's answer, or, when the worker reports an error it did not catch (an exception or
 * an unhandled rejection inside it, forwarded as an `error` event) or cannot take a
 * message, with WORKER_CRASHED naming the worker and the call that was waiting; when the
 * model is disposed, with DISPOSED. After that the worker is terminated and every new call
 * fails at once with the same error, so nothing waits forever.
 */
export class WorkerSupervisor<T> {
  readonly remote: Comlink.Remote<T>;
  private readonly wrapped: Comlink.Remote<T>;
  private readonly pending = new Set<Pending>();
  private failure: LoupeError | undefined;

  constructor(
    readonly name: string,
    private readonly worker: SupervisedWorker,
  ) {
    this.wrapped = Comlink.wrap<T>(worker);
    const crashed = (detail: string) =>
      this.fail(new LoupeError('WORKER_CRASHED', `The ${name} worker crashed (${detail}). Load the model again with loadModel(); chats can then set their image again.`));
    worker.addEventListener('error', (event) => crashed((event as ErrorEvent).message || 'an uncaught error'));
    worker.addEventListener('messageerror', () => crashed('a message it could not read'));
    // Every method of the remote goes through `call`, so none can outlive the worker.
    this.remote = new Proxy({} as Comlink.Remote<T>, {
      get: (_, method) =>
        typeof method === 'string' && method !== 'then'
          ? (...args: unknown[]) => this.call(method, () => (this.wrapped as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(...args))
          : undefined,
    });
  }

  /** The error every call gets from now on, if the worker is gone. */
  get error(): LoupeError | undefined {
    return this.failure;
  }

  private call<R>(what: string, run: () => Promise<R>): Promise<R> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<R>((resolve, reject) => {
      const entry: Pending = { what, reject };
      this.pending.add(entry);
      run()
        .then(resolve, reject)
        .finally(() => this.pending.delete(entry));
    });
  }

  /** Ends the worker: every pending call rejects with `error` (naming what it was), new calls too. */
  fail(error: LoupeError): void {
    if (this.failure) return;
    this.failure = error;
    for (const { what, reject } of this.pending) {
      reject(new LoupeError(error.code, `${error.message} It was running ${this.name}.${what}().`, { details: { ...error.details, worker: this.name, call: what } }));
    }
    this.pending.clear();
    this.worker.terminate();
  }
}
