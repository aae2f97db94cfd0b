// Each client's real request (method, headers, field names, User-Agent), answered by the real
// Worker and parsed the way that client parses it; then the URL is fetched and compared.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { worker, corpus, unique, UPLOAD_TOKEN, ADMIN_TOKEN } from './harness.mjs';
import { origin, serveBytes } from '../fakes/origin.mjs';

const bytesOf = async (url) => Buffer.from(await (await fetch(url)).arrayBuffer());

function form(parts) {
  const f = new FormData();
  for (const [k, v, name] of parts) {
    if (typeof v === 'string') f.append(k, v);
    else f.append(k, new Blob([v]), name);
  }
  return f;
}

describe('PicGo web-uploader (Telegraph shape)', () => {
  it('uploads with field "file" and jsonPath 0.src', async () => {
    const url = await worker();
    const img = unique(corpus('small-320x211.jpg'));
    const r = await fetch(`${url}/upload`, {
      method: 'POST', headers: { 'User-Agent': 'PicGo', Authorization: `Bearer ${UPLOAD_TOKEN}` },
      body: form([['file', img, 'shot.jpg']]),
    });
    assert.equal(r.status, 200);
    const body = await r.json();
    const src = body[0].src; // jsonPath "0.src", prefixed with customPrefix = the host
    assert.deepEqual(await bytesOf(url + src), img);
    assert.match(body[0].delete_url, /\/delete\/[A-Za-z0-9]{12}\//);
  });
});

describe('PicList Lsky Pro V2 uploader', () => {
  const upload = (url, parts, headers = {}) => fetch(`${url}/api/v1/upload`, {
    method: 'POST',
    headers: { 'User-Agent': 'PicList', Accept: 'application/json', Authorization: `Bearer ${UPLOAD_TOKEN}`, ...headers },
    body: form(parts),
  });

  it('uploads, then deletes remotely with data.key', async () => {
    const url = await worker();
    const img = unique(corpus('alpha-3700x2400.png'));
    const r = await upload(url, [['file', img, 'alpha.png'], ['ssl', 'true'], ['permission', '0'], ['album_id', 'wallpapers']]);
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.status, true); // PicList: body.status === true
    const imgUrl = body.data.links.url;
    assert.deepEqual(await bytesOf(imgUrl), img);
    assert.equal(body.data.origin_name, 'alpha.png');
    assert.equal(body.data.mimetype, 'image/png');
    assert.match(body.data.md5, /^[0-9a-f]{32}$/);
    assert.match(body.data.sha1, /^[0-9a-f]{40}$/);
    for (const k of ['html', 'bbcode', 'markdown', 'markdown_with_link', 'thumbnail_url', 'delete_url']) assert.ok(body.data.links[k], k);
    const id = imgUrl.split('/').pop().split('.')[0];
    assert.equal((await (await fetch(`${url}/api/images/${id}`)).json()).album, 'wallpapers');

    const del = await fetch(`${url}/api/v1/images/${body.data.key}`, {
      method: 'DELETE', headers: { 'User-Agent': 'PicList', Accept: 'application/json', Authorization: `Bearer ${UPLOAD_TOKEN}` },
    });
    assert.equal(del.status, 200);
    assert.equal((await del.json()).status, true);
    assert.equal((await fetch(imgUrl)).status, 404);
  });

  it('refuses a guessed key', async () => {
    const url = await worker();
    const r = await upload(url, [['file', unique(corpus('small-320x211.jpg')), 'a.jpg']]);
    const { data } = await r.json();
    const id = data.key.split('.')[0];
    const del = await fetch(`${url}/api/v1/images/${id}.forged`, { method: 'DELETE', headers: { Authorization: `Bearer ${UPLOAD_TOKEN}` } });
    assert.equal(del.status, 403);
    assert.deepEqual(Object.keys(await del.json()).sort(), ['data', 'message', 'status']);
    assert.equal((await fetch(data.links.url)).status, 200);
  });
});

