// The bench's web server: the production build of bench/bench.html (what users get, not the
// dev server's one-request-per-module transforms), the bundles in public/, and bench/models/.
// COOP/COEP for wasm threads; ETag revalidation, as a static host answers a later visit.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'bench', '.build');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm', '.css': 'text/css' };

/** Builds bench/bench.html (and what it imports) into bench/.build/. */
export async function buildBenchPage() {
  // Not the app's vite.config.ts: the bench page needs none of its PWA service worker.
  await build({
    configFile: false,
    root: ROOT,
    logLevel: 'error',
    publicDir: false,
    worker: { format: 'es' },
    build: { target: 'es2022', outDir: OUT, emptyOutDir: true, rollupOptions: { input: join(ROOT, 'bench', 'bench.html') } },
  });
  return OUT;
}

/** Serves the build first, then public/ (bundles under /models/), then the repo (/bench/models/). */
export async function serveBench() {
  const roots = [OUT, join(ROOT, 'public'), ROOT];
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    for (const root of roots) {
      const file = normalize(join(root, path));
      if (!file.startsWith(root)) break;
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) continue;
      const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
      const headers = {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-cache',
        etag,
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      };
      if (request.headers['if-none-match'] === etag) {
        response.writeHead(304, headers).end();
        return;
      }
      const body = await readFile(file);
      response.writeHead(200, { ...headers, 'content-length': body.length }).end(request.method === 'HEAD' ? undefined : body);
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, close: () => new Promise((resolve) => server.close(resolve)) };
}
