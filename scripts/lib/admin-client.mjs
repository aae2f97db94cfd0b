// What scripts/backup and scripts/restore share: the admin token, authenticated requests that
// wait out 429/503/504 (as the server's Retry-After says), and a small worker pool.
import { createHash } from 'node:crypto';

export const EXT = { jpeg: 'jpg', png: 'png', gif: 'gif', webp: 'webp', avif: 'avif', bmp: 'bmp', ico: 'ico' };

export function fail(message) {
  console.error(`error: ${message}`);
  process.exit(2);
}

export function adminToken() {
  const token = process.env.IMGBED_ADMIN_TOKEN;
  if (!token) fail('set IMGBED_ADMIN_TOKEN to the deployment\'s ADMIN_TOKEN (it is read from the environment, never from the command line)');
  return token;
}

export function baseUrl(s) {
  try {
    return new URL(s).origin;
  } catch {
    return fail(`not a URL: ${s} (use e.g. https://img.example.com)`);
  }
}

export const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/** fetch with the admin token; retries what the server says is temporary. */
export async function call(url, token, init = {}, tries = 6) {
  for (let i = 1; ; i++) {
    let r;
    try {
      r = await fetch(url, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } });
    } catch (e) {
      if (i >= tries) throw e;
      await sleep(1000 * i);
      continue;
    }
    if (![429, 502, 503, 504].includes(r.status) || i >= tries) return r;
    await sleep(Math.min(60, Number(r.headers.get('retry-after')) || i) * 1000);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs `work` over `items`, `n` at a time; returns the errors as strings. */
export async function pool(items, n, work) {
  const errors = [];
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const item = items[next++];
      try { await work(item); } catch (e) { errors.push(e.message); }
    }
  }));
  return errors;
}
