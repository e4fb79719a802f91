/**
 * Bundle files kept in Cache Storage after their first download, so a model loads offline
 * and a second visit does not download it again. A cached file is checked against the
 * server when the server can be reached (ETag, else Content-Length): a file that changed
 * is fetched again; when the server cannot be reached, the cached copy is used.
 */
export const MODEL_CACHE = 'loupe-models-v1';

const SIZE_HEADER = 'x-loupe-size';

export interface CachedFile {
  bytes: Uint8Array;
  etag: string | null;
}

function cacheStorage(): CacheStorage | undefined {
  return typeof caches === 'undefined' ? undefined : caches;
}

export async function readCached(url: string): Promise<CachedFile | undefined> {
  const storage = cacheStorage();
  if (!storage) return undefined;
  try {
    const response = await (await storage.open(MODEL_CACHE)).match(url);
    if (!response) return undefined;
    return { bytes: new Uint8Array(await response.arrayBuffer()), etag: response.headers.get('etag') };
  } catch {
    return undefined;
  }
}

/** A cached file's size from its headers, without reading the body. */
export async function cachedSize(url: string): Promise<number | undefined> {
  const storage = cacheStorage();
  if (!storage) return undefined;
  try {
    const size = (await (await storage.open(MODEL_CACHE)).match(url))?.headers.get(SIZE_HEADER);
    return size ? Number(size) : undefined;
  } catch {
    return undefined;
  }
}

export async function writeCached(url: string, bytes: Uint8Array, etag: string | null): Promise<void> {
  const storage = cacheStorage();
  if (!storage) return;
  const headers: Record<string, string> = { 'content-length': String(bytes.byteLength), [SIZE_HEADER]: String(bytes.byteLength) };
  if (etag) headers.etag = etag;
  try {
    await (await storage.open(MODEL_CACHE)).put(url, new Response(bytes.slice().buffer as ArrayBuffer, { headers }));
  } catch {
    // Quota exceeded or storage disabled: the model still works, it is just not kept.
  }
}

export type Freshness = 'fresh' | 'changed' | 'unreachable';

/** Asks the server (HEAD, bypassing HTTP caches) whether the cached copy is still current. */
export async function checkFreshness(url: string, cached: CachedFile, signal: AbortSignal | undefined): Promise<Freshness> {
  let response: Response;
  try {
    response = await fetch(url, { method: 'HEAD', cache: 'no-store', signal: signal ?? null });
  } catch {
    return 'unreachable';
  }
  if (!response.ok) return response.status === 404 ? 'changed' : 'unreachable';
  const etag = response.headers.get('etag');
  if (etag && cached.etag) return etag === cached.etag ? 'fresh' : 'changed';
  const length = response.headers.get('content-length');
  if (length !== null) return Number(length) === cached.bytes.byteLength ? 'fresh' : 'changed';
  return 'fresh';
}

/** Storage the browser gives this origin, for showing and for asking to keep it. */
export async function storageStatus(): Promise<{ usage: number; quota: number; persisted: boolean } | undefined> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage?.estimate) return undefined;
  const { usage = 0, quota = 0 } = await storage.estimate();
  return { usage, quota, persisted: (await storage.persisted?.()) ?? false };
}
