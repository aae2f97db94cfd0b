// Upload → store → serve through the real Worker in workerd, with the corpus photos.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  worker, corpus, unique, postFiles, bearer, uploadOne, errorOf, ADMIN_TOKEN, UPLOAD_TOKEN,
} from './harness.mjs';

/** IFD0 tag numbers of a JPEG's EXIF block, or [] when it has none. */
function exifTags(jpeg) {
  let at = 2;
  while (at + 4 < jpeg.length && jpeg[at] === 0xff && jpeg[at + 1] !== 0xda) {
    const len = jpeg.readUInt16BE(at + 2);
    if (jpeg[at + 1] === 0xe1 && jpeg.subarray(at + 4, at + 10).toString('latin1') === 'Exif\0\0') {
      const t = jpeg.subarray(at + 10, at + 2 + len);
      const le = t[0] === 0x49;
      const u16 = (o) => (le ? t.readUInt16LE(o) : t.readUInt16BE(o));
      const ifd = le ? t.readUInt32LE(4) : t.readUInt32BE(4);
      return Array.from({ length: u16(ifd) }, (_, i) => u16(ifd + 2 + i * 12));
    }
    at += 2 + len;
  }
  return [];
}

describe('upload and serve', () => {
  for (const name of ['landscape-3840x2400.jpg', 'alpha-3700x2400.png', 'square-4096.webp', 'animated-400x300.gif']) {
    it(`round-trips ${name} byte for byte`, async () => {
      const url = await worker();
      const bytes = unique(corpus(name));
      const { src, id } = await uploadOne(url, bytes, name);
      assert.match(src, new RegExp(`^/file/[A-Za-z0-9]{12}\\.${name.split('.').pop()}$`));
      const r = await fetch(url + src);
      assert.equal(r.status, 200);
      const served = Buffer.from(await r.arrayBuffer());
      if (name.endsWith('.jpg')) {
        // Its XMP block is stripped for privacy; the compressed pixels are untouched.
        const sos = (b) => b.subarray(b.indexOf(Buffer.from([0xff, 0xda])));
        assert.deepEqual(sos(served), sos(bytes));
        assert.ok(served.length < bytes.length);
      } else {
        assert.deepEqual(served, bytes);
      }
      const meta = await (await fetch(`${url}/api/images/${id}`)).json();
      const [w, h] = name.match(/(\d+)x(\d+)/)?.slice(1).map(Number) ?? [4096, 4096];
      assert.equal(meta.width, w);
      assert.equal(meta.height, h);
      assert.equal(meta.name, name);
      assert.equal(meta.animated, name.startsWith('animated'));
    });
  }

  it('round-trips a JPEG without metadata byte for byte', async () => {
    const url = await worker();
    const bytes = unique(corpus('small-320x211.jpg'));
    const { src } = await uploadOne(url, bytes);
    assert.deepEqual(Buffer.from(await (await fetch(url + src)).arrayBuffer()), bytes);
  });

  it('gives absolute URLs with returnFormat=full and several files per request', async () => {
    const url = await worker();
    const r = await postFiles(url, '/upload?returnFormat=full', [
      ['file', unique(corpus('small-320x211.jpg')), 'a.jpg'],
      ['anything', unique(corpus('small-320x211.jpg')), 'b.jpg'],
    ], { headers: bearer() });
    assert.equal(r.status, 200);
    const list = await r.json();
    assert.equal(list.length, 2);
    for (const { src } of list) {
      assert.ok(src.startsWith(`${url}/file/`), src);
      assert.equal((await fetch(src)).status, 200);
    }
  });

  it('removes GPS from the EXIF-rotated photo, keeps its orientation and calls it portrait', async () => {
    const url = await worker();
    const original = unique(corpus('exif-orientation6-gps.jpg'));
    assert.ok(exifTags(original).includes(0x8825), 'the corpus file has a GPS IFD');
    const { src, id } = await uploadOne(url, original, 'phone.jpg');
    const served = Buffer.from(await (await fetch(url + src)).arrayBuffer());
    assert.deepEqual(exifTags(served), [0x0112]);
    assert.ok(served.length < original.length);
    const meta = await (await fetch(`${url}/api/images/${id}`)).json();
    assert.equal(meta.orientation, 'portrait');
    assert.ok(meta.height > meta.width);
  });

  it('keeps EXIF when STRIP_EXIF=false', async () => {
    const url = await worker({ STRIP_EXIF: 'false' });
    const original = unique(corpus('exif-orientation6-gps.jpg'));
    const { src } = await uploadOne(url, original);
    assert.deepEqual(Buffer.from(await (await fetch(url + src)).arrayBuffer()), original);
  });

  it('stores the same bytes once and answers with the same id', async () => {
    const url = await worker();
    const bytes = unique(corpus('small-320x211.jpg'));
    const first = await postFiles(url, '/upload', [['file', bytes, 'one.jpg']], { headers: bearer() });
    const second = await postFiles(url, '/upload', [['file', bytes, 'two.jpg']], { headers: bearer() });
    const [a, b] = [await first.json(), await second.json()];
    assert.deepEqual([a[0].repeat, b[0].repeat], [false, true]);
    assert.deepEqual({ ...b[0], repeat: false }, a[0]);
    assert.match(first.headers.get('x-storage-ops'), /r2-write=1/);
    assert.doesNotMatch(second.headers.get('x-storage-ops'), /write/);
  });

  it('serves with caching headers, 304 and ranges, and never writes on the read path', async () => {
    const url = await worker();
    const bytes = unique(corpus('small-320x211.jpg'));
    const { src } = await uploadOne(url, bytes);
    const r = await fetch(url + src);
    assert.equal(r.headers.get('content-type'), 'image/jpeg');
    assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('accept-ranges'), 'bytes');
    assert.doesNotMatch(r.headers.get('x-storage-ops'), /write/);
    const etag = r.headers.get('etag');
    const lastModified = r.headers.get('last-modified');
    assert.ok(etag && lastModified);

    assert.equal((await fetch(url + src, { headers: { 'If-None-Match': etag } })).status, 304);
    assert.equal((await fetch(url + src, { headers: { 'If-Modified-Since': lastModified } })).status, 304);
    assert.equal((await fetch(url + src, { headers: { 'If-None-Match': '"other"' } })).status, 200);

    const part = await fetch(url + src, { headers: { Range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${bytes.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(100, 200));
    const tail = await fetch(url + src, { headers: { Range: 'bytes=-10' } });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), bytes.subarray(bytes.length - 10));
    const outside = await fetch(url + src, { headers: { Range: `bytes=${bytes.length}-` } });
    assert.equal(outside.status, 416);
    assert.equal(outside.headers.get('content-range'), `bytes */${bytes.length}`);

    const head = await fetch(url + src, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(bytes.length));
    // The extension is cosmetic; the id alone finds the file.
    assert.equal((await fetch(url + src.replace('.jpg', ''))).status, 200);
  });

  it('links: markdown, html, bbcode and a working delete link', async () => {
    const url = await worker();
    const { id } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 'My [cat].jpg');
    const meta = await (await fetch(`${url}/api/images/${id}`)).json();
    assert.equal(meta.links.markdown, `![My cat](${url}/file/${id}.jpg)`);
    assert.equal(meta.links.bbcode, `[img]${url}/file/${id}.jpg[/img]`);
    assert.ok(meta.links.html.startsWith(`<img src="${url}/file/${id}.jpg"`));
    assert.equal(meta.delete_hash, undefined);
    assert.equal(meta.location, undefined);
  });
});

