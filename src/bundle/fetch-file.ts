import { LoupeError, abortError } from '../errors';
import { cachedSize, checkFreshness, readCached, writeCached } from './model-cache';
import type { ProgressCallback } from './progress';

export function joinUrl(baseUrl: string, file: string): string {
  return new URL(file, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).href;
}

export interface FetchOptions {
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
  /** Module this file belongs to, carried into progress reports. */
  module?: string;
  /** Keep and reuse bundle files in Cache Storage (default true where it exists). */
  cache?: boolean;
}

async function request(url: string, file: string, signal: AbortSignal | undefined): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { signal: signal ?? null });
  } catch (error) {
    if (signal?.aborted) throw abortError(`Loading ${file}`);
    throw new LoupeError('BUNDLE_FETCH_FAILED', `Could not fetch ${url} (${String(error)}). Check the network and that the bundle URL is reachable.`, {
      details: { url, file },
      cause: error,
    });
  }
  if (response.status === 404) {
    throw new LoupeError(
      'BUNDLE_FILE_MISSING',
      `The bundle has no ${file}: ${url} answered 404. Check the bundle URL, or pick a dtype whose file the bundle ships.`,
      { details: { url, file, status: 404 } },
    );
  }
  // Single-page-app hosts answer unknown paths with index.html and status 200.
  const type = response.headers.get('content-type') ?? '';
  if (response.ok && type.startsWith('text/html') && !file.endsWith('.html')) {
    throw new LoupeError(
      'BUNDLE_FILE_MISSING',
      `The bundle has no ${file}: ${url} answered with an HTML page (a server fallback), not the file. ` +
        'Check the bundle URL, or pick a dtype whose file the bundle ships.',
      { details: { url, file, status: response.status, contentType: type } },
    );
  }
  if (!response.ok) {
    throw new LoupeError('BUNDLE_FETCH_FAILED', `${url} answered HTTP ${response.status}. Expected 200 with the file ${file}.`, {
      details: { url, file, status: response.status },
    });
  }
  return response;
}

/**
 * Fetches one bundle file as bytes, streaming progress as data and honouring the signal.
 * Served from Cache Storage when a current copy is there (progress says `fromCache`).
 */
export async function fetchBytes(baseUrl: string, file: string, options: FetchOptions = {}): Promise<Uint8Array> {
  const url = joinUrl(baseUrl, file);
  if (options.cache === false) return download(url, file, options).then((d) => d.bytes);
  const cached = await readCached(url);
  if (cached && (await checkFreshness(url, cached, options.signal)) !== 'changed') {
    const size = cached.bytes.byteLength;
    options.onProgress?.({ stage: 'download', file, loadedBytes: size, totalBytes: size, fromCache: true, ...(options.module ? { module: options.module } : {}) });
    return cached.bytes;
  }
  const fresh = await download(url, file, options);
  await writeCached(url, fresh.bytes, fresh.etag);
  return fresh.bytes;
}

async function download(url: string, file: string, options: FetchOptions): Promise<{ bytes: Uint8Array; etag: string | null }> {
  const { signal, onProgress, module } = options;
  const response = await request(url, file, signal);
  const etag = response.headers.get('etag');
  const header = response.headers.get('content-length');
  const totalBytes = header === null ? undefined : Number(header);
  const report = (loadedBytes: number) =>
    onProgress?.({ stage: 'download', file, loadedBytes, totalBytes, fromCache: false, ...(module ? { module } : {}) });
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    report(bytes.byteLength);
    return { bytes, etag };
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  report(0);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.byteLength;
      report(loaded);
    }
  } catch (error) {
    if (signal?.aborted) throw abortError(`Loading ${file}`);
    throw new LoupeError('BUNDLE_FETCH_FAILED', `Downloading ${url} failed after ${loaded} bytes (${String(error)}). Retry the load.`, {
      details: { url, file, loadedBytes: loaded },
      cause: error,
    });
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { bytes, etag };
}

/**
 * The size a file will download as (HEAD's Content-Length), or undefined where the host
 * does not say; from the cache when a copy is there. Lets a load refuse a bundle that
 * cannot fit before it downloads gigabytes.
 */
export async function fetchSize(baseUrl: string, file: string, options: Pick<FetchOptions, 'signal' | 'cache'> = {}): Promise<number | undefined> {
  const url = joinUrl(baseUrl, file);
  if (options.cache !== false) {
    const cached = await cachedSize(url);
    if (cached !== undefined) return cached;
  }
  try {
    const response = await fetch(url, { method: 'HEAD', signal: options.signal ?? null });
    const length = response.ok ? response.headers.get('content-length') : null;
    return length === null ? undefined : Number(length);
  } catch {
    if (options.signal?.aborted) throw abortError(`Loading ${file}`);
    return undefined; // the download itself will report what is wrong
  }
}

export async function fetchJson(baseUrl: string, file: string, options: FetchOptions = {}): Promise<unknown> {
  const bytes = await fetchBytes(baseUrl, file, options);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch (error) {
    throw new LoupeError('BUNDLE_CONFIG_INVALID', `${joinUrl(baseUrl, file)} is not valid JSON (${String(error)}). Expected the bundle's ${file}.`, {
      details: { url: joinUrl(baseUrl, file), file },
    });
  }
}
