// On-the-fly transforms through the real Worker: sizes, formats, orientation, negotiation,
// limits, the variant cache and the abuse guard.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { worker, corpus, unique, uploadOne, errorOf, probe, makePng, u16, ADMIN_TOKEN, UPLOAD_TOKEN } from './harness.mjs';

/** The wasm pipeline, whatever wrangler.toml binds: these tests pin its own behaviour. */
const WASM = { TRANSFORM_ENGINE: 'wasm' };

const get = async (url, headers = {}) => {
  const r = await fetch(url, { headers });
  return { r, body: Buffer.from(await r.arrayBuffer()) };
};

describe('transforms', () => {
  it('gives the exact size for every fit mode', async () => {
    const url = await worker(WASM);
    const { src } = await uploadOne(url, unique(corpus('landscape-3840x2400.jpg')), 'l.jpg');
    for (const [q, w, h] of [
      ['w=800', 800, 500], ['h=300', 480, 300], ['w=400&h=400&fit=scale-down', 400, 250], ['w=400&h=400&fit=contain', 400, 250],
      ['w=400&h=400&fit=cover', 400, 400], ['w=400&h=400&fit=crop', 400, 400], ['w=400&h=400&fit=pad', 400, 400],
      ['w=400&h=100&fit=fill', 400, 100], ['w=5000&fit=scale-down', 3840, 2400], ['w=300&h=300&fit=cover&gravity=auto', 300, 300],
      ['w=200&dpr=2', 400, 250], ['w=200&rotate=90', 200, 320], ['w=320&flip=hv&gray', 320, 200], ['w=320&blur=20&sharpen=3', 320, 200],
    ]) {
      const { r, body } = await get(`${url}${src}?${q}`);
      assert.equal(r.status, 200, `${q}: ${body}`);
      const p = probe(body);
      assert.deepEqual([p.width, p.height], [w, h], q);
    }
  });

  it('encodes every output format, lossy WebP included, with no EXIF left', async () => {
    const url = await worker(WASM);
    const { src } = await uploadOne(url, unique(corpus('exif-orientation6-gps.jpg')), 'phone.jpg');
    for (const f of ['jpeg', 'png', 'webp', 'gif']) {
      const { r, body } = await get(`${url}${src}?w=300&f=${f}`);
      assert.equal(r.headers.get('content-type'), `image/${f}`);
      const p = probe(body);
      assert.equal(p.format, f);
      // The photo is stored landscape with EXIF Orientation=6: the output stands upright.
      assert.ok(p.height > p.width, `${f} is ${p.width}x${p.height}`);
      assert.equal(p.width, 300);
      if (f === 'webp') assert.equal(p.lossy, true);
      assert.equal(body.includes(Buffer.from('Exif')), false, `${f} output carries EXIF`);
    }
    const { body } = await get(`${url}${src}?w=300&f=jpeg`);
    assert.equal(probe(body).progressive, true);
  });

  it('negotiates f=auto from Accept and says Vary: Accept', async () => {
    const url = await worker(WASM);
    const { src } = await uploadOne(url, unique(corpus('landscape-3840x2400.jpg')), 'l.jpg');
    const chrome = await get(`${url}${src}?w=320&f=auto`, { Accept: 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8' });
    assert.equal(probe(chrome.body).format, 'webp');
    assert.equal(chrome.r.headers.get('vary'), 'Accept');
    const old = await get(`${url}${src}?w=320&f=auto`, { Accept: 'image/png,image/*' });
    assert.equal(probe(old.body).format, 'jpeg');
    const png = await uploadOne(url, unique(corpus('alpha-3700x2400.png')), 'a.png');
    const alpha = await get(`${url}${png.src}?w=320&f=auto`, { Accept: 'image/*' });
    assert.equal(probe(alpha.body).format, 'png', 'transparency survives where WebP is not accepted');
  });

  it('stores a variant once and serves it from storage after (X-Variant-Cache: hit)', async () => {
    const url = await worker(WASM);
    const { src } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 's.jpg');
    const first = await get(`${url}${src}?width=100&quality=70`);
    assert.equal(first.r.headers.get('x-variant-cache'), 'miss');
    assert.match(first.r.headers.get('x-storage-ops'), /r2-write=1/);
    const second = await get(`${url}${src}?q=70&w=100`);
    assert.equal(second.r.headers.get('x-variant-cache'), 'hit', 'the same transform, spelled differently');
    assert.doesNotMatch(second.r.headers.get('x-storage-ops'), /write|list/);
    assert.deepEqual(second.body, first.body);
    assert.match(second.r.headers.get('cache-control'), /immutable/);
    // A URL read from R2 once comes from the edge cache after, before any storage is touched
    // (a variant just made is not put there: its next read from R2 does that).
    const third = await get(`${url}${src}?q=70&w=100`);
    assert.equal(third.r.headers.get('x-variant-cache'), 'edge');
    assert.deepEqual(third.body, first.body);
    const etag = second.r.headers.get('etag');
    assert.equal((await fetch(`${url}${src}?q=70&w=100`, { headers: { 'If-None-Match': etag } })).status, 304);
  });

  it('transforms the 24 MP photo within 64 MB of wasm memory', async () => {
    // A fresh isolate of its own, so the figure is this transform's peak.
    const url = await worker({ ...WASM, PROBE: '24mp' });
    const { src } = await uploadOne(url, unique(corpus('phone-24MP-6000x4000.jpg')), 'p.jpg');
    const { r, body } = await get(`${url}${src}?w=800&f=webp`, { Authorization: `Bearer ${ADMIN_TOKEN}` });
    assert.equal(r.status, 200);
    assert.deepEqual([probe(body).width, probe(body).height], [800, 533]);
    const mem = Number(r.headers.get('x-wasm-memory'));
    assert.ok(mem > 0 && mem <= 64 * 1024 * 1024, `wasm memory ${mem}`);
    // Without a size, a 24 MP JPEG is downscaled on load instead of filling memory.
    const whole = await get(`${url}${src}?f=jpeg&q=60`);
    assert.equal(whole.r.headers.get('x-variant-cache'), 'miss', 'a transform, not the original');
    assert.equal(whole.r.status, 200);
    assert.ok(probe(whole.body).width <= 3000);
  });

  it('refuses decompression bombs cleanly', async () => {
    const url = await worker(WASM);
    // A 20000×20000 1-bit PNG: 50 KB on disk, 1.6 GB as RGBA. Over 12,000 px a side: refused
    // at upload, nothing stored.
    const png = (w, h) => makePng(w, h, 1, 0, deflateSync(Buffer.alloc((1 + w / 8) * h), { level: 9 }));
    const big = await fetch(`${url}/upload/bomb.png`, { method: 'PUT', headers: { Authorization: `Bearer ${UPLOAD_TOKEN}` }, body: png(20000, 20000) });
    const e = await errorOf(big);
    assert.deepEqual([e.status, e.code], [422, 'too_many_pixels']);
    assert.match(e.message, /12000 pixels a side/);
    // A GIF whose canvas claims 60000×60000: likewise.
    const gif = Buffer.concat([Buffer.from('GIF89a'), u16(60000), u16(60000), Buffer.from([0, 0, 0]),
      Buffer.from([0x2c]), u16(0), u16(0), u16(1), u16(1), Buffer.from([0, 2, 2, 0x4c, 0x01, 0, 0x3b])]);
    const g = await fetch(`${url}/upload/bomb.gif`, { method: 'PUT', headers: { Authorization: `Bearer ${UPLOAD_TOKEN}` }, body: gif });
    assert.equal((await errorOf(g)).code, 'too_many_pixels');
    // 11000×9000 is accepted, but decoding it would take 400 MB: its transforms serve the original.
    const ok = await uploadOne(url, png(11000, 9000), 'wide.png');
    const t = await fetch(`${url}${ok.src}?w=100`, { redirect: 'manual' });
    assert.equal(t.status, 307);
    assert.equal(t.headers.get('location'), ok.src);
    assert.match(t.headers.get('x-transform'), /skipped/);
    // The server is fine afterwards.
    assert.equal((await fetch(`${url}/api/config`)).status, 200);
  });

  it('bad parameters → 400 naming the parameter', async () => {
    const url = await worker(WASM);
    const { src } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 's.jpg');
    for (const [q, name] of [['w=0', 'w='], ['width=abc', 'width='], ['h=99999', 'h='], ['fit=stretch', 'fit='], ['q=0', 'q='],
      ['f=tiff', 'f='], ['dpr=5', 'dpr='], ['blur=999', 'blur='], ['rotate=45', 'rotate='], ['flip=x', 'flip='],
      ['gravity=north', 'gravity='], ['background=nope', 'background='], ['zoom=2', 'zoom'], ['f=avif', 'avif']]) {
      const e = await errorOf(await fetch(`${url}${src}?${q}`));
      assert.equal(e.status, 400, q);
      assert.equal(e.code, 'bad_parameter', q);
      assert.ok(e.message.includes(name), `${q}: ${e.message}`);
    }
  });

  it('passes animated GIFs through untransformed', async () => {
    const url = await worker(WASM);
    const { src } = await uploadOne(url, unique(corpus('animated-400x300.gif')), 'a.gif');
    const r = await fetch(`${url}${src}?w=100`, { redirect: 'manual' });
    assert.equal(r.status, 307);
    assert.equal(r.headers.get('location'), src);
  });

  it('applies transforms to random images', async () => {
    const url = await worker(WASM);
    const album = `tr-${Date.now()}`;
    await uploadOne(url, unique(corpus('portrait-1600x2400.jpg')), 'p.jpg', `?album=${album}`);
    const { r, body } = await get(`${url}/random?album=${album}&w=160&f=webp`);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.deepEqual([probe(body).format, probe(body).width, probe(body).height], ['webp', 160, 240]);
  });
});

