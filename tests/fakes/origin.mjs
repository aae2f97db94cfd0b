// A web server on 127.0.0.1 that stands for "some site on the internet" in upload-by-URL
// tests: it serves registered paths, redirects, endless chunked bodies and slow answers, and
// records every request it gets. Worker instances allow exactly this host:port as a source
// (URL_UPLOAD_ALLOW_HOSTS); every other local address stays refused.
import { createServer } from 'node:http';

const routes = new Map();
export const hits = [];
let started;

/** Starts the server once; resolves to its `host:port`. */
export function origin() {
  started ??= new Promise((resolve) => {
    const srv = createServer((req, res) => {
      hits.push(req.url);
      const route = routes.get(req.url.split('?')[0]);
      if (!route) { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('internal detail: no such file on the origin'); return; }
      route(req, res);
    });
    srv.unref();
    srv.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${srv.address().port}`));
  });
  return started;
}

/** Serves `bytes` at `path`; returns its full URL. */
export async function serveBytes(path, bytes, type = 'image/jpeg') {
  const host = await origin();
  routes.set(path, (_req, res) => { res.writeHead(200, { 'content-type': type, 'content-length': bytes.length }); res.end(bytes); });
  return `http://${host}${path}`;
}

/** Redirects `path` to `location`. */
export async function serveRedirect(path, location) {
  const host = await origin();
  routes.set(path, (_req, res) => { res.writeHead(302, { location }); res.end(); });
  return `http://${host}${path}`;
}

/** A chunked body of `total` bytes (no Content-Length), sent 64 KiB at a time. */
export async function serveChunked(path, total) {
  const host = await origin();
  routes.set(path, (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 0xff);
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
      res.end();
    };
    res.on('error', () => {});
    pump();
  });
  return `http://${host}${path}`;
}

/** Answers after `ms` milliseconds. */
export async function serveSlow(path, ms, bytes) {
  const host = await origin();
  routes.set(path, (_req, res) => { const t = setTimeout(() => { res.writeHead(200, { 'content-type': 'image/jpeg' }); res.end(bytes); }, ms); res.on('close', () => clearTimeout(t)); });
  return `http://${host}${path}`;
}