describe('auth', () => {
  const forms = [
    { Authorization: `Bearer ${UPLOAD_TOKEN}` },
    { Authorization: UPLOAD_TOKEN },
    { token: UPLOAD_TOKEN },
    { 'X-API-Key': UPLOAD_TOKEN },
    { Authorization: 'Bearer second-token' },
    { Authorization: `Bearer ${ADMIN_TOKEN}` },
  ];
  for (const headers of forms) {
    it(`accepts ${JSON.stringify(headers)}`, async () => {
      const url = await worker();
      const r = await postFiles(url, '/upload', [['file', unique(corpus('small-320x211.jpg')), 'a.jpg']], { headers });
      assert.equal(r.status, 200, await r.clone().text());
    });
  }
  for (const q of [`key=${UPLOAD_TOKEN}`, `authCode=${UPLOAD_TOKEN}`]) {
    it(`accepts ?${q.split('=')[0]}=`, async () => {
      const url = await worker();
      const r = await postFiles(url, `/upload?${q}`, [['file', unique(corpus('small-320x211.jpg')), 'a.jpg']]);
      assert.equal(r.status, 200);
    });
  }

  it('refuses a missing token with 401 and a wrong one with 403, storing nothing', async () => {
    const url = await worker();
    const file = [['file', unique(corpus('small-320x211.jpg')), 'a.jpg']];
    const none = await postFiles(url, '/upload', file);
    assert.deepEqual(await errorOf(none), { status: 401, code: 'unauthorized', message: (await errorOf(await postFiles(url, '/upload', file))).message });
    const wrong = await postFiles(url, '/upload', file, { headers: bearer('nope') });
    const e = await errorOf(wrong);
    assert.equal(e.status, 403);
    assert.equal(e.code, 'forbidden');
    assert.equal(wrong.headers.get('x-storage-ops'), null);
  });

  it('allows anonymous uploads only when ALLOW_ANONYMOUS_UPLOAD=true', async () => {
    const url = await worker({ ALLOW_ANONYMOUS_UPLOAD: 'true' });
    const r = await postFiles(url, '/upload', [['file', unique(corpus('small-320x211.jpg')), 'a.jpg']]);
    assert.equal(r.status, 200);
  });

  it('hides uploads awaiting review from the public but not from the admin', async () => {
    const url = await worker({ REVIEW_MODE: 'manual' });
    const { src, id } = await uploadOne(url, unique(corpus('small-320x211.jpg')));
    assert.equal((await fetch(url + src)).status, 404);
    assert.equal((await fetch(`${url}/api/images/${id}`)).status, 404);
    const admin = await fetch(`${url}/api/images/${id}`, { headers: bearer(ADMIN_TOKEN) });
    assert.equal((await admin.json()).status, 'pending');
  });
});

