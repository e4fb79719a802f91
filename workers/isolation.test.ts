import { describe, expect, it } from 'vitest';
import { ISOLATION_HEADERS, withIsolation } from './isolation';

describe('withIsolation', () => {
  it('adds COOP and COEP and keeps status, type and body', async () => {
    const out = withIsolation(new Response('<!doctype html>', { status: 200, headers: { 'content-type': 'text/html' } }));
    expect(out.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(out.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(out.headers.get('content-type')).toBe('text/html');
    expect(await out.text()).toBe('<!doctype html>');
  });

  it('leaves error responses alone', () => {
    const error = Response.error();
    expect(withIsolation(error)).toBe(error);
  });

  it('names exactly the two headers that enable SharedArrayBuffer', () => {
    expect(Object.keys(ISOLATION_HEADERS).sort()).toEqual(['Cross-Origin-Embedder-Policy', 'Cross-Origin-Opener-Policy']);
  });
});