describe('PicGo / PicList SM.MS uploader with backup domain', () => {
  it('uploads with field smfile and raw Authorization, deletes by hash', async () => {
    const url = await worker();
    const img = unique(corpus('square-4096.webp'));
    const r = await fetch(`${url}/api/v2/upload`, {
      method: 'POST', headers: { 'User-Agent': 'PicGo', Authorization: UPLOAD_TOKEN },
      body: form([['smfile', img, 'square.webp'], ['ssl', 'true']]),
    });
    const body = JSON.parse(await r.text()); // PicGo parses the text itself
    // PicGo 3.x accepts `code === 200 || message === 'success'`; PicList and older PicGo `code === 'success'`.
    assert.ok(body.code === 200 || body.message === 'success', 'PicGo 3 accepts it');
    assert.equal(body.code, 'success');
    assert.deepEqual(await bytesOf(body.data.url), img);
    assert.equal(body.data.width, 4096);
    // A link preview (a bare GET) only gets the question; PicList's delete (GET with its token) deletes.
    const preview = await fetch(body.data.delete);
    assert.equal(preview.status, 200);
    assert.match(await preview.text(), /Delete image\?/);
    assert.equal((await fetch(body.data.url)).status, 200, 'a bare GET deletes nothing');
    const del = await fetch(`${body.data.delete}?hash=x&format=json`, { headers: { Authorization: UPLOAD_TOKEN } });
    assert.equal((await del.json()).success, true);
    assert.equal((await fetch(body.data.url)).status, 404);
  });
});

describe('ShareX Chevereto uploader and ImgBB API', () => {
  it('ShareX: source file + key + format=json → image.url and image.thumb.url', async () => {
    const url = await worker();
    const img = unique(corpus('portrait-1600x2400.jpg'));
    const r = await fetch(`${url}/api/1/upload`, {
      method: 'POST', headers: { 'User-Agent': 'ShareX/16.1.0' },
      body: form([['key', UPLOAD_TOKEN], ['format', 'json'], ['source', img, 'portrait.jpg']]),
    });
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.status_code, 200);
    assert.equal(body.image.width, 1600);
    assert.equal(body.image.height, 2400);
    assert.equal((await fetch(body.image.url)).status, 200);
    assert.equal((await fetch(body.image.thumb.url)).status, 200);
    assert.match(body.image.delete_url, /\/delete\//);
  });

  it('ImgBB: base64 image, key in the query → data.url', async () => {
    const url = await worker();
    const img = unique(corpus('small-320x211.jpg'));
    const r = await fetch(`${url}/1/upload?key=${UPLOAD_TOKEN}`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ image: img.toString('base64'), name: 'x' }),
    });
    const body = await r.json();
    assert.equal(body.success, true);
    assert.deepEqual(await bytesOf(body.data.url), img);
  });

  it('Chevereto: source as a URL is fetched; format=txt answers the URL', async () => {
    const url = await worker();
    const img = unique(corpus('small-320x211.jpg'));
    const source = await serveBytes(`/chevereto-${Date.now()}.jpg`, img);
    const r = await fetch(`${url}/api/1/upload?format=txt`, {
      method: 'POST', headers: { 'X-API-Key': UPLOAD_TOKEN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ source }),
    });
    assert.equal(r.status, 200);
    assert.deepEqual(await bytesOf(await r.text()), img);
  });

  it('Chevereto: source as base64 in a multipart text field', async () => {
    const url = await worker();
    const img = unique(corpus('small-320x211.jpg'));
    const r = await fetch(`${url}/api/1/upload`, { method: 'POST', headers: { 'X-API-Key': UPLOAD_TOKEN }, body: form([['source', img.toString('base64')]]) });
    assert.equal(r.status, 200);
    assert.deepEqual(await bytesOf((await r.json()).image.url), img);
  });

  it('a URL that is not there → 400 with the Chevereto error shape, and nothing of the origin\'s answer', async () => {
    const url = await worker();
    const host = await origin();
    const r = await fetch(`${url}/api/1/upload`, {
      method: 'POST', headers: { 'X-API-Key': UPLOAD_TOKEN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: `http://${host}/missing.jpg` }),
    });
    const body = await r.json();
    assert.equal(r.status, 400);
    assert.equal(body.status_code, 400);
    assert.match(body.error.message, /answered HTTP 404/);
    assert.doesNotMatch(JSON.stringify(body), /internal detail/);
  });
});

