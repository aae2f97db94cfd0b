// Hotlink protection (ALLOWED_REFERERS): listed sites, this host and requests without a Referer
// get images; other sites get 403 (or, with HOTLINK_IMAGE, a small picture saying so), for
// files, variants (edge-cached or not), /random and placeholders alike.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { worker, corpus, unique, uploadOne, errorOf, probe } from './harness.mjs';

describe('hotlink protection', () => {
  it('serves listed sites, this host and no-Referer requests, and refuses everyone else', async () => {
    const url = await worker({ ALLOWED_REFERERS: 'blog.example.org, *.friends.net' });
    const { src } = await uploadOne(url, unique(corpus('small-320x211.jpg')));
    const get = (path, referer) => fetch(url + path, { headers: referer ? { referer } : {} });
    for (const ok of [undefined, 'https://blog.example.org/post', 'https://pics.friends.net/', `${url}/admin`]) {
      assert.equal((await get(src, ok)).status, 200, String(ok));
    }
    assert.equal((await get(`${src}?w=64`, 'https://blog.example.org/')).status, 200);
    assert.equal((await get(`${src}?w=64`, 'https://blog.example.org/')).headers.get('x-variant-cache'), 'hit');
    assert.equal((await get(`${src}?w=64`, 'https://blog.example.org/')).headers.get('x-variant-cache'), 'edge');
    for (const path of [src, `${src}?w=64`, '/random', '/random?mode=json', '/160x90/blue-heron.png']) {
      const r = await get(path, 'https://evil.example/page');
      const e = await errorOf(r);
      assert.equal(e.status, 403, path);
      assert.match(e.message, /ALLOWED_REFERERS/);
    }
    assert.equal((await get(src, 'https://friends.net.evil.example/')).status, 403, 'a look-alike host');
    assert.equal((await get(src, 'https://evil.example/', { authorization: 'x' })).status, 403);
    assert.equal((await get('/api/config', 'https://evil.example/')).status, 200, 'only images are guarded');
  });

  it('answers with a small picture instead when HOTLINK_IMAGE is on', async () => {
    const url = await worker({ ALLOWED_REFERERS: 'blog.example.org', HOTLINK_IMAGE: 'true' });
    const { src } = await uploadOne(url, unique(corpus('small-320x211.jpg')));
    const r = await fetch(url + src, { headers: { referer: 'https://evil.example/' } });
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('content-type'), 'image/png');
    const p = probe(Buffer.from(await r.arrayBuffer()));
    assert.deepEqual([p.format, p.width, p.height], ['png', 240, 80]);
  });
});
