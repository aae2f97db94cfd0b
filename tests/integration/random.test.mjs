// GET /random and /random/count against the real Worker and its pool Durable Object.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { worker, corpus, unique, uploadOne, errorOf, postFiles, bearer, ADMIN_TOKEN } from './harness.mjs';

let albumCounter = 0;
const newAlbum = () => `album-${process.pid}-${Date.now()}-${albumCounter++}`;

async function fill(url, album, names) {
  const ids = {};
  for (const name of names) {
    const { id } = await uploadOne(url, unique(corpus(name)), name, `?album=${album}`);
    ids[id] = name;
  }
  return ids;
}

const drawJson = async (url, query) => (await fetch(`${url}/random?mode=json&${query}`)).json();

describe('random images', () => {
  it('filters by orientation within an album (EXIF-rotated counts as portrait)', async () => {
    const url = await worker();
    const album = newAlbum();
    const ids = await fill(url, album, ['landscape-3840x2400.jpg', 'small-320x211.jpg', 'portrait-1600x2400.jpg', 'exif-orientation6-gps.jpg', 'square-4096.webp']);
    const portraits = Object.keys(ids).filter((id) => /portrait|exif/.test(ids[id]));
    const seen = new Set();
    for (let i = 0; i < 40; i++) {
      const r = await drawJson(url, `album=${album}&orientation=portrait`);
      assert.ok(portraits.includes(r.id), `${ids[r.id]} is not portrait`);
      assert.equal(r.orientation, 'portrait');
      seen.add(r.id);
    }
    assert.equal(seen.size, 2);
    for (let i = 0; i < 20; i++) assert.equal((await drawJson(url, `album=${album}&orientation=landscape`)).orientation, 'landscape');
    assert.equal((await drawJson(url, `album=${album}&orientation=square`)).orientation, 'square');
    const count = await (await fetch(`${url}/random/count?album=${album}`)).json();
    assert.deepEqual(count, { count: 5 });
    assert.equal(await (await fetch(`${url}/random/count?album=${album}&orientation=portrait&format=text`)).text(), '2');
  });

  it('draws uniformly (chi-square over 600 draws from 6 images)', async () => {
    const url = await worker();
    const album = newAlbum();
    const ids = Object.keys(await fill(url, album, Array(6).fill('small-320x211.jpg')));
    const counts = Object.fromEntries(ids.map((id) => [id, 0]));
    const draws = 600;
    for (let i = 0; i < draws; i++) counts[(await drawJson(url, `album=${album}`)).id]++;
    const expected = draws / ids.length;
    const chi2 = Object.values(counts).reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // 5 degrees of freedom: 20.52 is the 0.1% critical value.
    assert.ok(chi2 < 20.52, `chi-square ${chi2.toFixed(2)} for ${JSON.stringify(counts)}`);
    assert.ok(Object.values(counts).every((c) => c > 0));
  });

  it('never returns deleted images, and the count follows', async () => {
    const url = await worker();
    const album = newAlbum();
    const r = await postFiles(url, `/api/v1/upload?album=${album}`, [['file', unique(corpus('small-320x211.jpg')), 'a.jpg']], { headers: bearer() });
    const gone = (await r.json()).data;
    const keep = await fill(url, album, ['small-320x211.jpg', 'small-320x211.jpg']);
    assert.equal(await (await fetch(`${url}/random/count?album=${album}&format=text`)).text(), '3');
    await fetch(`${url}/api/v1/images/${gone.key}`, { method: 'DELETE' });
    assert.equal(await (await fetch(`${url}/random/count?album=${album}&format=text`)).text(), '2');
    for (let i = 0; i < 60; i++) assert.ok((await drawJson(url, `album=${album}`)).id in keep);
  });

  it('never returns images awaiting review', async () => {
    const url = await worker({ REVIEW_MODE: 'manual' });
    const album = newAlbum();
    await fill(url, album, ['small-320x211.jpg']);
    const e = await errorOf(await fetch(`${url}/random?album=${album}`));
    assert.equal(e.status, 404);
    assert.equal(e.code, 'no_images');
  });

  it('answers as image, redirect, json or text; only seeded answers are cacheable', async () => {
    const url = await worker();
    const album = newAlbum();
    const bytes = unique(corpus('small-320x211.jpg'));
    const { id, src } = await uploadOne(url, bytes, 'only.jpg', `?album=${album}`);
    const img = await fetch(`${url}/random?album=${album}`);
    assert.equal(img.headers.get('content-type'), 'image/jpeg');
    assert.equal(img.headers.get('cache-control'), 'no-store');
    assert.equal(img.headers.get('x-image-id'), id);
    assert.equal(img.headers.get('x-storage-ops'), 'kv-read=1, r2-read=1, pool=1', 'one pool lookup, the record, one read, no write');
    assert.deepEqual(Buffer.from(await img.arrayBuffer()), bytes);
    const redirect = await fetch(`${url}/random?album=${album}&mode=redirect`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), url + src);
    assert.equal(await (await fetch(`${url}/random?album=${album}&mode=text`)).text(), url + src);
    const json = await drawJson(url, `album=${album}`);
    assert.deepEqual(json, { id, url: url + src, width: 320, height: 211, orientation: 'landscape' });
    const seeded = await fetch(`${url}/random?seed=42&mode=json`);
    assert.equal(seeded.headers.get('cache-control'), 'public, max-age=3600');
    const again = await fetch(`${url}/random?seed=42&mode=json`);
    assert.equal((await again.json()).id, (await seeded.json()).id);
    // The canonical file stays cacheable.
    assert.match((await fetch(url + src)).headers.get('cache-control'), /immutable/);
  });

  it('n= lists different images at once; ?random=1, ?random=2… on one page are different images', async () => {
    const url = await worker();
    const album = newAlbum();
    const names = ['landscape-3840x2400.jpg', 'small-320x211.jpg', 'portrait-1600x2400.jpg', 'square-4096.webp', 'exif-orientation6-gps.jpg'];
    const ids = await fill(url, album, names);
    for (const n of [3, 5, 9]) {
      const { images } = await (await fetch(`${url}/random?album=${album}&n=${n}`)).json();
      assert.equal(images.length, Math.min(n, 5), `n=${n}`);
      assert.equal(new Set(images.map((i) => i.id)).size, images.length, 'never the same image twice');
      for (const i of images) assert.ok(ids[i.id] && i.url.endsWith(`/file/${i.id}.${i.url.split('.').pop()}`));
    }
    const text = await (await fetch(`${url}/random?album=${album}&n=2&mode=text`)).text();
    assert.equal(text.split('\n').length, 2);
    for (const bad of ['0', '51', 'x']) assert.equal((await errorOf(await fetch(`${url}/random?album=${album}&n=${bad}`))).code, 'bad_parameter');
    // One page with five <img src="/random?random=K">: five different images.
    for (const page of ['https://blog.example/a', 'https://blog.example/b']) {
      const drawn = await Promise.all([1, 2, 3, 4, 5].map(async (k) => {
        const r = await fetch(`${url}/random?album=${album}&random=${k}`, { headers: { referer: page } });
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('cache-control'), 'no-store');
        return r.headers.get('x-image-id');
      }));
      assert.equal(new Set(drawn).size, 5, `${page}: ${drawn}`);
    }
    assert.equal((await errorOf(await fetch(`${url}/random?album=${album}&random=abc`))).code, 'bad_parameter');
  });

  it('orientation=auto follows the device', async () => {
    const url = await worker();
    const album = newAlbum();
    await fill(url, album, ['portrait-1600x2400.jpg', 'small-320x211.jpg']);
    const phone = await (await fetch(`${url}/random?album=${album}&orientation=auto&mode=json`, { headers: { 'User-Agent': 'Mozilla/5.0 (Linux; Android 14) Mobile Safari' } })).json();
    assert.equal(phone.orientation, 'portrait');
    const desktop = await (await fetch(`${url}/random?album=${album}&orientation=auto&mode=json`, { headers: { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64)' } })).json();
    assert.equal(desktop.orientation, 'landscape');
  });

  it('bad filters → 400 naming the parameter; nothing matching → 404 no_images', async () => {
    const url = await worker();
    for (const q of ['orientation=sideways', 'mode=gif', 'album=a&tag=b', 'album=a%2Fb']) {
      const e = await errorOf(await fetch(`${url}/random?${q}`));
      assert.equal(e.status, 400, q);
      assert.match(e.message, new RegExp(q.split('=')[0].replace(/&.*/, '') === 'album' && q.includes('tag') ? 'album or by tag' : q.split('=')[0]));
    }
    assert.equal((await errorOf(await fetch(`${url}/random?album=${newAlbum()}`))).code, 'no_images');
    assert.equal((await fetch(`${url}/random`, { method: 'POST' })).status, 405);
  });

  it('follows the admin moving, blocking and approving images', async () => {
    const url = await worker();
    const from = newAlbum();
    const to = newAlbum();
    const { id } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 'a.jpg', `?album=${from}`);
    const patch = (body) => fetch(`${url}/api/images/${id}`, { method: 'PATCH', headers: { ...bearer(ADMIN_TOKEN), 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await patch({ album: to, tags: 'moved' })).status, 200);
    assert.equal((await errorOf(await fetch(`${url}/random?album=${from}`))).code, 'no_images');
    assert.equal((await drawJson(url, `album=${to}`)).id, id);
    assert.equal((await drawJson(url, 'tag=moved')).id, id);
    assert.equal((await patch({ status: 'blocked' })).status, 200);
    assert.equal((await fetch(`${url}/random?album=${to}`)).status, 404);
    assert.equal((await fetch(`${url}/file/${id}.jpg`)).status, 451);
    assert.equal((await patch({ status: 'active' })).status, 200);
    assert.equal((await drawJson(url, `album=${to}`)).id, id);
    const denied = await fetch(`${url}/api/images/${id}`, { method: 'PATCH', headers: bearer(), body: '{"album":"x"}' });
    assert.equal(denied.status, 403);
  });

  it('tags filter like albums', async () => {
    const url = await worker();
    const tag = `t${Date.now()}`;
    const { id } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 'a.jpg', `?tags=${tag},other`);
    assert.equal((await drawJson(url, `tag=${tag}`)).id, id);
  });
});

/** GET with a chosen Host header (fetch does not allow setting it). */
function getWithHost(url, host, path) {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers: { Host: host } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

describe('host-based random routes (RANDOM_HOSTS)', () => {
  it('maps hosts to filters and api- hosts to counts', async () => {
    const album = newAlbum();
    const url = await worker({ RANDOM_HOSTS: `vpic.example.com=portrait,cats.example.com=album:${album}` });
    const ids = await fill(url, album, ['portrait-1600x2400.jpg', 'small-320x211.jpg']);
    const v = await getWithHost(url, 'vpic.example.com', '/?mode=json');
    assert.equal(v.status, 200);
    assert.equal(JSON.parse(v.body).orientation, 'portrait');
    const img = await getWithHost(url, 'cats.example.com', '/');
    assert.equal(img.headers['content-type'], 'image/jpeg');
    assert.ok(img.headers['x-image-id'] in ids);
    const count = await getWithHost(url, 'api-cats.example.com', '/');
    assert.deepEqual(JSON.parse(count.body), { count: 2 });
    // Other hosts are the normal site.
    assert.equal((await getWithHost(url, 'img.example.com', '/api/config')).status, 200);
  });
});