describe('PicGo/PicList server protocol (Obsidian Image auto upload, PicList piclist uploader)', () => {
  it('PicList piclist uploader: /upload?configName=&key= with field file', async () => {
    const url = await worker();
    const img = unique(corpus('small-320x211.jpg'));
    const r = await fetch(`${url}/upload?configName=Default&key=${UPLOAD_TOKEN}`, { method: 'POST', body: form([['file', img, 'a.jpg']]) });
    const body = await r.json();
    assert.ok(r.status === 200 && body.success);
    assert.deepEqual(await bytesOf(body.result[0]), img);
    assert.equal(body.fullResult[0].imgUrl, body.result[0]);
  });

  it('Obsidian remote mode: field list with two files, then POST /delete with fullResult', async () => {
    const url = await worker();
    const a = unique(corpus('small-320x211.jpg'));
    const b = unique(corpus('alpha-3700x2400.png'));
    const r = await fetch(`${url}/upload?key=${UPLOAD_TOKEN}`, { method: 'POST', body: form([['list', a, '1700000000.jpg'], ['list', b, '1700000001.png']]) });
    assert.equal(r.status, 200);
    const data = await r.json();
    assert.equal(data.success, true);
    const result = typeof data.result === 'string' ? [data.result] : data.result;
    assert.deepEqual(await bytesOf(result[0]), a);
    assert.deepEqual(await bytesOf(result[1]), b);
    const del = await fetch(`${url}/delete?key=${UPLOAD_TOKEN}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ list: data.fullResult }) });
    assert.deepEqual(await del.json(), { success: true });
    for (const u of result) assert.equal((await fetch(u)).status, 404);
  });

  it('Obsidian local mode (a JSON list of paths) gets HTTP 200 success:false with advice', async () => {
    const url = await worker();
    const r = await fetch(`${url}/upload`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ list: ['/Users/me/vault/a.png'] }) });
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.success, false);
    assert.match(body.msg || body.message, /remote server mode/);
  });

  it('heartbeat', async () => {
    const url = await worker();
    assert.deepEqual(await (await fetch(`${url}/heartbeat`, { method: 'POST' })).json(), { success: true, result: 'alive' });
  });
});

describe('raw body (curl, Flameshot, Typora scripts)', () => {
  it('PUT /upload/<name> with ?format=txt answers the URL', async () => {
    const url = await worker();
    const img = unique(corpus('alpha-3700x2400.png'));
    const r = await fetch(`${url}/upload/screen%20shot.png?format=txt`, { method: 'PUT', headers: { Authorization: `Bearer ${UPLOAD_TOKEN}` }, body: img });
    assert.equal(r.status, 200);
    const link = await r.text();
    assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/file\/[A-Za-z0-9]{12}\.png$/);
    assert.deepEqual(await bytesOf(link), img);
    const id = link.split('/').pop().split('.')[0];
    assert.equal((await (await fetch(`${url}/api/images/${id}`)).json()).name, 'screen shot.png');
  });

  it('POST /upload with Content-Type image/jpeg and the bytes as body', async () => {
    const url = await worker();
    const img = unique(corpus('small-320x211.jpg'));
    const r = await fetch(`${url}/upload?format=txt`, { method: 'POST', headers: { Authorization: `Bearer ${UPLOAD_TOKEN}`, 'Content-Type': 'image/jpeg' }, body: img });
    assert.deepEqual(await bytesOf(await r.text()), img);
  });

  it('PUT /upload/<name> without format answers JSON links', async () => {
    const url = await worker();
    const r = await fetch(`${url}/upload/a.jpg`, { method: 'PUT', headers: { Authorization: `Bearer ${UPLOAD_TOKEN}` }, body: unique(corpus('small-320x211.jpg')) });
    const body = await r.json();
    assert.ok(body.url && body.markdown && body.delete_url);
  });
});

describe('ShareX custom uploader file', () => {
  it('is filled with this host and the token, and works as ShareX would use it', async () => {
    const url = await worker();
    const r = await fetch(`${url}/api/clients/sharex.sxcu?key=${UPLOAD_TOKEN}`);
    assert.match(r.headers.get('content-disposition'), /attachment; filename="imgbed-127\.0\.0\.1\.sxcu"/);
    const sxcu = await r.json();
    assert.equal(sxcu.RequestURL, `${url}/api/v1/upload`);
    assert.equal(sxcu.Headers.Authorization, `Bearer ${UPLOAD_TOKEN}`);
    assert.equal(sxcu.URL, '{json:data.links.url}');
    const img = unique(corpus('small-320x211.jpg'));
    const up = await (await fetch(sxcu.RequestURL, { method: sxcu.RequestMethod, headers: { ...sxcu.Headers, 'User-Agent': 'ShareX/16.1.0' }, body: form([[sxcu.FileFormName, img, 'x.jpg']]) })).json();
    assert.deepEqual(await bytesOf(up.data.links.url), img);
    const page = await fetch(up.data.links.delete_url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Delete/);
    const anonymous = await (await fetch(`${url}/api/clients/sharex.sxcu`)).json();
    assert.equal(anonymous.Headers.Authorization, 'Bearer YOUR_UPLOAD_TOKEN');
    const wrong = await (await fetch(`${url}/api/clients/sharex.sxcu?key=nope`)).json();
    assert.equal(wrong.Headers.Authorization, 'Bearer YOUR_UPLOAD_TOKEN');
  });
});

describe('bad input answers in each client\'s own error shape', () => {
  const shapes = {
    lsky: { path: '/api/v1/upload', field: 'file', auth: (t) => ({ Authorization: `Bearer ${t}` }), message: (b) => (b.status === false ? b.message : undefined) },
    smms: { path: '/api/v2/upload', field: 'smfile', auth: (t) => ({ Authorization: t }), message: (b) => (b.success === false ? b.message : undefined) },
    chevereto: { path: '/api/1/upload', field: 'source', auth: (t) => ({ 'X-API-Key': t }), message: (b) => b.error?.message },
    picgo: { path: `/upload?configName=Default`, field: 'file', auth: (t) => ({ Authorization: `Bearer ${t}` }), message: (b) => (b.success === false ? b.message : undefined) },
    telegraph: { path: '/upload', field: 'file', auth: (t) => ({ Authorization: `Bearer ${t}` }), message: (b) => b.error?.message },
  };
  const cases = [
    ['missing file', (s) => [['album', 'x']], UPLOAD_TOKEN, 400, /no file/],
    ['wrong token', (s) => [[s.field, unique(corpus('small-320x211.jpg')), 'a.jpg']], 'wrong', 403, /not accepted/],
    ['oversized', (s) => [[s.field, corpus('large-3840x2400.jpg'), 'big.jpg']], UPLOAD_TOKEN, 413, /5 MiB/],
    ['not an image', (s) => [[s.field, Buffer.from('%PDF-1.7 not an image'), 'doc.pdf']], UPLOAD_TOKEN, 415, /not an image/],
  ];
  for (const [name, shape] of Object.entries(shapes)) {
    for (const [what, parts, token, status, message] of cases) {
      it(`${name}: ${what} → ${status}`, async () => {
        const url = await worker();
        const r = await fetch(url + shape.path, { method: 'POST', headers: shape.auth(token), body: form(parts(shape)) });
        assert.equal(r.status, status);
        const text = shape.message(await r.json());
        assert.match(text ?? '(no message in the client\'s shape)', message);
        assert.doesNotMatch(r.headers.get('x-storage-ops') ?? '', /write/);
      });
    }
  }

  it('admin token deletes by bare id on the Lsky API; an upload token cannot', async () => {
    const url = await worker();
    const up = await (await fetch(`${url}/api/v1/upload`, { method: 'POST', headers: { Authorization: `Bearer ${UPLOAD_TOKEN}` }, body: form([['file', unique(corpus('small-320x211.jpg')), 'a.jpg']]) })).json();
    const id = up.data.key.split('.')[0];
    const denied = await fetch(`${url}/api/v1/images/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${UPLOAD_TOKEN}` } });
    assert.equal(denied.status, 403);
    const ok = await fetch(`${url}/api/v1/images/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal((await ok.json()).status, true);
  });
});
