// The admin console's API against the real Worker: login, sessions and CSRF, fail-closed,
// the catalog (filters, sort, cursor paging), actions, review with a fake Replicate
// classifier, console-made tokens, reindex and export.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { worker, corpus, unique, postFiles, bearer, errorOf, makePng, makeApng, ADMIN_TOKEN, UPLOAD_TOKEN } from './harness.mjs';
import { startReplicate } from '../fakes/replicate.mjs';

const PASSWORD = 'correct horse battery staple';
const SECRET_KEY = 'test-secret-key';
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };

/** A solid-colour PNG of w×h, unique per call. */
let shade = 0;
function png(w, h) {
  const row = Buffer.alloc(1 + 3 * w);
  shade++;
  for (let x = 0; x < w; x++) { row[1 + 3 * x] = shade & 255; row[2 + 3 * x] = (shade >> 8) & 255; row[3 + 3 * x] = x & 255; }
  return unique(makePng(w, h, 8, 2, deflateSync(Buffer.concat(Array(h).fill(row)))));
}

/** Uploads files (≤ 20 per request) with `fields`; returns their ids in order. */
async function upload(url, files, fields = {}, headers = bearer()) {
  const ids = [];
  for (let i = 0; i < files.length; i += 20) {
    const form = files.slice(i, i + 20).map(([bytes, name]) => ['file', bytes, name]);
    const resp = await postFiles(url, '/upload', form, { headers, fields });
    assert.equal(resp.status, 200, await resp.clone().text());
    for (const { src } of await resp.json()) ids.push(src.split('/').pop().split('.')[0]);
  }
  return ids;
}