describe('transform engines', () => {
  // Cloudflare Images runs on Sharp under wrangler dev: it honours sizes, rotation and formats
  // (blur, fit and quality only in production), so these tests check what both engines must
  // agree on: the exact size and the format of every answer.
  const grammar = [
    ['w=800', 800, 500], ['h=300', 480, 300], ['w=400&h=400&fit=scale-down', 400, 250], ['w=400&h=400&fit=contain', 400, 250],
    ['w=400&h=400&fit=cover', 400, 400], ['w=400&h=400&fit=crop', 400, 400], ['w=400&h=400&fit=pad&bg=000', 400, 400],
    ['w=400&h=100&fit=fill', 400, 100], ['w=5000&fit=scale-down', 3840, 2400], ['w=300&h=300&fit=cover&gravity=top', 300, 300],
    ['w=200&dpr=2', 400, 250], ['w=200&rotate=90', 200, 320], ['w=320&flip=hv&gray', 320, 200], ['w=320&blur=20&sharpen=3', 320, 200],
  ];
  for (const [engine, formats] of [['images', ['jpeg', 'png', 'webp', 'avif']], ['wasm', ['jpeg', 'png', 'webp', 'gif']]]) {
    it(`${engine}: every size and format of the grammar, and says which engine made it`, async () => {
      const url = await worker({ TRANSFORM_ENGINE: engine });
      const { src } = await uploadOne(url, unique(corpus('landscape-3840x2400.jpg')), 'l.jpg');
      for (const [i, [q, w, h]] of grammar.entries()) {
        const f = formats[i % formats.length];
        const { r, body } = await get(`${url}${src}?${q}&f=${f}`);
        assert.equal(r.status, 200, `${q}: ${body}`);
        assert.equal(r.headers.get('x-transform-engine'), f === 'gif' ? 'wasm' : engine, q);
        assert.equal(r.headers.get('content-type'), `image/${f}`, q);
        const p = probe(body);
        assert.deepEqual([p.format, p.width, p.height], [f, w, h], `${q}&f=${f}`);
      }
      // Made once: the stored variant says who made it, and is the same bytes.
      const first = await get(`${url}${src}?w=100&f=webp`);
      const again = await get(`${url}${src}?f=webp&w=100`);
      assert.deepEqual([again.r.headers.get('x-variant-cache'), again.r.headers.get('x-transform-engine')], ['hit', engine]);
      assert.deepEqual(again.body, first.body);
    });
  }

  it('images: AVIF out, AVIF in; GIF and BMP go to the wasm pipeline; the wasm engine refuses AVIF output', async () => {
    const url = await worker({ TRANSFORM_ENGINE: 'images' });
    const { src } = await uploadOne(url, unique(corpus('portrait-1600x2400.jpg')), 'p.jpg');
    const avif = await get(`${url}${src}?w=300&f=avif`);
    assert.deepEqual([avif.r.status, probe(avif.body).format, probe(avif.body).width, probe(avif.body).height], [200, 'avif', 300, 450]);
    // An AVIF upload can be transformed too (the wasm pipeline serves AVIF sources as they are).
    const stored = await fetch(`${url}/upload/p.avif`, { method: 'PUT', headers: { Authorization: `Bearer ${UPLOAD_TOKEN}` }, body: avif.body });
    const { url: avifUrl } = await stored.json();
    const fromAvif = await get(`${avifUrl}?w=100&f=png`);
    assert.deepEqual([fromAvif.r.status, probe(fromAvif.body).format, probe(fromAvif.body).width], [200, 'png', 100]);
    const wasm = await worker(WASM);
    const again = await uploadOne(wasm, unique(corpus('portrait-1600x2400.jpg')), 'p.jpg');
    const e = await errorOf(await fetch(`${wasm}${again.src}?w=300&f=avif`));
    assert.deepEqual([e.status, e.code], [400, 'bad_parameter']);
    assert.match(e.message, /Cloudflare Images/);
    const onWasm = await (await fetch(`${wasm}/upload/p.avif`, { method: 'PUT', headers: { Authorization: `Bearer ${UPLOAD_TOKEN}` }, body: avif.body })).json();
    const skipped = await fetch(`${onWasm.url}?w=100`, { redirect: 'manual' });
    assert.deepEqual([skipped.status, skipped.headers.get('location')], [307, new URL(onWasm.url).pathname], 'the wasm engine serves AVIF as it is');
  });
});

