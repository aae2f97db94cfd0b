// Rate limits per client address through the real rate-limiting binding of `wrangler dev`:
// uploads (in every client protocol's error shape), new variants, new placeholders and logins.
// Over the limit → 429 with Retry-After, nothing stored; the admin is never limited.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { worker, corpus, unique, postFiles, bearer, errorOf, ADMIN_TOKEN } from './harness.mjs';
import { startReplicate } from '../fakes/replicate.mjs';

const LIMITS = { RATE_LIMIT_UPLOADS: 3, RATE_LIMIT_VARIANTS: 2, RATE_LIMIT_PLACEHOLDERS: 2, RATE_LIMIT_LOGINS: 3 };
const VARS = { ADMIN_PASSWORD: 'limits-password' };
const replicate = startReplicate();
let addresses = 0;
/** A client address of its own, so tests never share a bucket. */
const address = () => `198.51.100.${++addresses}`;

/** The binding counts in windows of a minute: start a test's counting early in one. */
async function freshWindow() {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 20_000) await new Promise((r) => setTimeout(r, left + 50));
}

const upload = (url, ip, path = '/upload', headers = bearer()) =>
  postFiles(url, path, [[path === '/api/1/upload' ? 'source' : path === '/api/v2/upload' ? 'smfile' : 'file', unique(corpus('small-320x211.jpg')), 'a.jpg']],
    { headers: { ...headers, 'cf-connecting-ip': ip } });

async function total(url) {
  const r = await fetch(`${url}/api/admin/stats`, { headers: bearer(ADMIN_TOKEN) });
  return (await r.json()).total;
}

describe('rate limits', () => {
  it('limits uploads per address in every protocol, stores nothing over it, and spares the admin', async () => {
    const url = await worker(VARS, LIMITS);
    await freshWindow();
    const ip = address();
    for (let i = 0; i < 3; i++) assert.equal((await upload(url, ip)).status, 200, `upload ${i + 1}`);
    const before = await total(url);

    const r = await upload(url, ip);
    const e = await errorOf(r);
    assert.deepEqual([e.status, e.code], [429, 'rate_limited']);
    assert.match(e.message, /too many uploads from your address: try again in \d+ s/);
    const wait = Number(r.headers.get('retry-after'));
    assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);

    const picgo = await upload(url, ip, '/upload?picbed=imgbed');
    assert.equal(picgo.status, 429);
    assert.ok(picgo.headers.get('retry-after'));
    assert.equal((await picgo.json()).success, false);

    const lsky = await upload(url, ip, '/api/v1/upload');
    assert.equal(lsky.status, 429);
    assert.ok(lsky.headers.get('retry-after'));
    assert.equal((await lsky.json()).status, false);

    const smms = await upload(url, ip, '/api/v2/upload');
    assert.equal(smms.status, 429);
    assert.deepEqual(((b) => [b.success, b.code])(await smms.json()), [false, 'rate_limited']);

    const chevereto = await upload(url, ip, '/api/1/upload');
    assert.equal(chevereto.status, 429);
    assert.deepEqual(((b) => [b.status_code, b.status_txt])(await chevereto.json()), [429, 'Too Many Requests']);

    assert.equal(await total(url), before, 'nothing stored over the limit');
    assert.equal((await upload(url, address())).status, 200, 'another address has its own count');
    assert.equal((await upload(url, ip, '/upload', bearer(ADMIN_TOKEN))).status, 200, 'the admin is exempt');
  });

  it('limits new variants and new placeholders, not cached ones', async () => {
    const url = await worker(VARS, LIMITS);
    await freshWindow();
    const ip = address();
    const [{ src }] = await (await upload(url, ip)).json();
    const get = (path) => fetch(url + path, { headers: { 'cf-connecting-ip': ip } });
    assert.equal((await get(`${src}?w=40`)).status, 200);
    assert.equal((await get(`${src}?w=50`)).status, 200);
    const over = await get(`${src}?w=60`);
    assert.deepEqual([over.status, (await errorOf(over)).code], [429, 'rate_limited']);
    assert.ok(over.headers.get('retry-after'));
    assert.equal((await get(`${src}?w=40`)).status, 200, 'a variant made before costs nothing');
    const admin = await fetch(`${url}${src}?w=60`, { headers: { ...bearer(ADMIN_TOKEN), 'cf-connecting-ip': ip } });
    assert.equal(admin.status, 200, 'the admin is exempt');

  });

  it('limits new placeholder generations, not stored ones', async () => {
    const { base } = await replicate;
    const url = await worker({ ...VARS, REPLICATE_API_TOKEN: 'r8_test', REPLICATE_API_BASE: base }, LIMITS);
    await freshWindow();
    const ip = address();
    const get = (path) => fetch(url + path, { headers: { 'cf-connecting-ip': ip } });
    const word = `limit${Date.now()}`;
    assert.equal((await get(`/64x64/${word}-one.png`)).status, 200);
    assert.equal((await get(`/64x64/${word}-two.png`)).status, 200);
    const third = await get(`/64x64/${word}-three.png`);
    const e = await errorOf(third);
    assert.deepEqual([e.status, e.message], [429, `too many new placeholders from your address: try again in ${third.headers.get('retry-after')} s`]);
    assert.equal((await get(`/64x64/${word}-one.png`)).status, 200, 'a placeholder made before costs nothing');
  });

  it('keeps drawn placeholders at the edge and limits new drawings', async () => {
    const url = await worker(VARS, LIMITS);
    await freshWindow();
    const ip = address();
    const get = (path) => fetch(url + path, { headers: { 'cf-connecting-ip': ip } });
    const word = `drawn${Date.now()}`;
    const first = await get(`/300x200/${word}-one.png`);
    assert.deepEqual([first.status, first.headers.get('x-placeholder-source'), first.headers.get('x-placeholder-cache')], [200, 'local', 'miss']);
    const body = Buffer.from(await first.arrayBuffer());
    const again = await get(`/300x200/${word}-one.png`);
    assert.equal(again.headers.get('x-placeholder-cache'), 'edge', 'drawn once, then served from the edge cache');
    assert.deepEqual(Buffer.from(await again.arrayBuffer()), body);
    assert.equal((await get(`/300x200/${word}-two.png`)).status, 200);
    const third = await get(`/300x200/${word}-three.png`);
    assert.equal(third.status, 429, 'a third new drawing in the minute');
    assert.equal((await get(`/300x200/${word}-one.png`)).status, 200, 'a kept drawing costs nothing');
  });

  it('limits login attempts per address, the right password included', async () => {
    const url = await worker(VARS, LIMITS);
    await freshWindow();
    const ip = address();
    const login = (password) => fetch(`${url}/api/admin/login`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip },
      body: JSON.stringify({ user: 'admin', password }),
    });
    for (let i = 0; i < 3; i++) assert.equal((await login('wrong')).status, 401);
    const r = await login(VARS.ADMIN_PASSWORD);
    assert.deepEqual([r.status, (await errorOf(r)).code], [429, 'rate_limited']);
  });
});