async function login(url, password = PASSWORD, headers = {}) {
  const r = await fetch(`${url}/api/admin/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ user: 'admin', password }) });
  const cookie = r.headers.get('set-cookie');
  return { status: r.status, body: await r.json(), setCookie: cookie, cookie: cookie?.split(';')[0] };
}

/** A session cookie signed the way the Worker signs it (the tests know every secret). */
function signedCookie({ until, nonce, password = PASSWORD, user = 'admin' }) {
  const key = createHash('sha256').update(`imgbed-session\n${user}\n${password}\n${SECRET_KEY}\n${ADMIN_TOKEN}`).digest('hex');
  const body = `${until}.${nonce}`;
  return `imgbed_session=${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

async function listAll(url, query, headers = admin) {
  const ids = [];
  let cursor = '', total = -1, pages = 0;
  do {
    const r = await fetch(`${url}/api/admin/images?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers });
    assert.equal(r.status, 200, await r.clone().text());
    const page = await r.json();
    ids.push(...page.images.map((i) => i.id));
    total = page.total; cursor = page.cursor; pages++;
  } while (cursor);
  return { ids, total, pages };
}

describe('admin: fail closed and no secrets in URLs', () => {
  it('answers 503 saying how to turn it on when neither a password nor a token is set', async () => {
    const url = await worker({ ADMIN_TOKEN: '' });
    const page = await fetch(`${url}/admin`);
    assert.equal(page.status, 503);
    assert.match(await page.text(), /ADMIN_PASSWORD/);
    for (const [method, path] of [['GET', '/api/admin/images'], ['GET', '/api/admin/stats'], ['POST', '/api/admin/login'], ['POST', '/api/admin/reindex'], ['GET', '/api/images']]) {
      const e = await errorOf(await fetch(url + path, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{"user":"admin","password":""}' : undefined }));
      assert.equal(e.status, 503, `${method} ${path}`);
      assert.equal(e.code, 'admin_not_configured');
      assert.match(e.message, /ADMIN_PASSWORD/);
    }
  });

  it('refuses the admin token in a query string on every admin path and for uploads', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD });
    for (const q of ['key', 'token', 'authCode']) {
      const e = await errorOf(await fetch(`${url}/api/admin/images?${q}=${ADMIN_TOKEN}`));
      assert.equal(e.status, 401, q);
      assert.match(e.message, /never accepted in a URL/);
      assert.equal((await fetch(`${url}/api/images?${q}=${ADMIN_TOKEN}`)).status, 401);
    }
    const up = await postFiles(url, `/upload?key=${ADMIN_TOKEN}`, [['file', png(8, 8), 'a.png']]);
    assert.equal(up.status, 403, 'the admin token in the URL is not even an upload token');
    assert.equal((await fetch(`${url}/api/admin/stats`, { headers: admin })).status, 200, 'in a header it works');
    const basic = { Authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` };
    assert.equal((await fetch(`${url}/api/admin/stats`, { headers: basic })).status, 200, 'HTTP Basic with the console password');
  });
});

describe('admin: login, sessions and CSRF', () => {
  it('logs in with a strict HttpOnly cookie, and a change needs the CSRF token from our own origin', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD });
    const bad = await login(url, 'wrong');
    assert.equal(bad.status, 401);
    assert.equal(bad.setCookie, null);
    const started = Date.now();
    await login(url, 'wrong again');
    assert.ok(Date.now() - started >= 900, 'a failed login is slowed down');

    const { status, body, setCookie, cookie } = await login(url);
    assert.equal(status, 200);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.match(setCookie, /Max-Age=43200/, 'ADMIN_SESSION_HOURS defaults to 12');
    assert.doesNotMatch(setCookie, /Secure/, 'not Secure on plain-http localhost, or the browser would drop it');
    assert.ok(body.csrf && !JSON.stringify(body).includes(PASSWORD));

    const [id] = await upload(url, [[png(10, 10), 'csrf.png']]);
    const session = await (await fetch(`${url}/api/admin/session`, { headers: { cookie } })).json();
    assert.equal(session.csrf, body.csrf);
    assert.equal((await fetch(`${url}/api/admin/images?limit=5`, { headers: { cookie } })).status, 200, 'reads need only the session');
    const patch = (headers) => fetch(`${url}/api/admin/images/${id}`, { method: 'PATCH', headers: { cookie, 'content-type': 'application/json', ...headers }, body: '{"album":"csrf"}' });
    assert.equal((await patch({})).status, 403, 'no CSRF token');
    assert.equal((await patch({ 'x-csrf-token': 'forged' })).status, 403, 'a wrong CSRF token');
    assert.equal((await patch({ 'x-csrf-token': body.csrf, origin: 'https://evil.example' })).status, 403, 'a cross-site origin');
    assert.equal((await patch({ 'x-csrf-token': body.csrf, 'sec-fetch-site': 'cross-site' })).status, 403, 'a cross-site fetch');
    assert.equal((await fetch(`${url}/api/admin/images/${id}`, { headers: admin }).then((r) => r.json())).album, null, 'nothing changed');
    assert.equal((await patch({ 'x-csrf-token': body.csrf, origin: url })).status, 200);
    assert.equal((await fetch(`${url}/api/admin/images/${id}`, { headers: admin }).then((r) => r.json())).album, 'csrf');
    const cross = await fetch(`${url}/api/admin/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: JSON.stringify({ user: 'admin', password: PASSWORD }) });
    assert.equal(cross.status, 403, 'no logging in from another site');
  });

  it('refuses forged, tampered, expired, unknown and logged-out sessions', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD });
    const { cookie } = await login(url);
    const get = (c) => fetch(`${url}/api/admin/stats`, { headers: { cookie: c } }).then((r) => r.status);
    assert.equal(await get(cookie), 200);
    const [until, nonce] = cookie.split('=')[1].split('.');
    assert.equal(await get(`imgbed_session=${until}.${nonce}.${'A'.repeat(43)}`), 401, 'forged signature');
    assert.equal(await get(`imgbed_session=${Number(until) + 1e9}.${cookie.split('.').slice(1).join('.')}`), 401, 'tampered expiry');
    assert.equal(await get(signedCookie({ until: Date.now() - 1000, nonce })), 401, 'expired (correctly signed)');
    assert.equal(await get(signedCookie({ until: Date.now() + 3600e3, nonce: 'never-issued' })), 401, 'never issued (correctly signed)');
    assert.equal(await get(signedCookie({ until: Date.now() + 3600e3, nonce, password: 'old password' })), 401, 'signed with other credentials');
    assert.equal(await get(''), 401, 'no cookie');
    const out = await fetch(`${url}/api/admin/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': (await (await fetch(`${url}/api/admin/session`, { headers: { cookie } })).json()).csrf } });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie'), /Max-Age=0/);
    assert.equal(await get(cookie), 401, 'the old cookie no longer works after logout');
  });

  it('locks an address out after five failed logins, even for the right password', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD, INSTANCE: 'lockout' });
    const ip = { 'cf-connecting-ip': '203.0.113.9' };
    for (let i = 0; i < 5; i++) assert.equal((await login(url, `guess ${i}`, ip)).status, 401);
    const locked = await fetch(`${url}/api/admin/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...ip }, body: JSON.stringify({ user: 'admin', password: PASSWORD }) });
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers.get('retry-after')) > 60);
    assert.equal((await errorOf(locked)).code, 'too_many_logins');
  });
});

describe('admin: catalog', () => {
  let url, ids, portraits, jpegs;
  before(async () => {
    url = await worker({ ADMIN_PASSWORD: PASSWORD, INSTANCE: 'catalog' });
    const landscape = Array.from({ length: 200 }, (_, i) => [png(12 + (i % 7), 8), `land-${String(i).padStart(3, '0')}.png`]);
    const portrait = Array.from({ length: 80 }, (_, i) => [png(8, 12), `tall-${i}.png`]);
    ids = await upload(url, landscape);
    portraits = await upload(url, portrait, { album: 'people', tags: 'face,Tall' });
    jpegs = await upload(url, [[unique(corpus('small-320x211.jpg')), 'holiday photo.jpg'], [unique(corpus('portrait-1600x2400.jpg')), 'Holiday tower.jpg']]);
  });

  it('pages through a few hundred images with a cursor: each once, in order', async () => {
    const { ids: seen, total, pages } = await listAll(url, 'limit=50');
    assert.equal(total, 282);
    assert.equal(seen.length, 282);
    assert.equal(new Set(seen).size, 282);
    assert.equal(pages, 6);
    assert.deepEqual(seen.slice(0, 2).sort(), [...jpegs].sort(), 'newest first');
    const asc = await listAll(url, 'limit=100&order=asc');
    assert.deepEqual(asc.ids, [...seen].reverse());
  });

  it('filters by status, album, tag, orientation, format, date and name, and sorts by size and name', async () => {
    const block = await fetch(`${url}/api/admin/bulk`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ action: 'block', ids: ids.slice(0, 5) }) });
    assert.equal((await block.json()).done, 5);
    const count = async (q) => (await (await fetch(`${url}/api/admin/images?${q}&limit=1`, { headers: admin })).json()).total;
    assert.equal(await count('status=blocked'), 5);
    assert.equal(await count('status=active'), 277);
    assert.equal(await count('status=pending'), 0);
    assert.equal(await count('album=people'), 80);
    assert.equal(await count('tag=tall'), 80, 'tags are matched case-insensitively');
    assert.equal(await count('orientation=portrait'), 81);
    assert.equal(await count('orientation=portrait&album=people&tag=face'), 80);
    assert.equal(await count('format=jpg'), 2);
    assert.equal(await count('channel=r2'), 282);
    assert.equal(await count('channel=telegram'), 0);
    assert.equal(await count('q=holiday'), 2, 'search by part of the name');
    assert.equal(await count(`q=${ids[7]}`), 1, 'search by id');
    assert.equal(await count('q=100%25'), 0, 'LIKE wildcards are literal');
    const today = new Date().toISOString().slice(0, 10);
    assert.equal(await count(`from=${today}&to=${today}`), 282);
    assert.equal(await count('to=2001-01-01'), 0);
    const bySize = (await (await fetch(`${url}/api/admin/images?sort=size&order=desc&limit=5`, { headers: admin })).json()).images;
    assert.ok(bySize.every((x, i) => i === 0 || bySize[i - 1].bytes >= x.bytes));
    assert.equal(bySize[0].name, 'Holiday tower.jpg');
    const byName = await listAll(url, 'sort=name&order=asc&limit=100&q=land-');
    assert.equal(byName.ids.length, 200);
    const first = (await (await fetch(`${url}/api/admin/images?sort=name&order=asc&limit=2&q=land-`, { headers: admin })).json()).images;
    assert.deepEqual(first.map((i) => i.name), ['land-000.png', 'land-001.png']);
    for (const q of ['status=lost', 'sort=colour', 'limit=0', 'from=yesterday', 'cursor=garbage!']) {
      const e = await errorOf(await fetch(`${url}/api/admin/images?${q}`, { headers: admin }));
      assert.equal(e.status, 400, q);
    }
  });

  it('shows stats: counts by status, album and format, bytes, and uploads per day', async () => {
    const s = await (await fetch(`${url}/api/admin/stats`, { headers: admin })).json();
    assert.equal(s.images, 282);
    assert.equal(s.status.find((x) => x.key === 'blocked')?.count, 5);
    assert.equal(s.albums.find((x) => x.key === 'people')?.count, 80);
    assert.equal(s.formats.find((x) => x.key === 'jpg')?.count, 2);
    assert.equal(s.channels.find((x) => x.key === 'r2')?.count, 282);
    assert.equal(s.days.length, 30);
    assert.equal(s.days.at(-1).day, new Date().toISOString().slice(0, 10));
    assert.equal(s.days.at(-1).count, 282);
    assert.ok(s.bytes > 0);
  });

  it('rebuilds catalog and pools from KV in resumable batches, never showing less than before', async () => {
    const first = await (await fetch(`${url}/api/admin/reindex?limit=100`, { method: 'POST', headers: admin })).json();
    assert.equal(first.indexed, 100);
    assert.equal(first.done, false);
    const partial = (await (await fetch(`${url}/api/admin/images?limit=1`, { headers: admin })).json()).total;
    assert.equal(partial, 282, 'a rebuild stopped after one call leaves the console whole');
    assert.equal((await (await fetch(`${url}/random/count`)).json()).count, 277, 'and /random');
    let cursor = first.cursor, indexed = first.indexed, pooled = first.pooled, removed = 0;
    while (cursor) {
      // Scripts send the cursor in a JSON body as often as in the query.
      const r = await (await fetch(`${url}/api/admin/reindex`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ cursor, limit: 100 }) })).json();
      indexed += r.indexed; pooled += r.pooled; cursor = r.cursor; removed += r.removed;
    }
    assert.equal(removed, 0, 'every catalog row has its record');
    assert.equal(indexed, 282);
    assert.equal(pooled, 277, 'blocked images stay out of the pools');
    assert.equal((await listAll(url, 'limit=200')).total, 282);
    const random = await (await fetch(`${url}/random/count`)).json();
    assert.equal(random.count, 277);
    assert.equal((await (await fetch(`${url}/random/count?album=people`)).json()).count, 80);
  });

  it('exports every record as JSON Lines, page by page', async () => {
    const lines = [];
    let next = `${url}/api/admin/export`;
    while (next) {
      const r = await fetch(next, { headers: admin });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type'), /ndjson/);
      lines.push(...(await r.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l)));
      const cursor = r.headers.get('x-next-cursor');
      next = cursor ? `${url}/api/admin/export?cursor=${encodeURIComponent(cursor)}` : null;
    }
    assert.equal(lines.length, 282);
    assert.equal(new Set(lines.map((l) => l.id)).size, 282);
    assert.ok(lines.every((l) => l.delete_hash && l.sha256 && l.location), 'full records, for backups');
    assert.equal((await fetch(`${url}/api/admin/export`)).status, 401);
  });
});

describe('admin: actions', () => {
  it('deletes: the answer says what went, the bytes are gone from R2, cached variants too', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD });
    const bytes = png(300, 200);
    const [id] = await upload(url, [[bytes, 'gone.png']]);
    assert.equal((await fetch(`${url}/file/${id}.png?w=100`)).status, 200);
    assert.equal((await fetch(`${url}/file/${id}.png?w=100`)).headers.get('x-variant-cache'), 'hit', 'made, then read from R2 (and put in the edge cache)');
    const cached = await fetch(`${url}/file/${id}.png?w=100`);
    assert.equal(cached.headers.get('x-variant-cache'), 'edge');
    const r = await fetch(`${url}/api/admin/images/${id}`, { method: 'DELETE', headers: admin });
    assert.equal(r.status, 200);
    const { deleted } = await r.json();
    assert.deepEqual({ ...deleted }, { id, record: true, bytes: true, variants: 1, edge_cached: 1, left_in_telegram: 0 });
    assert.equal((await fetch(`${url}/file/${id}.png`)).status, 404);
    assert.equal((await fetch(`${url}/file/${id}.png?w=100`)).status, 404);
    assert.equal((await fetch(`${url}/api/admin/images/${id}`, { headers: admin })).status, 404);
    assert.equal((await fetch(`${url}/api/admin/images?q=${id}`, { headers: admin }).then((x) => x.json())).total, 0);
    const again = await postFiles(url, '/upload', [['file', bytes, 'gone.png']], { headers: bearer() });
    const [{ src }] = await again.json();
    assert.notEqual(src.split('/').pop().split('.')[0], id, 'the same bytes make a new image: the old object is gone from R2');
  });

  it('blocks at once, variants included, and unblocks; bulk moves and retags; refuses an unknown action', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD });
    const ids = await upload(url, [[png(40, 30), 'a.png'], [png(40, 30), 'b.png'], [png(40, 30), 'c.png']], { album: 'before', tags: 'keep,drop' });
    await fetch(`${url}/file/${ids[0]}.png?w=20`);
    await fetch(`${url}/file/${ids[0]}.png?w=20`);
    assert.equal((await fetch(`${url}/file/${ids[0]}.png?w=20`)).headers.get('x-variant-cache'), 'edge');
    const bulk = (body) => fetch(`${url}/api/admin/bulk`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    let r = await (await bulk({ action: 'block', ids })).json();
    assert.equal(r.done, 3);
    assert.equal((await fetch(`${url}/file/${ids[0]}.png?w=20`)).status, 451, 'the edge-cached variant stops at once');
    assert.equal((await fetch(`${url}/file/${ids[1]}.png`)).status, 451);
    r = await (await bulk({ action: 'unblock', ids: ids.slice(0, 1) })).json();
    assert.equal((await fetch(`${url}/file/${ids[0]}.png?w=20`)).status, 200);
    r = await (await bulk({ action: 'move', ids, album: 'after' })).json();
    assert.equal(r.done, 3);
    r = await (await bulk({ action: 'tag', ids, add: ['new'], remove: ['drop'] })).json();
    const one = await (await fetch(`${url}/api/admin/images/${ids[0]}`, { headers: admin })).json();
    assert.equal(one.album, 'after');
    assert.deepEqual(one.tags, ['keep', 'new']);
    assert.equal((await (await fetch(`${url}/random/count?album=after`)).json()).count, 1, 'only the unblocked one is drawn');
    assert.equal((await (await fetch(`${url}/random/count?album=before`)).json()).count, 0);
    assert.equal((await (await fetch(`${url}/random/count?tag=drop`)).json()).count, 0);
    const rename = await fetch(`${url}/api/admin/images/${ids[0]}`, { method: 'PATCH', headers: { ...admin, 'content-type': 'application/json' }, body: '{"name":"Renamed picture"}' });
    assert.equal((await rename.json()).name, 'Renamed picture.png');
    assert.match((await fetch(`${url}/file/${ids[0]}.png`)).headers.get('content-disposition') ?? '', /Renamed%20picture\.png/);
    const unknown = await bulk({ action: 'explode', ids });
    assert.equal(unknown.status, 400);
    assert.equal((await fetch(`${url}/file/${ids[0]}.png`)).status, 200, 'nothing happened');
    const partial = await (await bulk({ action: 'delete', ids: [ids[2], 'nosuchimage1'] })).json();
    assert.equal(partial.done, 1);
    assert.equal(partial.failed, 1);
    assert.equal(partial.results[1].error.code, 'not_found');
    const details = await (await fetch(`${url}/api/admin/images/${ids[0]}`, { headers: admin })).json();
    assert.match(details.links.delete_url, new RegExp(`/delete/${ids[0]}/`), 'the admin sees the delete link');
  });
});

describe('admin: review', () => {
  it('manual: new uploads wait in the queue, hidden from the public, until approved', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD, REVIEW_MODE: 'manual' });
    const [id, other] = await upload(url, [[png(20, 20), 'wait.png'], [png(20, 20), 'reject.png']]);
    assert.equal((await fetch(`${url}/file/${id}.png`)).status, 404);
    assert.equal((await fetch(`${url}/file/${id}.png`, { headers: admin })).status, 200, 'the admin can look');
    const queue = await (await fetch(`${url}/api/admin/images?status=pending`, { headers: admin })).json();
    assert.ok(queue.images.some((i) => i.id === id));
    const bulk = (action, ids) => fetch(`${url}/api/admin/bulk`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ action, ids }) });
    await bulk('approve', [id]);
    await bulk('reject', [other]);
    assert.equal((await fetch(`${url}/file/${id}.png`)).status, 200);
    assert.equal((await fetch(`${url}/file/${other}.png`)).status, 451);
    assert.equal((await (await fetch(`${url}/api/config`)).json()).review_mode, 'manual');
  });

  it('auto: a classifier on Replicate decides; unsafe, failed or slow verdicts are never public', async () => {
    const replicate = await startReplicate();
    const vars = { ADMIN_PASSWORD: PASSWORD, REVIEW_MODE: 'auto', REPLICATE_API_TOKEN: 'r8_test', REPLICATE_API_BASE: replicate.base, MODERATION_DEADLINE_S: '2' };
    const url = await worker(vars);
    const mode = (m) => fetch(`${replicate.base}/__classifier`, { method: 'POST', body: JSON.stringify({ mode: m }) });
    const check = async (m, status, label) => {
      await mode(m);
      const [id] = await upload(url, [[unique(corpus('small-320x211.jpg')), `${m.replace(/\W/g, '_')}.jpg`]]);
      const rec = await (await fetch(`${url}/api/admin/images/${id}`, { headers: admin })).json();
      assert.equal(rec.status, status, m);
      assert.equal(rec.moderation.label, label, m);
      assert.equal((await fetch(`${url}/file/${id}.jpg`)).status, status === 'active' ? 200 : status === 'blocked' ? 451 : 404, m);
      return rec;
    };
    await check('normal', 'active', 'normal');
    const flagged = await check('nsfw', 'pending', 'nsfw');
    assert.equal(flagged.moderation.score, 1);
    assert.equal(flagged.moderation.model, 'falcons-ai/nsfw_image_detection');
    await check('scored:0.2', 'active', 'normal');
    await check('scored:0.93', 'pending', 'nsfw');
    await check('broken', 'pending', 'error');
    const started = Date.now();
    await check('glacial', 'pending', 'error');
    assert.ok(Date.now() - started < 10_000, 'a slow classifier costs at most MODERATION_DEADLINE_S');
    const stats = await replicate.stats();
    assert.equal(stats.classified, 6);
    assert.ok(stats.images.every((i) => i.startsWith('data:image/jpeg;base64,')), 'the classifier gets an inline preview, never a link to a pending image');
    // A verdict outside the labels imgbed knows holds the image.
    for (const output of ['"sexual"', '{"label":"nudity"}', '[{"label":"racy","score":0.9}]', '{"verdict":"ok"}']) await check(`output:${output}`, 'pending', 'error');

    const blocking = await worker({ ...vars, MODERATION_ACTION: 'block' });
    await mode('nsfw');
    const [id] = await upload(blocking, [[png(30, 30), 'blocked.png']]);
    assert.equal((await fetch(`${blocking}/file/${id}.png`)).status, 451);
  });
});

describe('admin: review of animations', () => {
  it('auto: the classifier judges the frames browsers play, not only the default image', async () => {
    const replicate = await startReplicate();
    const url = await worker({ ADMIN_PASSWORD: PASSWORD, REVIEW_MODE: 'auto', REPLICATE_API_TOKEN: 'r8_test', REPLICATE_API_BASE: replicate.base, INSTANCE: 'apng-review' });
    await fetch(`${replicate.base}/__classifier`, { method: 'POST', body: JSON.stringify({ mode: 'looks' }) });
    const [green, red] = [[30, 160, 60], [220, 20, 20]];
    const status = async (bytes, name) => {
      const [id] = await upload(url, [[bytes, name]]);
      return (await (await fetch(`${url}/api/admin/images/${id}`, { headers: admin })).json()).status;
    };
    assert.equal(await status(makeApng(48, 48, green, [green, green, green]), 'calm.png'), 'active');
    const before = (await replicate.stats()).classified;
    assert.equal(await status(makeApng(48, 48, green, [green, green, green, green, green, red]), 'sneaky.png'), 'pending', 'the red frames played after a green default image');
    assert.equal((await replicate.stats()).classified - before, 5, 'the default image and four frames spread over the animation');
    assert.equal(await status(makeApng(48, 48, red, [green]), 'cover.png'), 'pending', 'the default image counts too');
  });
});

describe('admin: bad input', () => {
  it('answers clear 400s and stores nothing for wrong tokens, bulk, reindex, login and upload values', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD });
    const post = (path, body) => fetch(url + path, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body });
    for (const body of ['{"name":""}', '{"name":"x","scopes":["root"]}', '{"name":"x","scopes":[]}', '{"name":"x","expires_in_days":-1}', 'not json', '[]']) {
      const e = await errorOf(await post('/api/admin/tokens', body));
      assert.equal(e.status, 400, body);
      assert.ok(e.message.length > 5);
    }
    assert.equal((await (await fetch(`${url}/api/admin/tokens`, { headers: admin })).json()).tokens.length, 0, 'no token was made');
    for (const body of ['{"action":"block","ids":[]}', '{"action":"block"}', `{"action":"move","ids":["abc"],"album":"a/b"}`, `{"action":"block","ids":${JSON.stringify(Array(501).fill('x'))}}`]) {
      assert.equal((await post('/api/admin/bulk', body)).status, 400, body.slice(0, 40));
    }
    assert.equal((await errorOf(await post('/api/admin/reindex?limit=0', ''))).status, 400);
    for (const body of ['{"limit":0}', '{"limit":"many"}', 'not json', '[]']) {
      const e = await errorOf(await post('/api/admin/reindex', body));
      assert.equal(e.status, 400, `reindex body ${body}`);
    }
    assert.equal((await errorOf(await post('/api/admin/images/nosuchimage1/move', '{"channel":"r2"}'))).status, 404);
    const login = await fetch(`${url}/api/admin/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":' });
    assert.equal((await errorOf(login)).code, 'malformed_json');
    const up = await postFiles(url, '/upload', [['file', png(8, 8), 'c.png']], { headers: bearer(), fields: { channel: 'floppy' } });
    assert.equal((await errorOf(up)).status, 400);
    assert.equal((await (await fetch(`${url}/api/admin/images?q=c.png`, { headers: admin })).json()).total, 0, 'nothing stored');
  });
});