describe('abuse guard', () => {
  it('signed URLs: unsigned and tampered are refused, signed works, existing variants stay open', async () => {
    const key = 'sign-me';
    const url = await worker({ TRANSFORM_SIGNING_KEY: key });
    const { src, id } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 's.jpg');
    const sign = (q) => createHmac('sha256', key).update(`${id}?${q.split('&').sort().join('&')}`).digest('base64url');
    assert.equal((await fetch(`${url}${src}?w=100`)).status, 403);
    assert.equal((await fetch(`${url}${src}?w=256`)).status, 200, 'thumbnails need no signature');
    const good = `w=100&f=webp`;
    assert.equal((await fetch(`${url}${src}?${good}&sig=${sign(good)}`)).status, 200);
    const tampered = await fetch(`${url}${src}?w=101&f=webp&sig=${sign(good)}`);
    assert.equal(tampered.status, 403);
    assert.match((await tampered.json()).error.message, /signature/);
    // The variant now exists: anyone may fetch it, signed or not.
    const again = await fetch(`${url}${src}?f=webp&w=100`);
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('x-variant-cache'), 'hit');
    // The admin may make any variant; the original is always open.
    assert.equal((await fetch(`${url}${src}?w=50`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).status, 200);
    assert.equal((await fetch(url + src)).status, 200);
  });

  it('allowed widths, and the per-image cap on what is kept', async () => {
    const url = await worker({ TRANSFORM_WIDTHS: '100,200,300', MAX_VARIANTS_PER_IMAGE: '3' });
    const { src } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 's.jpg');
    assert.equal((await fetch(`${url}${src}?w=150`)).status, 403);
    assert.equal((await fetch(`${url}${src}?w=256`)).status, 200, 'the thumbnail every upload answer links to always works');
    assert.equal((await fetch(`${url}${src}?w=100`)).status, 200);
    assert.equal((await fetch(`${url}${src}?w=200`)).status, 200);
    const capped = await fetch(`${url}${src}?w=300`);
    assert.deepEqual([capped.status, capped.headers.get('x-variant-cache')], [200, 'not-stored'], 'past the cap a size is made but not kept');
    assert.equal(probe(Buffer.from(await capped.arrayBuffer())).width, 300);
    assert.equal((await fetch(`${url}${src}?w=100`)).headers.get('x-variant-cache'), 'hit', 'existing variants are still served');
    const id = src.split('/').pop().split('.')[0];
    const gone = await (await fetch(`${url}/api/admin/images/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
    assert.equal(gone.deleted.variants, 3, 'R2 kept three');
  });

  it("strangers filling an image's variant cap take no size away from anyone", async () => {
    const url = await worker({ MAX_VARIANTS_PER_IMAGE: '2' });
    const { src } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 's.jpg');
    assert.equal((await fetch(`${url}${src}?w=10`)).status, 200);
    assert.equal((await fetch(`${url}${src}?w=11`)).status, 200);
    const twelve = await fetch(`${url}${src}?w=12`);
    assert.deepEqual([twelve.status, twelve.headers.get('x-variant-cache')], [200, 'not-stored'], 'a new size past the cap is still served');
    const thumb = await fetch(`${url}${src}?w=256`);
    assert.deepEqual([thumb.status, thumb.headers.get('x-variant-cache')], [200, 'miss'], 'the thumbnail_url of the upload answer is kept');
    assert.equal(probe(Buffer.from(await thumb.arrayBuffer())).width, 256);
  });
});

describe('upload compression', () => {
  it('compress=true re-encodes a JPEG smaller and reports before and after; max_side caps it', async () => {
    const url = await worker();
    const original = unique(corpus('landscape-3840x2400.jpg'));
    const r = await fetch(`${url}/upload/photo.jpg?compress=true&quality=75&max_side=1920`, { method: 'PUT', headers: { Authorization: 'Bearer test-upload-token' }, body: original });
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.equal(body.original_bytes, original.length);
    assert.ok(body.bytes < original.length / 2, `${body.bytes} of ${original.length}`);
    assert.deepEqual([body.width, body.height], [1920, 1200]);
    const served = Buffer.from(await (await fetch(body.url)).arrayBuffer());
    assert.deepEqual([probe(served).width, probe(served).height], [1920, 1200]);
  });

  it('keeps the original when compression would not make it smaller', async () => {
    // The wasm encoder at quality 100 cannot beat this JPEG (Images' encoder can, and then its
    // smaller result is kept, as the rule says).
    const url = await worker(WASM);
    const original = unique(corpus('small-320x211.jpg'));
    const r = await fetch(`${url}/upload/s.jpg?compress=true&quality=100`, { method: 'PUT', headers: { Authorization: 'Bearer test-upload-token' }, body: original });
    const body = await r.json();
    assert.equal(body.bytes, original.length);
    assert.deepEqual(Buffer.from(await (await fetch(body.url)).arrayBuffer()), original);
  });

  it('bad compression parameters → 400 and nothing stored', async () => {
    const url = await worker();
    for (const q of ['compress=maybe', 'quality=0', 'max_side=5']) {
      const r = await fetch(`${url}/upload/s.jpg?${q}`, { method: 'PUT', headers: { Authorization: 'Bearer test-upload-token' }, body: unique(corpus('small-320x211.jpg')) });
      const e = await errorOf(r);
      assert.equal(e.status, 400, q);
      assert.ok(e.message.includes(q.split('=')[0]), e.message);
      assert.doesNotMatch(r.headers.get('x-storage-ops') ?? '', /write/);
    }
  });
});