describe('bad input gets a clear JSON error and stores nothing', () => {
  const cases = [
    ['a file over the 5 MiB limit', () => [['file', corpus('large-3840x2400.jpg'), 'big.jpg']], 413, 'file_too_large', /5 MiB/],
    ['a text file', () => [['file', Buffer.from('just some text, not a picture'), 'notes.txt']], 415, 'unsupported_type', /JPEG, PNG/],
    ['an SVG', () => [['file', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'x.svg']], 415, 'unsupported_type', /not an image/],
    ['a truncated JPEG', () => [['file', unique(corpus('landscape-3840x2400.jpg')).subarray(0, 500_000), 'cut.jpg']], 422, 'corrupt_image', /cut off/],
    ['a truncated PNG', () => [['file', corpus('alpha-3700x2400.png').subarray(0, 700_000), 'cut.png']], 422, 'corrupt_image', /damaged/],
    ['an empty file', () => [['file', Buffer.alloc(0), 'empty.jpg']], 400, 'empty_file', /empty/],
    ['one bad file in a batch', () => [['file', unique(corpus('small-320x211.jpg')), 'ok.jpg'], ['file', Buffer.from('nope'), 'bad.txt']], 415, 'unsupported_type', /bad\.txt/],
  ];
  for (const [what, files, status, code, message] of cases) {
    it(`${what} → ${status} ${code}`, async () => {
      const url = await worker();
      const r = await postFiles(url, '/upload', files(), { headers: bearer() });
      const e = await errorOf(r);
      assert.equal(e.status, status);
      assert.equal(e.code, code);
      assert.match(e.message, message);
      assert.doesNotMatch(r.headers.get('x-storage-ops') ?? '', /write/);
    });
  }

  it('a malformed multipart body → 400', async () => {
    const url = await worker();
    const r = await fetch(`${url}/upload`, {
      method: 'POST', headers: { ...bearer(), 'Content-Type': 'multipart/form-data; boundary=XyZ' },
      body: '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\nhalf an upl',
    });
    const e = await errorOf(r);
    assert.equal(e.status, 400);
    assert.equal(e.code, 'malformed_multipart');
  });

  it('a form without a file → 400 no_file', async () => {
    const url = await worker();
    const r = await postFiles(url, '/upload', [], { headers: bearer(), fields: { album: 'x' } });
    assert.deepEqual((await errorOf(r)).code, 'no_file');
  });

  it('unknown ids → 404, paths that are not ids → 404, wrong method → 405', async () => {
    const url = await worker();
    assert.deepEqual((await errorOf(await fetch(`${url}/file/AAAAAAAAAAAA.jpg`))).code, 'not_found');
    assert.equal((await fetch(`${url}/file/..%2F..%2Fetc%2Fpasswd`)).status, 404);
    assert.equal((await fetch(`${url}/api/images/nope`)).status, 404);
    assert.equal((await fetch(`${url}/no/such/page`)).status, 404);
    const e = await errorOf(await fetch(`${url}/upload`));
    assert.equal(e.status, 405);
    assert.equal(e.code, 'method_not_allowed');
  });
});

describe('delete links', () => {
  it('GET asks, POST deletes, and the image is gone', async () => {
    const url = await worker();
    const r = await postFiles(url, '/upload', [['file', unique(corpus('small-320x211.jpg')), 'gone.jpg']], { headers: bearer() });
    const [{ src }] = await r.json();
    const id = src.split('/').pop().split('.')[0];
    // The Telegraph shape has no delete link; the metadata API never shows one either.
    const del = `${url}/delete/${id}/`;
    assert.equal((await fetch(`${del}wrong-token`)).status, 403);
    const token = await deleteTokenFor(url, id);
    const confirm = await fetch(del + token);
    assert.equal(confirm.status, 200);
    assert.match(await confirm.text(), /<form method="post"/);
    assert.equal((await fetch(url + src)).status, 200, 'GET alone deletes nothing');
    const done = await fetch(del + token, { method: 'POST', headers: { Accept: 'application/json' } });
    const answer = await done.json();
    assert.equal(answer.deleted, id);
    assert.deepEqual({ record: answer.removed.record, bytes: answer.removed.bytes }, { record: true, bytes: true });
    assert.equal((await fetch(url + src)).status, 404);
    assert.equal((await fetch(del + token, { method: 'POST' })).status, 404);
  });
});

