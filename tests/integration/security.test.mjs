// The review's attacks and hostile files, replayed against the real Worker (workerd): each must
// get a clear 4xx, the Worker must keep answering, and nothing may be lost or leaked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { worker, corpus, unique, uploadOne, errorOf, bearer, probe, makePng, postFiles, UPLOAD_TOKEN, ADMIN_TOKEN } from './harness.mjs';
import { origin, hits, serveBytes, serveRedirect, serveChunked } from '../fakes/origin.mjs';
import { deflateSync } from 'node:zlib';
import { startReplicate } from '../fakes/replicate.mjs';

const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const json = { 'Content-Type': 'application/json' };

async function put(url, bytes, query = '', headers = bearer()) {
  const r = await fetch(`${url}/upload/f.bin${query}`, { method: 'PUT', headers, body: bytes });
  return { status: r.status, body: await r.json() };
}

// The wasm pipeline's memory model (Cloudflare Images, the default engine, works outside the
// isolate): these pin TRANSFORM_ENGINE=wasm.
const WASM = { TRANSFORM_ENGINE: 'wasm' };

describe('security: memory', () => {
  it('refuses huge outputs with 422 before allocating, and the isolate stays under 128 MB', async () => {
    const url = await worker({ ...WASM, PROBE: 'memory' });
    const tiny = makePng(16, 16, 8, 2, deflateSync(Buffer.alloc((1 + 48) * 16)));
    const { src } = await uploadOne(url, tiny, 'tiny.png');
    const strip = await uploadOne(url, makePng(2000, 2, 8, 2, deflateSync(Buffer.alloc((1 + 6000) * 2))), 'strip.png');
    for (const [path, q] of [[src, 'w=8192&h=8192&fit=pad&f=webp&blur=250'], [src, 'w=8192&h=8192&fit=fill'], [strip.src, 'w=8192&h=8192&fit=cover']]) {
      const e = await errorOf(await fetch(`${url}${path}?${q}`));
      assert.deepEqual([e.status, e.code], [422, 'too_many_pixels'], q);
    }
    // The largest transforms that pass, as the admin (who alone sees x-wasm-memory).
    const photo = await uploadOne(url, unique(corpus('phone-24MP-6000x4000.jpg')), 'p.jpg');
    let peak = 0;
    for (const q of ['w=2400&h=2400&fit=pad&f=webp&blur=5', 'w=2400&h=2400&fit=fill&f=jpeg', 'w=3000&f=png']) {
      const r = await fetch(`${url}${photo.src}?${q}`, { headers: admin });
      assert.equal(r.status, 200, q);
      await r.arrayBuffer();
      peak = Math.max(peak, Number(r.headers.get('x-wasm-memory')));
    }
    assert.ok(peak > 0 && peak < 128 * 1024 * 1024, `wasm memory ${peak}`);
    console.log(`# wasm memory after the largest accepted transforms: ${(peak / 1048576).toFixed(1)} MiB`);
    // The public never sees memory figures.
    const pub = await fetch(`${url}${photo.src}?w=321`);
    assert.equal(pub.headers.get('x-wasm-memory'), null);
  });

  it('a progressive JPEG declaring 10000×10000 is served as the original for transforms', async () => {
    const url = await worker(WASM);
    const { src } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 's.jpg');
    const small = Buffer.from(await (await fetch(`${url}${src}?w=64&f=jpeg`)).arrayBuffer());
    assert.equal(probe(small).progressive, true);
    const sof = small.indexOf(Buffer.from([0xff, 0xc2]));
    small.writeUInt16BE(10000, sof + 5);
    small.writeUInt16BE(10000, sof + 7);
    const bomb = await uploadOne(url, small, 'bomb.jpg');
    const r = await fetch(`${url}${bomb.src}?w=100`, { redirect: 'manual' });
    assert.equal(r.status, 307);
    assert.equal(r.headers.get('location'), bomb.src);
    assert.equal((await fetch(`${url}/api/config`)).status, 200);
  });

  it('files only decoding finds broken are served as originals, never a 422 to every size', async () => {
    const url = await worker(WASM);
    // Valid chunk checksums around an IDAT that is not zlib data.
    const png = makePng(64, 64, 8, 2, Buffer.from(`not zlib at all ${Date.now()}`));
    const { src } = await uploadOne(url, png, 'broken.png');
    const r = await fetch(`${url}${src}?w=32`, { redirect: 'manual' });
    assert.equal(r.status, 307);
    assert.equal(r.headers.get('location'), src);
  });

  it('BMP sizes are read right for top-down and OS/2 bitmaps', async () => {
    const url = await worker();
    const bmp = (header, w, h) => {
      const row = Math.ceil((w * 3) / 4) * 4;
      const b = Buffer.alloc(14 + header + row * Math.abs(h), 0x40);
      b.write('BM', 0, 'latin1');
      b.writeUInt32LE(b.length, 2);
      b.writeUInt32LE(14 + header, 10);
      b.writeUInt32LE(header, 14);
      if (header === 12) { b.writeUInt16LE(w, 18); b.writeUInt16LE(h, 20); b.writeUInt16LE(1, 22); b.writeUInt16LE(24, 24); }
      else { b.writeInt32LE(w, 18); b.writeInt32LE(h, 22); b.writeUInt16LE(1, 26); b.writeUInt16LE(24, 28); b.writeUInt32LE(0, 30); }
      b.writeUInt32LE(Date.now() % 1e9, b.length - 4); // unique bytes
      return b;
    };
    for (const [header, w, h] of [[40, 127, -64], [12, 127, 64]]) {
      const { id } = await uploadOne(url, bmp(header, w, h), 'x.bmp');
      const meta = await (await fetch(`${url}/api/images/${id}`)).json();
      assert.deepEqual([meta.width, meta.height, meta.orientation], [127, 64, 'landscape'], `header ${header}`);
    }
  });
});