describe('upload rules', () => {
  it('keeps a daily quota per token in the Durable Object, refusing whole batches that would pass it', async () => {
    const url = await worker({ QUOTA_DAILY_UPLOADS: '3' });
    const photo = () => ['file', unique(corpus('small-320x211.jpg')), 'a.jpg'];
    const send = (files, token = bearer()) => postFiles(url, '/upload', files, { headers: token });
    assert.equal((await send([photo(), photo()])).status, 200);
    const before = await total(url);
    const batch = await send([photo(), photo()]);
    const e = await errorOf(batch);
    assert.deepEqual([e.status, e.code], [429, 'quota_exceeded']);
    assert.match(e.message, /2 of 3 uploads used\): more from 00:00 UTC/);
    const wait = Number(batch.headers.get('retry-after'));
    assert.ok(wait > 0 && wait <= 86_400, `Retry-After ${wait}`);
    assert.equal(await total(url), before, 'nothing of the batch stored');
    assert.equal((await send([photo()])).status, 200, 'one more fits');
    assert.equal((await send([photo()])).status, 429);
    assert.equal((await send([photo()], bearer('second-token'))).status, 200, 'another token has its own quota');
    assert.equal((await send([photo()], bearer(ADMIN_TOKEN))).status, 200, 'the admin has none');
    assert.deepEqual((await (await fetch(`${url}/api/config`)).json()).daily_quota, { uploads: 3, bytes: 0 });
  });

  it('accepts only ALLOWED_FORMATS, and says which', async () => {
    const url = await worker({ ALLOWED_FORMATS: 'jpeg, png' });
    const config = await (await fetch(`${url}/api/config`)).json();
    assert.deepEqual(config.extensions, ['jpg', 'png']);
    assert.equal((await postFiles(url, '/upload', [['file', unique(corpus('small-320x211.jpg')), 'a.jpg']], { headers: bearer() })).status, 200);
    const gif = await postFiles(url, '/api/v1/upload', [['file', unique(corpus('animated-400x300.gif')), 'a.gif']], { headers: bearer() });
    assert.equal(gif.status, 415);
    assert.equal((await gif.json()).message, 'this site accepts jpg, png images only; this file is gif');
  });
});
