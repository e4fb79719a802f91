import { describe, expect, it } from 'vitest';
import { wasmThreads } from './provider';

describe('wasmThreads', () => {
  it('uses up to 4 threads on an isolated page', () => {
    expect(wasmThreads(undefined, true, 2)).toEqual({ threads: 2, crossOriginIsolated: true });
    expect(wasmThreads(undefined, true, 16)).toEqual({ threads: 4, crossOriginIsolated: true });
  });

  it('honours an explicit request when isolated', () => {
    expect(wasmThreads(8, true, 2).threads).toBe(8);
    expect(wasmThreads(0, true, 2).threads).toBe(1);
  });

  it('falls back to one thread without isolation and says why', () => {
    const report = wasmThreads(undefined, false, 8);
    expect(report.threads).toBe(1);
    expect(report.reason).toMatch(/cross-origin isolated.*COOP.*COEP/);
    expect(wasmThreads(1, false, 8).reason).toBeUndefined();
  });
});
