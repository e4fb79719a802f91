import * as Comlink from 'comlink';
import { describe, expect, it } from 'vitest';
import { LoupeError } from '../errors';
import { CancelRegistry, TaskQueue } from '../../workers/cancellation';
import { installErrorTransfer } from './comlink-errors';
import { PushStream } from './push-stream';

describe('errors across a worker boundary', () => {
  it('arrive as LoupeError with code, message and details intact', async () => {
    installErrorTransfer();
    const { port1, port2 } = new MessageChannel();
    Comlink.expose(
      {
        fail() {
          throw new LoupeError('GRAPH_LAYOUT_MISMATCH', 'expected pixel_values', { details: { found: ['images'] } });
        },
        crash() {
          throw new TypeError('boom');
        },
        withCause() {
          throw new LoupeError('GRAPH_INVALID', 'could not load vision_encoder.onnx', { cause: new RangeError('protobuf parsing failed') });
        },
      },
      port1,
    );
    const remote = Comlink.wrap<{ fail(): void; crash(): void; withCause(): void }>(port2);
    const error = await remote.fail().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoupeError);
    expect(error).toMatchObject({ code: 'GRAPH_LAYOUT_MISMATCH', message: 'expected pixel_values', details: { found: ['images'] } });
    const crash = await remote.crash().catch((e: unknown) => e);
    expect(crash).toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('boom') });
    // The underlying error (onnxruntime's, say) survives as text.
    expect(await remote.withCause().catch((e: unknown) => (e as Error).cause)).toBe('RangeError: protobuf parsing failed');
    port1.close();
    port2.close();
  });
});

describe('worker task queue', () => {
  it('runs tasks in order and is never poisoned by a failure', async () => {
    const queue = new TaskQueue();
    const order: string[] = [];
    const a = queue.run(async () => {
      order.push('a');
      throw new Error('a failed');
    });
    const b = queue.run(async () => {
      order.push('b');
      return 'b';
    });
    await expect(a).rejects.toThrow('a failed');
    await expect(b).resolves.toBe('b');
    expect(order).toEqual(['a', 'b']);
  });

  it('cancels by request id, before or after the request began', () => {
    const registry = new CancelRegistry();
    registry.cancel(2);
    expect(registry.begin(2).aborted).toBe(true);
    const signal = registry.begin(3);
    registry.cancel(3);
    expect(signal.aborted).toBe(true);
    expect(registry.isCancelled(3)).toBe(true);
    registry.end(3);
    expect(registry.isCancelled(3)).toBe(false);
  });
});

describe('PushStream', () => {
  it('yields pushed values in order, then ends', async () => {
    const stream = new PushStream<number>();
    stream.push(1);
    setTimeout(() => {
      stream.push(2);
      stream.end();
    }, 5);
    const seen: number[] = [];
    for await (const value of stream) seen.push(value);
    expect(seen).toEqual([1, 2]);
  });

  it('delivers buffered values before a failure', async () => {
    const stream = new PushStream<number>();
    stream.push(1);
    stream.fail(new LoupeError('ABORTED', 'stopped'));
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const value of stream) seen.push(value);
      })(),
    ).rejects.toMatchObject({ code: 'ABORTED', name: 'AbortError' });
    expect(seen).toEqual([1]);
  });
});
