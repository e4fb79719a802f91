/**
 * A push-driven async iterable: a producer calls push/end/fail, a `for await` consumer
 * pulls. Worker callbacks arrive as events; this turns them into a stream.
 */
export class PushStream<T> implements AsyncIterable<T> {
  private readonly buffer: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | undefined;
  private failWaiting: ((error: unknown) => void) | undefined;
  private done = false;
  private error: unknown;
  private failed = false;

  push(value: T): void {
    if (this.done) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.clearWaiting();
      resolve({ value, done: false });
    } else {
      this.buffer.push(value);
    }
  }

  /** Drops values not yet taken (a stopped answer shows nothing after the stop). */
  discardBuffered(): void {
    this.buffer.length = 0;
  }

  end(): void {
    this.done = true;
    if (this.waiting) {
      const resolve = this.waiting;
      this.clearWaiting();
      resolve({ value: undefined, done: true });
    }
  }

  fail(error: unknown): void {
    this.done = true;
    this.failed = true;
    this.error = error;
    if (this.failWaiting) {
      const reject = this.failWaiting;
      this.clearWaiting();
      reject(error);
    }
  }

  private clearWaiting(): void {
    this.waiting = undefined;
    this.failWaiting = undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const value = this.buffer.shift();
        if (value !== undefined) return Promise.resolve({ value, done: false });
        if (this.failed) return Promise.reject(this.error);
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiting = resolve;
          this.failWaiting = reject;
        });
      },
    };
  }
}