describe('admin: tokens', () => {
  it('creates scoped tokens shown once; they upload in every header form, list and delete their own, expire and revoke', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD });
    const create = async (body) => {
      const r = await fetch(`${url}/api/admin/tokens`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(r.status, 201);
      return r.json();
    };
    const up = await create({ name: 'PicGo laptop', scopes: ['upload'] });
    assert.match(up.token, /^ib_/);
    const all = await create({ name: 'script', scopes: ['upload', 'list', 'delete'] });
    const listed = await (await fetch(`${url}/api/admin/tokens`, { headers: admin })).json();
    assert.ok(listed.tokens.some((t) => t.id === up.id && t.name === 'PicGo laptop'));
    assert.ok(!JSON.stringify(listed).includes(up.token), 'the token is shown once, at creation');

    for (const headers of [{ Authorization: `Bearer ${up.token}` }, { 'X-API-Key': up.token }, { token: up.token }]) {
      const r = await postFiles(url, '/api/v1/upload', [['file', png(9, 9), 'lsky.png']], { headers });
      assert.equal(r.status, 200, JSON.stringify(headers));
    }
    assert.equal((await postFiles(url, `/upload?authCode=${up.token}`, [['file', png(9, 9), 'q.png']])).status, 200);
    const used = (await (await fetch(`${url}/api/admin/tokens`, { headers: admin })).json()).tokens.find((t) => t.id === up.id);
    assert.ok(used.last_used > 0);

    const mine = await upload(url, [[png(11, 11), 'mine.png']], {}, { Authorization: `Bearer ${all.token}` });
    const others = await upload(url, [[png(11, 11), 'other.png']]);
    const list = await (await fetch(`${url}/api/images`, { headers: { Authorization: `Bearer ${all.token}` } })).json();
    assert.deepEqual(list.images.map((i) => i.id), mine, 'a list token sees only its own uploads');
    assert.equal((await fetch(`${url}/api/images`, { headers: { Authorization: `Bearer ${up.token}` } })).status, 403, 'no list scope');
    const del = (id, t) => fetch(`${url}/api/images/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${t}` } });
    assert.equal((await del(others[0], all.token)).status, 403, 'not its image');
    assert.equal((await del(mine[0], up.token)).status, 403, 'no delete scope');
    assert.equal((await del(mine[0], all.token)).status, 200);
    assert.equal((await fetch(`${url}/file/${mine[0]}.png`)).status, 404);

    const brief = await create({ name: 'brief', scopes: ['upload'], expires_in_days: 1 / 86400 });
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal((await postFiles(url, '/upload', [['file', png(9, 9), 'late.png']], { headers: { Authorization: `Bearer ${brief.token}` } })).status, 403, 'expired');
    assert.equal((await fetch(`${url}/api/admin/tokens/${up.id}`, { method: 'DELETE', headers: admin })).status, 200);
    assert.equal((await postFiles(url, '/upload', [['file', png(9, 9), 'revoked.png']], { headers: { Authorization: `Bearer ${up.token}` } })).status, 403, 'revoked');
    assert.equal((await fetch(`${url}/api/admin/tokens/${up.id}`, { method: 'DELETE', headers: admin })).status, 404);
    assert.equal((await postFiles(url, '/upload', [['file', png(9, 9), 'fixed.png']], { headers: bearer(UPLOAD_TOKEN) })).status, 200, 'UPLOAD_TOKENS keep working');
  });

  it('revocation wins every race with the token\'s own uses', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD, INSTANCE: 'revoke-race' });
    const json = { ...admin, 'content-type': 'application/json' };
    const use = (token, n) => postFiles(url, '/upload', [['file', png(7 + n, 7), 'race.png']], { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.status);
    const revoked = [];
    for (let i = 0; i < 12; i++) {
      const made = await (await fetch(`${url}/api/admin/tokens`, { method: 'POST', headers: json, body: JSON.stringify({ name: `race ${i}`, scopes: ['upload'] }) })).json();
      // Its first use of the day races the revocation.
      const [, gone] = await Promise.all([use(made.token, 1), fetch(`${url}/api/admin/tokens/${made.id}`, { method: 'DELETE', headers: admin })]);
      assert.equal(gone.status, 200);
      revoked.push(made);
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const [n, made] of revoked.entries()) assert.equal(await use(made.token, n + 2), 403, `token ${n} came back`);
    const listed = await (await fetch(`${url}/api/admin/tokens`, { headers: admin })).json();
    assert.ok(!listed.tokens.some((t) => revoked.some((r) => r.id === t.id)), 'a revoked token is listed again');
  });
});