describe('security: upload by URL', () => {
  it('checks the token before fetching anything', async () => {
    const url = await worker();
    const source = await serveBytes(`/noauth-${Date.now()}.jpg`, unique(corpus('small-320x211.jpg')));
    const before = hits.length;
    const r = await fetch(`${url}/api/1/upload`, { method: 'POST', headers: json, body: JSON.stringify({ source }) });
    assert.equal(r.status, 401);
    assert.equal(hits.length, before, 'the origin was fetched without a token');
  });

  it('refuses local addresses, redirects into them, and this Worker itself, without telling them apart', async () => {
    const url = await worker();
    const host = await origin();
    const port = new URL(url).port;
    const targets = [`http://127.0.0.1:${port}/api/config`, 'http://127.0.0.1:1/', 'http://169.254.169.254/latest/meta-data/', 'http://localhost/',
      'http://[::1]/', 'file:///etc/passwd', await serveRedirect(`/hop-${Date.now()}`, `http://127.0.0.1:${port}/api/config`)];
    const messages = new Set();
    for (const source of targets) {
      const r = await fetch(`${url}/api/1/upload`, { method: 'POST', headers: { ...json, 'X-API-Key': UPLOAD_TOKEN }, body: JSON.stringify({ source }) });
      const body = await r.json();
      assert.equal(r.status, 400, source);
      messages.add(body.error.message);
    }
    assert.ok(messages.size <= 4, [...messages].join(' | '));
    for (const m of messages) assert.doesNotMatch(m, /refused|ECONN|connect|127\.0\.0\.1|localhost/i);
    // A redirect chain within the allowed origin is followed (at most 3 hops).
    const img = unique(corpus('small-320x211.jpg'));
    const end = await serveBytes(`/end-${Date.now()}.jpg`, img);
    const hop = await serveRedirect(`/one-${Date.now()}`, end);
    const ok = await fetch(`${url}/api/1/upload?format=txt`, { method: 'POST', headers: { ...json, 'X-API-Key': UPLOAD_TOKEN }, body: JSON.stringify({ source: hop }) });
    assert.equal(ok.status, 200);
    assert.ok(host);
  });

  it('stops reading a chunked answer at the upload limit', async () => {
    const url = await worker();
    const source = await serveChunked(`/endless-${Date.now()}.jpg`, 60 * 1024 * 1024);
    const t = Date.now();
    const r = await fetch(`${url}/api/1/upload`, { method: 'POST', headers: { ...json, 'X-API-Key': UPLOAD_TOKEN }, body: JSON.stringify({ source }) });
    const body = await r.json();
    assert.equal(r.status, 413, JSON.stringify(body));
    assert.ok(Date.now() - t < 10_000);
  });
});

