import { LoupeError } from '../src/errors';

/**
 * Cancellation by request id: an AbortSignal cannot cross postMessage, so the main thread
 * calls `cancel(id)` and long loops poll `isCancelled(id)` between steps.
 */
export class CancelRegistry {
  private readonly cancelled = new Set<number>();
  private readonly controllers = new Map<number, AbortController>();

  begin(requestId: number): AbortSignal {
    const controller = new AbortController();
    this.controllers.set(requestId, controller);
    if (this.cancelled.has(requestId)) controller.abort();
    return controller.signal;
  }

  cancel(requestId: number): void {
    this.cancelled.add(requestId);
    this.controllers.get(requestId)?.abort();
  }

  isCancelled(requestId: number): boolean {
    return this.cancelled.has(requestId);
  }

  end(requestId: number): void {
    this.cancelled.delete(requestId);
    this.controllers.delete(requestId);
  }
}

/** A FIFO of tasks in which a failed task never poisons the ones after it. */
export class TaskQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.catch(() => undefined).then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export function requireLoaded<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new LoupeError('DISPOSED', `The ${what} is not loaded (or was disposed). Call loadModel() again.`);
  return value;
}
