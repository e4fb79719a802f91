import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.onnx': 'application/octet-stream',
  '.map': 'application/json',
};

/** A static host whose root can be switched at run time: a "deploy" in one line. */
export class SwitchableStaticServer {
  root: string;
  private server: Server | undefined;

  constructor(root: string) {
    this.root = root;
  }

  listen(port: number): Promise<void> {
    this.server = createServer((request, response) => {
      const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
      const file = normalize(join(this.root, path.endsWith('/') ? `${path}index.html` : path));
      if (!file.startsWith(this.root)) {
        response.writeHead(403).end();
        return;
      }
      readFile(file)
        .then((body) => {
          response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-cache' });
          response.end(request.method === 'HEAD' ? undefined : body);
        })
        .catch(() => response.writeHead(404).end());
    });
    return new Promise((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