describe('security: delete links and dedupe', () => {
  it('a repeat upload by someone else is an image of their own over the same bytes', async () => {
    const url = await worker({ REVIEW_MODE: 'manual', INSTANCE: 'repeat-owners' });
    const img = unique(corpus('small-320x211.jpg'));
    const named = (name, headers) => fetch(`${url}/upload/${name}`, { method: 'PUT', headers, body: img }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const first = await named('secret-plans.jpg', bearer());
    assert.equal(first.body.status, 'pending', 'token uploads wait for review here');
    const other = await named('mine.jpg', bearer('second-token'));
    assert.equal(other.status, 200);
    assert.notEqual(other.body.id, first.body.id, 'another owner got the first owner\'s image');
    assert.ok(other.body.delete_url && other.body.delete_url !== first.body.delete_url, 'their own delete link');
    const text = JSON.stringify(other.body);
    assert.ok(!text.includes('secret-plans') && !text.includes(first.body.id), `the other image leaked: ${text}`);
    for (const path of ['/api/v1/upload', '/api/v2/upload']) {
      const form = new FormData();
      form.append(path.includes('v2') ? 'smfile' : 'file', new Blob([img]), 'again.jpg');
      const r = await (await fetch(url + path, { method: 'POST', headers: { Authorization: 'second-token' }, body: form })).json();
      const text = JSON.stringify(r);
      assert.ok(!text.includes(first.body.delete_url.split('/').pop()) && !text.includes('secret-plans'), `${path} leaked the first image`);
    }
    const mine = await named('x.jpg', bearer());
    assert.equal(mine.body.delete_url, first.body.delete_url, 'the owner gets their own image back');
    const adm = await named('x.jpg', admin);
    assert.equal(adm.body.delete_url, first.body.delete_url, 'so does the admin');
    // The first owner deletes theirs: the second image keeps the bytes.
    assert.equal((await fetch(first.body.delete_url, { method: 'POST', headers: { Accept: 'application/json' } })).status, 200);
    const served = await fetch(`${url}/file/${other.body.id}.jpg`, { headers: admin });
    assert.equal(served.status, 200, 'the second link died with the first image');
    assert.deepEqual(Buffer.from(await served.arrayBuffer()), img);
    const last = await (await fetch(`${url}/api/admin/images/${other.body.id}`, { method: 'DELETE', headers: admin })).json();
    assert.equal(last.deleted.bytes, true, 'the last one out takes the bytes (the repeats over v1 and v2 were this image)');
  });

  it('with anonymous uploads on, an anonymous repeat is a new image whose link deletes only it', async () => {
    const url = await worker({ ALLOW_ANONYMOUS_UPLOAD: 'true' });
    const img = unique(corpus('small-320x211.jpg'));
    const first = await put(url, img, '', {});
    assert.ok(first.body.delete_url);
    const again = await put(url, img, '', {});
    assert.notEqual(again.body.id, first.body.id);
    assert.ok(again.body.delete_url && again.body.delete_url !== first.body.delete_url);
    assert.equal((await fetch(again.body.delete_url, { method: 'POST', headers: { Accept: 'application/json' } })).status, 200);
    assert.equal((await fetch(`${url}/file/${again.body.id}.jpg`)).status, 404, 'the repeat is gone');
    assert.equal((await fetch(`${url}/file/${first.body.id}.jpg`)).status, 200, 'the first image stays');
  });
});

describe('security: pools and labels', () => {
  it('duplicate tags count once, and the pool survives deletes', async () => {
    const url = await worker();
    const tag = `dup${Date.now()}`;
    const count = async (q) => (await (await fetch(`${url}/random/count?${q}`)).json()).count;
    const a = await put(url, unique(corpus('small-320x211.jpg')), `?tags=${tag},${tag.toUpperCase()}, ${tag} `);
    assert.equal(a.status, 200);
    assert.equal(await count(`tag=${tag}`), 1);
    const del = await fetch(a.body.delete_url, { method: 'POST', headers: { Accept: 'application/json' } });
    assert.equal(del.status, 200);
    assert.equal(await count(`tag=${tag}`), 0);
    for (let i = 0; i < 3; i++) assert.equal((await put(url, unique(corpus('small-320x211.jpg')), `?tags=${tag},${tag}`)).status, 200);
    assert.equal(await count(`tag=${tag}`), 3);
  });

  it('a random sequence of uploads, retags and deletes keeps every pool equal to a model', async () => {
    const url = await worker();
    const run = `m${Date.now()}`;
    const tags = [`${run}a`, `${run}b`, `${run}c`];
    const live = new Map(); // id → { tags, del }
    let seed = 42;
    const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    for (let step = 0; step < 40; step++) {
      const ids = [...live.keys()];
      const op = rnd(4);
      if (op === 0 && ids.length) {
        const id = ids[rnd(ids.length)];
        assert.equal((await fetch(live.get(id).del, { method: 'POST', headers: { Accept: 'application/json' } })).status, 200);
        live.delete(id);
      } else if (op === 1 && ids.length) {
        const id = ids[rnd(ids.length)];
        const t = [tags[rnd(3)], tags[rnd(3)], tags[rnd(3)].toUpperCase()];
        const r = await fetch(`${url}/api/images/${id}`, { method: 'PATCH', headers: { ...admin, ...json }, body: JSON.stringify({ tags: t }) });
        assert.equal(r.status, 200);
        live.get(id).tags = new Set(t.map((x) => x.toLowerCase()));
      } else {
        const t = [tags[rnd(3)], tags[rnd(3)], tags[rnd(3)]];
        const r = await put(url, unique(corpus('small-320x211.jpg')), `?tags=${t.join(',')}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        live.set(r.body.id, { tags: new Set(t), del: r.body.delete_url });
      }
      if (step % 8 === 7 || step === 39) {
        for (const t of tags) {
          const expected = [...live.values()].filter((v) => v.tags.has(t)).length;
          const got = (await (await fetch(`${url}/random/count?tag=${t}`)).json()).count;
          assert.equal(got, expected, `step ${step} tag ${t}`);
          for (let s = 0; s < expected; s++) {
            const d = await (await fetch(`${url}/random?tag=${t}&mode=json&seed=${s}`)).json();
            assert.ok(live.has(d.id) && live.get(d.id).tags.has(t), `a draw from ${t} returned ${d.id}`);
          }
        }
      }
    }
  });

  it('labels cannot name another pool; tags are limited', async () => {
    const url = await worker();
    for (const q of ['?album=x|o:landscape', '?album=a:b', '?tags=ok,t:x', `?tags=${Array.from({ length: 21 }, (_, i) => `t${i}`).join(',')}`, `?album=${'a'.repeat(65)}`]) {
      const r = await put(url, unique(corpus('portrait-1600x2400.jpg')), q);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error.code, 'bad_parameter', q);
    }
    const e = await errorOf(await fetch(`${url}/random?album=${encodeURIComponent('x|o:landscape')}`));
    assert.equal(e.status, 400);
  });
});

describe('security: caches', () => {
  it('deleted and blocked images stop being served from the edge cache at once', async () => {
    const url = await worker();
    const a = await put(url, unique(corpus('small-320x211.jpg')));
    const path = new URL(a.body.url).pathname;
    await (await fetch(`${url}${path}?w=100`)).arrayBuffer();
    await (await fetch(`${url}${path}?w=100`)).arrayBuffer();
    const cached = await fetch(`${url}${path}?w=100`);
    await cached.arrayBuffer();
    assert.equal(cached.headers.get('x-variant-cache'), 'edge');
    const r = await fetch(`${url}/api/images/${a.body.id}`, { method: 'PATCH', headers: { ...admin, ...json }, body: JSON.stringify({ status: 'blocked' }) });
    assert.equal(r.status, 200);
    assert.equal((await fetch(`${url}${path}?w=100`)).status, 451);
    await fetch(`${url}/api/images/${a.body.id}`, { method: 'PATCH', headers: { ...admin, ...json }, body: JSON.stringify({ status: 'active' }) });
    assert.equal((await fetch(`${url}${path}?w=100`)).status, 200);
    await fetch(a.body.delete_url, { method: 'POST' });
    assert.equal((await fetch(`${url}${path}?w=100`)).status, 404);
  });

  it("an admin's preview of a pending image does not fill the public cache", async () => {
    const url = await worker({ REVIEW_MODE: 'manual' });
    const a = await put(url, unique(corpus('small-320x211.jpg')));
    const path = new URL(a.body.url).pathname;
    assert.equal((await fetch(`${url}${path}?w=120`, { headers: admin })).status, 200);
    assert.equal((await fetch(`${url}${path}?w=120`)).status, 404);
  });

  it('the variant cap on what R2 keeps holds under a burst of concurrent new sizes', async () => {
    const url = await worker({ MAX_VARIANTS_PER_IMAGE: '3' });
    const { src } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 'v.jpg');
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => fetch(`${url}${src}?w=${100 + i}`).then(async (r) => { await r.arrayBuffer(); return `${r.status} ${r.headers.get('x-variant-cache')}`; })));
    assert.equal(answers.filter((s) => s === '200 miss').length, 3, answers.join(','));
    assert.equal(answers.filter((s) => s === '200 not-stored').length, 9, answers.join(','));
  });
});

describe('security: bodies and tokens', () => {
  it('a wrong header token is refused before the body is read, in the protocol shape', async () => {
    const url = await worker();
    const big = Buffer.alloc(4 * 1024 * 1024, 0xff);
    const lsky = await fetch(`${url}/api/v1/upload`, { method: 'POST', headers: { Authorization: 'Bearer wrong', 'Content-Type': 'multipart/form-data; boundary=x' }, body: big });
    assert.equal(lsky.status, 403);
    assert.equal((await lsky.json()).status, false);
    const smms = await fetch(`${url}/api/v2/upload`, { method: 'POST', headers: { Authorization: 'wrong', 'Content-Type': 'multipart/form-data; boundary=x' }, body: big });
    assert.equal((await smms.json()).success, false);
  });

  it('a chunked body over the limit is cut off with 413, whatever Content-Length says', async () => {
    // An instance of its own: the client is still sending when the Worker answers.
    const url = await worker({ PROBE: 'chunked' });
    let sent = 0;
    const chunk = new Uint8Array(1024 * 1024).fill(0xff);
    const stream = new ReadableStream({ pull(c) { if (sent >= 40) { c.close(); return; } sent++; c.enqueue(chunk); } });
    const r = await fetch(`${url}/upload/big.jpg`, { method: 'PUT', headers: bearer(), body: stream, duplex: 'half' }).catch((e) => e);
    if (r instanceof Error) return; // the Worker may close the connection while the client still sends
    assert.equal(r.status, 413);
    // The answer's body can be cut short when the connection closes under the sender.
    const text = await r.text().catch(() => '');
    if (text.endsWith('}')) assert.equal(JSON.parse(text).error.code, 'body_too_large');
  });

  it('a Windows path as file name keeps only its base name', async () => {
    const url = await worker();
    const img = unique(corpus('small-320x211.jpg'));
    const boundary = 'XyZ';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="C:\\Users\\me\\Desktop\\b.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
      img, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const r = await fetch(`${url}/upload`, { method: 'POST', headers: { ...bearer(), 'Content-Type': `multipart/form-data; boundary=${boundary}` }, body });
    const [{ src }] = await r.json();
    const meta = await (await fetch(`${url}/api/images/${src.split('/').pop().split('.')[0]}`)).json();
    assert.equal(meta.name, 'b.jpg');
  });
});

describe('security: guessing credentials', () => {
  const PASSWORD = 'correct horse battery';
  const basic = (user, password) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
  let n = 0;
  /** A fresh address per test (and per /64 for IPv6), so lockouts do not spill over. */
  const address = (v6 = false) => (v6 ? `2001:db8:${(++n).toString(16)}:7::1` : `198.51.100.${++n}`);

  it('HTTP Basic shares the login lockout: five wrong passwords, then even the right one is refused, /api/admin/session included', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD, INSTANCE: 'guessing' });
    const ip = address();
    const stats = (h) => fetch(`${url}/api/admin/stats`, { headers: { ...h, 'cf-connecting-ip': ip } });
    for (let i = 0; i < 5; i++) assert.equal((await stats(basic('admin', `guess ${i}`))).status, 403, `guess ${i}`);
    const locked = await stats(basic('admin', PASSWORD));
    assert.deepEqual([locked.status, (await errorOf(locked)).code], [429, 'too_many_logins']);
    assert.ok(Number(locked.headers.get('retry-after')) > 60);
    const session = await fetch(`${url}/api/admin/session`, { headers: { ...basic('admin', PASSWORD), 'cf-connecting-ip': ip } });
    assert.equal(session.status, 429, 'the session endpoint says the address is locked, not "logged out"');
    const elsewhere = await fetch(`${url}/api/admin/stats`, { headers: { ...basic('admin', PASSWORD), 'cf-connecting-ip': address() } });
    assert.equal(elsewhere.status, 200, 'other addresses are not locked');
  });

  it('failures on the login form and over Basic, bearer guesses and public routes count together', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD, REVIEW_MODE: 'manual', INSTANCE: 'guessing-review' });
    const ip = address();
    const h = (extra) => ({ ...extra, 'cf-connecting-ip': ip });
    const login = await fetch(`${url}/api/admin/login`, { method: 'POST', headers: h(json), body: JSON.stringify({ user: 'admin', password: 'nope' }) });
    assert.equal(login.status, 401);
    assert.equal((await fetch(`${url}/api/admin/stats`, { headers: h(basic('admin', 'nope')) })).status, 403);
    assert.equal((await fetch(`${url}/api/admin/stats`, { headers: h({ Authorization: 'Bearer not-the-admin-token' }) })).status, 403);
    // A pending image asks "is this the admin?": a door like the others.
    const { src } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 's.jpg');
    assert.equal((await fetch(`${url}${src}`, { headers: h(basic('admin', 'nope')) })).status, 404);
    // That was the fourth failure; the fifth locks the address.
    assert.equal((await fetch(`${url}/api/admin/stats`, { headers: h(basic('x', 'nope')) })).status, 403);
    const right = await fetch(`${url}/api/admin/login`, { method: 'POST', headers: h(json), body: JSON.stringify({ user: 'admin', password: PASSWORD }) });
    assert.equal(right.status, 429);
    // Showing an upload token where the admin is asked for is not a guess.
    const other = address();
    for (let i = 0; i < 6; i++) {
      assert.equal((await fetch(`${url}/api/admin/stats`, { headers: { ...bearer(), 'cf-connecting-ip': other } })).status, 403);
    }
    assert.equal((await fetch(`${url}/api/admin/stats`, { headers: { ...basic('admin', PASSWORD), 'cf-connecting-ip': other } })).status, 200);
  });

  it('upload-token guesses are counted too, before a body is read and after; an IPv6 /64 is one address', async () => {
    const url = await worker({ INSTANCE: 'guessing' });
    const ip = address(true);
    const sibling = ip.replace(/::1$/, '::beef');
    const guess = (i, who) => fetch(`${url}/upload/x.png`, { method: 'PUT', headers: { Authorization: `Bearer guess-${i}`, 'cf-connecting-ip': who }, body: unique(corpus('small-320x211.jpg')) });
    for (let i = 0; i < 3; i++) assert.equal((await guess(i, ip)).status, 403);
    // A form's token is checked after its body is read: the same counter.
    const form = await postFiles(url, '/upload', [['file', unique(corpus('small-320x211.jpg')), 'a.jpg']], { headers: { 'cf-connecting-ip': sibling }, fields: { key: 'guess-form' } });
    assert.equal(form.status, 403);
    assert.equal((await guess(4, sibling)).status, 403);
    const locked = await guess(5, ip);
    assert.deepEqual([locked.status, (await errorOf(locked)).code], [429, 'too_many_logins'], 'another address of the same /64 is the same client');
  });
});

describe('security: review, round two (low)', () => {
  const PASSWORD = 'correct horse battery';

  it('a logout without the CSRF token still ends the session on the server', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD, INSTANCE: 'round-two' });
    const r = await fetch(`${url}/api/admin/login`, { method: 'POST', headers: json, body: JSON.stringify({ user: 'admin', password: PASSWORD }) });
    const cookie = r.headers.get('set-cookie').split(';')[0];
    assert.equal((await fetch(`${url}/api/admin/stats`, { headers: { cookie } })).status, 200);
    assert.equal((await fetch(`${url}/api/admin/logout`, { method: 'POST', headers: { cookie } })).status, 200);
    assert.equal((await fetch(`${url}/api/admin/stats`, { headers: { cookie } })).status, 401, 'a copied cookie no longer works');
  });

  it("the admin's view of a pending image, and its variants, is private and never stored", async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD, REVIEW_MODE: 'manual', INSTANCE: 'round-two-review' });
    const { src } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 's.jpg');
    assert.equal((await fetch(`${url}${src}`)).status, 404, 'pending: not public');
    for (const path of [src, `${src}?w=64`]) {
      const r = await fetch(`${url}${path}`, { headers: admin });
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('cache-control'), 'private, no-store', path);
    }
  });

  it('the ShareX file downloaded with the admin token does not contain it', async () => {
    const url = await worker({ INSTANCE: 'round-two' });
    const withAdmin = await (await fetch(`${url}/api/clients/sharex.sxcu`, { headers: admin })).text();
    assert.ok(!withAdmin.includes(ADMIN_TOKEN), 'the admin token was handed out');
    assert.match(withAdmin, /YOUR_UPLOAD_TOKEN/);
    const withUpload = await (await fetch(`${url}/api/clients/sharex.sxcu?key=${UPLOAD_TOKEN}`)).text();
    assert.match(withUpload, new RegExp(UPLOAD_TOKEN));
  });

  it('the fault switch needs the admin token', async () => {
    const url = await worker({ TEST_FAULTS: 'true', INSTANCE: 'round-two-faults' });
    const anonymous = await fetch(`${url}/__faults`, { method: 'POST', body: JSON.stringify({ rules: [{ service: 'r2', mode: 'fail' }] }) });
    assert.equal(anonymous.status, 403);
    assert.equal((await fetch(`${url}/api/config`)).status, 200);
    const { src } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 's.jpg');
    assert.equal((await fetch(`${url}${src}`)).status, 200, 'no fault was set');
  });
});

describe('security: shared bytes', () => {
  it('two uploads of the same bytes that race past dedupe: deleting one leaves the other whole', async () => {
    const replicate = await startReplicate();
    // A classifier that never answers keeps each upload in review for MODERATION_DEADLINE_S,
    // wide enough for the second to start before the first has stored anything.
    const url = await worker({ REVIEW_MODE: 'auto', REPLICATE_API_TOKEN: 'r8_test', REPLICATE_API_BASE: replicate.base, MODERATION_DEADLINE_S: '2', INSTANCE: 'race' });
    await fetch(`${replicate.base}/__classifier`, { method: 'POST', body: JSON.stringify({ mode: 'glacial' }) });
    const bytes = unique(corpus('small-320x211.jpg'));
    const first = put(url, bytes);
    await new Promise((r) => setTimeout(r, 500));
    const second = put(url, bytes);
    const [a, b] = [await first, await second];
    assert.deepEqual([a.status, b.status], [200, 200]);
    assert.notEqual(a.body.id, b.body.id, 'the race made two records (the premise of this test)');
    // The object names the later upload, which wrote it last: delete that one.
    const gone = await fetch(`${url}/api/admin/images/${b.body.id}`, { method: 'DELETE', headers: admin });
    assert.equal(gone.status, 200);
    assert.equal((await gone.json()).deleted.bytes, false, 'the bytes are still in use');
    const served = await fetch(`${url}/file/${a.body.id}`, { headers: admin });
    assert.equal(served.status, 200);
    assert.deepEqual(Buffer.from(await served.arrayBuffer()), bytes);
    // Self-repair finds nothing to take away.
    await fetch(`${url}/cdn-cgi/handler/scheduled`);
    assert.equal((await fetch(`${url}/file/${a.body.id}`, { headers: admin })).status, 200);
    // The last one out takes the bytes.
    const last = await (await fetch(`${url}/api/admin/images/${a.body.id}`, { method: 'DELETE', headers: admin })).json();
    assert.equal(last.deleted.bytes, true);
  });
});

describe('security: upload by URL counts before it fetches', () => {
  const byUrl = (url, source, ip = '192.0.2.1') => fetch(`${url}/api/1/upload`, { method: 'POST', headers: { ...json, 'X-API-Key': UPLOAD_TOKEN, 'cf-connecting-ip': ip }, body: JSON.stringify({ source }) });

  it('a spent daily quota refuses before fetching, and failed fetches count', async () => {
    const url = await worker({ QUOTA_DAILY_UPLOADS: '2', INSTANCE: 'url-quota' });
    const host = await origin();
    assert.equal((await byUrl(url, `http://${host}/nothing-here-${Date.now()}.jpg`)).status, 400, 'a fetch that brings nothing');
    assert.equal((await byUrl(url, await serveBytes(`/q1-${Date.now()}.jpg`, unique(corpus('small-320x211.jpg'))))).status, 200);
    const source = await serveBytes(`/q2-${Date.now()}.jpg`, unique(corpus('small-320x211.jpg')));
    const before = hits.length;
    const r = await byUrl(url, source);
    assert.equal(r.status, 429);
    assert.match(JSON.stringify(await r.json()), /quota/, 'in Chevereto\'s error shape');
    assert.equal(hits.length, before, 'the source was fetched past a spent quota');
  });

  it('the upload rate limit refuses before fetching', async () => {
    const url = await worker({ INSTANCE: 'url-rate' }, { RATE_LIMIT_UPLOADS: 2 });
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 20_000) await new Promise((r) => setTimeout(r, left + 50)); // one window of the binding
    const ip = '192.0.2.77';
    for (let i = 0; i < 2; i++) {
      assert.equal((await byUrl(url, await serveBytes(`/r${i}-${Date.now()}.jpg`, unique(corpus('small-320x211.jpg'))), ip)).status, 200);
    }
    const source = await serveBytes(`/r3-${Date.now()}.jpg`, unique(corpus('small-320x211.jpg')));
    const before = hits.length;
    const r = await byUrl(url, source, ip);
    assert.equal(r.status, 429);
    assert.equal(hits.length, before, 'the source was fetched past the rate limit');
  });
});