/** Delete tokens are HMAC-SHA256(SECRET_KEY, "delete:" + id), first 18 bytes, base64url. */
async function deleteTokenFor(_url, id) {
  const { createHmac } = await import('node:crypto');
  return createHmac('sha256', 'test-secret-key').update(`delete:${id}`).digest().subarray(0, 18).toString('base64url');
}

describe('repeat uploads and compression keep what the uploader asked for', () => {
  const put = (url, bytes, query, token = UPLOAD_TOKEN) => fetch(`${url}/upload/p.jpg${query}`, { method: 'PUT', headers: bearer(token), body: bytes });

  it('a repeat by the same token says so and takes the new album and tags; another token gets its own image', async () => {
    const url = await worker();
    const bytes = unique(corpus('small-320x211.jpg'));
    const first = await (await put(url, bytes, '?album=drafts&tags=sea')).json();
    assert.equal(first.repeat, false);
    const again = await put(url, bytes, '?album=travel&tags=summer,sea');
    assert.equal(again.status, 200);
    const repeat = await again.json();
    assert.equal(repeat.id, first.id);
    assert.equal(repeat.repeat, true);
    assert.equal(repeat.album, 'travel');
    assert.deepEqual(repeat.tags, ['sea', 'summer']);
    const meta = await (await fetch(`${url}/api/images/${first.id}`)).json();
    assert.equal(meta.album, 'travel');
    assert.deepEqual(meta.tags, ['sea', 'summer']);
    assert.equal((await (await fetch(`${url}/random?album=travel&mode=json`)).json()).id, first.id);
    const other = await (await put(url, bytes, '?album=elsewhere', 'second-token')).json();
    assert.equal(other.repeat, false);
    assert.notEqual(other.id, first.id);
    assert.equal((await (await fetch(`${url}/api/images/${first.id}`)).json()).album, 'travel', 'the first image is untouched');
  });

  it('compress=true takes a file over MAX_UPLOAD_BYTES and stores what fits; without it the 413 says what to do', async () => {
    const url = await worker({ MAX_UPLOAD_BYTES: String(1 << 20) });
    const photo = unique(corpus('landscape-3840x2400.jpg'));
    assert.ok(photo.length > 1 << 20);
    const refused = await put(url, photo, '');
    assert.equal(refused.status, 413);
    assert.match((await errorOf(refused)).message, /compress=true/);
    const r = await put(url, photo, '?compress=true&max_side=1600&quality=75');
    assert.equal(r.status, 200, await r.clone().text());
    const body = await r.json();
    assert.equal(body.compressed, true);
    assert.equal(body.original_bytes, photo.length);
    assert.ok(body.bytes <= 1 << 20 && body.width === 1600 && body.height === 1000, JSON.stringify(body));
    const stored = Buffer.from(await (await fetch(body.url)).arrayBuffer());
    assert.equal(stored.length, body.bytes);
    const form = new FormData();
    form.append('file', new Blob([unique(corpus('landscape-3840x2400.jpg'))]), 'big.jpg');
    form.append('compress', 'true');
    form.append('max_side', '1600');
    const multipart = await fetch(`${url}/upload`, { method: 'POST', headers: bearer(UPLOAD_TOKEN), body: form });
    assert.equal(multipart.status, 200, 'the compress field may come after the file');
  });
});

describe('upload compression by Cloudflare Images', () => {
  it('compresses JPEGs with the Images binding when it is bound (no Worker CPU), and in wasm without it', async () => {
    const photo = corpus('landscape-3840x2400.jpg');
    const sizes = {};
    for (const engine of ['auto', 'wasm']) {
      const url = await worker({ TRANSFORM_ENGINE: engine, INSTANCE: `compress-${engine}` });
      const r = await fetch(`${url}/upload/p.jpg?compress=true&max_side=1600&quality=75`, { method: 'PUT', headers: bearer(UPLOAD_TOKEN), body: unique(photo) });
      const body = await r.json();
      assert.equal(r.status, 200, JSON.stringify(body));
      assert.deepEqual([body.compressed, body.width, body.height], [true, 1600, 1000]);
      const stored = Buffer.from(await (await fetch(body.url)).arrayBuffer());
      assert.equal(stored.length, body.bytes);
      assert.deepEqual([stored[0], stored[1]], [0xff, 0xd8], 'a JPEG');
      sizes[engine] = body.bytes;
    }
    // Two encoders, two results: the default instance did not run the wasm one.
    assert.notEqual(sizes.auto, sizes.wasm);
  });
});
