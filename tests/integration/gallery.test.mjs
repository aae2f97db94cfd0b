// Publishing: album settings, the public gallery (HTTP and headless Chromium), private images
// and albums with signed expiring links, password albums, and the copy formats.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { worker, corpus, unique, uploadOne, errorOf, probe, bearer, ADMIN_TOKEN } from './harness.mjs';
import { launch, newPage, SHOTS } from './browser.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const tag = () => randomBytes(3).toString('hex');
const json = (method, body) => ({ method, headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const setAlbum = async (url, name, body) => {
  const r = await fetch(`${url}/api/admin/albums/${encodeURIComponent(name)}`, json('PATCH', body));
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
};
const setImage = async (url, id, body) => {
  const r = await fetch(`${url}/api/admin/images/${id}`, json('PATCH', body));
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
};
const gallery = async (url, query = '', headers = {}) => fetch(`${url}/api/gallery${query}`, { headers });
const ids = async (r) => { assert.equal(r.status, 200); return (await r.json()).images.map((i) => i.id).sort(); };
const link = async (url, id, seconds) => {
  const r = await fetch(`${url}/api/admin/images/${id}/links`, json('POST', { expires_in: seconds }));
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Uploads `n` small photos into `album` (with tag `t` when given); their ids, in order. */
async function album(url, name, n, t) {
  const out = [];
  for (let i = 0; i < n; i++) out.push((await uploadOne(url, unique(corpus('small-320x211.jpg')), `photo ${i}.jpg`, `?album=${encodeURIComponent(name)}${t ? `&tags=${t}` : ''}`)).id);
  return out;
}

let browser;
before(async () => { browser = await launch(); });
after(() => browser?.close());

describe('gallery and album settings', () => {
  it('shows only public albums, only their active, not private images, a page at a time', async () => {
    const url = await worker();
    const trips = `trips ${tag()}`, drafts = `drafts-${tag()}`;
    const shown = await album(url, trips, 3);
    const hidden = await album(url, drafts, 1);
    assert.deepEqual((await (await gallery(url)).json()).images.filter((i) => [...shown, ...hidden].includes(i.id)), [], 'nothing is public by default');
    assert.equal((await errorOf(await gallery(url, `?album=${encodeURIComponent(trips)}`))).status, 404);

    const set = await setAlbum(url, trips, { public: true });
    assert.deepEqual([set.name, set.public, set.private, set.password, set.images], [trips, true, false, false, 3]);
    const listed = await (await fetch(`${url}/api/admin/albums`, { headers: admin })).json();
    assert.ok(listed.albums.some((a) => a.name === trips && a.public && a.images === 3));
    assert.ok(listed.albums.some((a) => a.name === drafts && !a.public && a.images === 1));

    assert.deepEqual(await ids(await gallery(url, `?album=${encodeURIComponent(trips)}`)), [...shown].sort());
    await setImage(url, shown[0], { status: 'blocked' });
    await setImage(url, shown[1], { private: true });
    const page = await (await gallery(url, `?album=${encodeURIComponent(trips)}`)).json();
    assert.deepEqual(page.images.map((i) => i.id), [shown[2]], 'blocked and private images are not shown');
    assert.equal(page.albums.find((a) => a.name === trips).images, 1);
    const [img] = page.images;
    const thumb = await fetch(img.thumbnail_url);
    assert.equal(thumb.status, 200);
    assert.ok(probe(Buffer.from(await thumb.arrayBuffer())).width <= 256, 'thumbnails are variants');
    assert.equal((await fetch(img.url)).status, 200);

    // Paging with the cursor sees every image once.
    await setImage(url, shown[0], { status: 'active' });
    await setImage(url, shown[1], { private: false });
    const seen = [];
    let cursor = null;
    do {
      const r = await (await gallery(url, `?album=${encodeURIComponent(trips)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json();
      seen.push(...r.images.map((i) => i.id));
      cursor = r.cursor;
    } while (cursor);
    assert.deepEqual(seen.sort(), [...shown].sort());

    for (const [body, field] of [[{ public: 'yes' }, 'public'], [{ password: 'abc' }, 'password'], [{ colour: 1 }, 'colour']]) {
      const e = await errorOf(await fetch(`${url}/api/admin/albums/${encodeURIComponent(trips)}`, json('PATCH', body)));
      assert.equal(e.status, 400);
      assert.match(e.message, new RegExp(field));
    }
    const both = await errorOf(await fetch(`${url}/api/admin/albums/${encodeURIComponent(trips)}`, json('PATCH', { private: true })));
    assert.deepEqual([both.status, both.code], [400, 'bad_parameter'], 'public and private at once is refused');
    assert.equal((await fetch(`${url}/api/admin/albums`)).status, 401, 'album settings are the admin\'s');
  });

  it('a password album shows locked until unlocked, with a cookie for that album only', async () => {
    const url = await worker();
    const name = `family ${tag()}`, open = `open-${tag()}`;
    const inside = await album(url, name, 2);
    const outside = await album(url, open, 1);
    await setAlbum(url, name, { public: true, password: 'open sesame' });
    await setAlbum(url, open, { public: true });
    const all = await (await gallery(url)).json();
    assert.deepEqual(all.albums.find((a) => a.name === name), { name, images: 2, locked: true });
    assert.ok(!all.images.some((i) => inside.includes(i.id)), 'a locked album\'s images stay out of the whole gallery');
    assert.ok(all.images.some((i) => i.id === outside[0]));
    const locked = await errorOf(await gallery(url, `?album=${encodeURIComponent(name)}`));
    assert.deepEqual([locked.status, locked.code], [401, 'album_locked']);

    const unlock = (password) => fetch(`${url}/api/gallery/unlock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ album: name, password }) });
    const wrong = await errorOf(await unlock('open sesame!'));
    assert.deepEqual([wrong.status, wrong.code], [401, 'wrong_password']);
    const right = await unlock('open sesame');
    assert.equal(right.status, 200);
    const cookie = right.headers.get('set-cookie');
    assert.match(cookie, /HttpOnly/);
    assert.ok(!cookie.includes('sesame'));
    const jar = { cookie: cookie.split(';')[0] };
    assert.deepEqual(await ids(await gallery(url, `?album=${encodeURIComponent(name)}`, jar)), [...inside].sort());
    assert.equal((await (await gallery(url, '', jar)).json()).albums.find((a) => a.name === name).locked, false);

    // A new password closes the album to the old cookie; removing it opens it to all.
    await setAlbum(url, name, { password: 'another one' });
    assert.equal((await gallery(url, `?album=${encodeURIComponent(name)}`, jar)).status, 401);
    const nameless = await errorOf(await fetch(`${url}/api/gallery/unlock`, { method: 'POST', body: '{"album": 1}' }));
    assert.equal(nameless.status, 400);
    await setAlbum(url, name, { password: null });
    assert.equal((await gallery(url, `?album=${encodeURIComponent(name)}`)).status, 200);
  });

  it('failed album passwords count toward the login lockout', async () => {
    const url = await worker({ INSTANCE: 'album-lockout' });
    const name = `locked-${tag()}`;
    await album(url, name, 1);
    await setAlbum(url, name, { public: true, password: 'right one' });
    const from = { 'content-type': 'application/json', 'cf-connecting-ip': '203.0.113.77' };
    const attempt = (password) => fetch(`${url}/api/gallery/unlock`, { method: 'POST', headers: from, body: JSON.stringify({ album: name, password }) });
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push((await errorOf(await attempt(`guess ${i}`))).status);
    assert.deepEqual(codes, [401, 401, 401, 401, 401, 429]);
    assert.equal((await attempt('right one')).status, 429, 'even the right password waits out the lockout');
  });
});

describe('private images and signed links', () => {
  it('a private image is 404 to the public, served to the admin and through a signed link until it expires', async () => {
    const url = await worker();
    const t = `p${tag()}`;
    const { id } = await uploadOne(url, unique(corpus('portrait-1600x2400.jpg')), 'secret.jpg', `?tags=${t}`);
    const { id: open } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 'open.jpg', `?tags=${t}`);
    // A variant seen by the public, edge-cached, before the flip.
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push((await fetch(`${url}/file/${id}.jpg?w=200`)).headers.get('x-variant-cache'));
    assert.deepEqual(seen, ['miss', 'hit', 'edge']);

    const patched = await setImage(url, id, { private: true });
    assert.equal(patched.private, true);
    for (const path of [`/file/${id}.jpg`, `/file/${id}.jpg?w=200`, `/api/images/${id}`]) {
      const e = await errorOf(await fetch(url + path));
      assert.deepEqual([e.status, e.code], [404, 'not_found'], `${path} at once, edge cache included`);
    }
    const mine = await fetch(`${url}/file/${id}.jpg`, { headers: admin });
    assert.equal(mine.status, 200);
    assert.equal(mine.headers.get('cache-control'), 'private, no-store');
    for (let i = 0; i < 12; i++) {
      const r = await fetch(`${url}/random?tag=${t}&mode=json`);
      assert.equal((await r.json()).id, open, 'private images never come out of /random');
    }

    const made = await link(url, id, 3);
    assert.match(made.url, new RegExp(`^${url}/file/${id}\\.jpg\\?expires=\\d+&access=`));
    assert.ok(made.expires > Date.now() / 1000);
    const viaLink = await fetch(made.url);
    assert.equal(viaLink.status, 200);
    assert.equal(viaLink.headers.get('cache-control'), 'private, no-store');
    assert.deepEqual(Buffer.from(await viaLink.arrayBuffer()), Buffer.from(await mine.arrayBuffer()));
    const variant = await fetch(`${made.url}&w=300`);
    assert.equal(variant.status, 200, 'a signed link\'s variants are signed too');
    assert.equal(probe(Buffer.from(await variant.arrayBuffer())).width, 300);
    assert.notEqual((await fetch(`${made.url}&w=300`)).headers.get('x-variant-cache'), 'edge', 'never edge-cached under a key');
    assert.match(made.links.html, /srcset="[^"]*expires=/, 'the copy formats carry the signature');

    const sig = new URL(made.url).searchParams.get('access');
    const tampered = made.url.replace(`access=${sig}`, `access=${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`);
    assert.deepEqual(Object.values(await errorOf(await fetch(tampered))).slice(0, 2), [403, 'bad_signature']);
    const moved = made.url.replace(/expires=(\d+)/, (_, e) => `expires=${Number(e) + 3600}`);
    assert.equal((await errorOf(await fetch(moved))).code, 'bad_signature', 'the expiry is signed');
    const elsewhere = made.url.replace(id, open).replace('.jpg?', '.jpg?');
    assert.equal((await fetch(elsewhere)).status, 200, 'a public image ignores a link made for another');
    await sleep(Math.max(0, made.expires * 1000 - Date.now()) + 300);
    const expired = await errorOf(await fetch(made.url));
    assert.deepEqual([expired.status, expired.code], [403, 'link_expired']);

    for (const [body, status] of [[{ expires_in: 0 }, 400], [{ expires_in: 'soon' }, 400], [{ expires_in: 400 * 86400 }, 400]]) {
      assert.equal((await fetch(`${url}/api/admin/images/${id}/links`, json('POST', body))).status, status);
    }
    assert.equal((await fetch(`${url}/api/admin/images/${id}/links`, { method: 'POST', body: '{}', headers: bearer() })).status, 403, 'only the admin makes links');
    await setImage(url, id, { private: false });
    assert.equal((await fetch(`${url}/file/${id}.jpg`)).status, 200, 'public again at once');
  });

  it('a private album hides every image in it, new ones too, and public again brings them back', async () => {
    const url = await worker();
    const name = `vault-${tag()}`, t = `v${tag()}`;
    const inside = await album(url, name, 3, t);
    const r = await setAlbum(url, name, { private: true });
    assert.deepEqual([r.private, r.rewritten, r.remaining], [true, 3, 0]);
    const [late] = await album(url, name, 1, t);
    for (const id of [...inside, late]) assert.equal((await fetch(`${url}/file/${id}.jpg`)).status, 404, id);
    assert.equal((await fetch(`${url}/random?tag=${t}`)).status, 404, 'out of the random pools');
    const meta = await (await fetch(`${url}/api/admin/images/${late}`, { headers: admin })).json();
    assert.deepEqual([meta.private, meta.album_private], [false, true]);
    const made = await link(url, late, 60);
    assert.equal((await fetch(made.url)).status, 200);

    // Moved out of the album, an image is public again; moved in, private.
    await setImage(url, inside[0], { album: null });
    assert.equal((await fetch(`${url}/file/${inside[0]}.jpg`)).status, 200);
    const back = await setAlbum(url, name, { private: false });
    assert.equal(back.rewritten, 3);
    for (const id of [...inside, late]) assert.equal((await fetch(`${url}/file/${id}.jpg`)).status, 200, id);
    assert.equal((await fetch(`${url}/random?tag=${t}&mode=redirect`, { redirect: 'manual' })).status, 302);
  });
});

describe('copy formats', () => {
  it('links carry alt text and a srcset of variants that all load at their widths', async () => {
    const url = await worker();
    const { id } = await uploadOne(url, unique(corpus('portrait-1600x2400.jpg')), 'tall.jpg');
    await setImage(url, id, { alt: 'A lighthouse at dusk, "seen" from <the> pier' });
    const meta = await (await fetch(`${url}/api/images/${id}`)).json();
    assert.equal(meta.alt, 'A lighthouse at dusk, "seen" from <the> pier');
    const safe = 'A lighthouse at dusk, seen from the pier';
    assert.equal(meta.links.markdown, `![${safe}](${url}/file/${id}.jpg)`);
    assert.equal(meta.links.bbcode, `[img]${url}/file/${id}.jpg[/img]`, 'forums print [img alt=…] as text');
    const html = meta.links.html;
    assert.match(html, new RegExp(`alt="${safe}"`));
    assert.match(html, /width="1600" height="2400" loading="lazy"/);
    const srcset = html.match(/srcset="([^"]+)"/)[1].split(', ').map((s) => s.split(' '));
    assert.deepEqual(srcset.map(([, w]) => w), ['320w', '640w', '1024w', '1600w']);
    for (const [src, w] of srcset) {
      const r = await fetch(src);
      assert.equal(r.status, 200, src);
      assert.equal(probe(Buffer.from(await r.arrayBuffer())).width, parseInt(w, 10), src);
    }
    assert.match(html, /sizes="\(max-width: 1600px\) 100vw, 1600px"/);
    // The tiny preview: a data: URI of a few hundred bytes, 16 px wide, the same each time.
    assert.match(meta.preview, /^data:image\/webp;base64,/);
    const tiny = Buffer.from(meta.preview.split(',')[1], 'base64');
    assert.ok(tiny.length < 1000, `${tiny.length} bytes`);
    assert.deepEqual([probe(tiny).format, probe(tiny).width, probe(tiny).height], ['webp', 16, 24]);
    assert.equal((await (await fetch(`${url}/api/images/${id}`)).json()).preview, meta.preview);
    for (const bad of [{ alt: 5 }, { private: 'yes' }]) {
      const e = await errorOf(await fetch(`${url}/api/admin/images/${id}`, json('PATCH', bad)));
      assert.deepEqual([e.status, e.code], [400, 'bad_parameter'], JSON.stringify(bad));
    }
    assert.equal((await (await fetch(`${url}/api/images/${id}`)).json()).private, false, 'nothing changed');
  });

  it('with TRANSFORM_SIGNING_KEY the srcset URLs are signed and load', async () => {
    const url = await worker({ TRANSFORM_SIGNING_KEY: 'srcset-key' });
    const { id } = await uploadOne(url, unique(corpus('portrait-1600x2400.jpg')), 'tall.jpg');
    assert.equal((await fetch(`${url}/file/${id}.jpg?w=640`)).status, 403, 'unsigned sizes are refused here');
    const meta = await (await fetch(`${url}/api/images/${id}`)).json();
    const srcset = meta.links.html.match(/srcset="([^"]+)"/)[1].split(', ').map((s) => s.split(' ')[0]);
    for (const src of srcset) assert.equal((await fetch(src)).status, 200, src);
  });
});

describe('the gallery page', () => {
  it('grid, lightbox with keys, copy buttons, filters, a locked album, phone and dark; no axe violations', async () => {
    const url = await worker({ INSTANCE: 'gallery-page' });
    const coast = 'Coast walk', city = 'City nights', family = 'Family';
    const photos = [['landscape-3840x2400.jpg', coast, 'sea'], ['portrait-1600x2400.jpg', coast, 'sea'], ['small-320x211.jpg', coast, 'path'],
      ['alpha-3700x2400.png', city, 'night'], ['square-4096.webp', city, 'night'], ['exif-orientation6-gps.jpg', family, 'home']];
    const uploaded = [];
    for (const [file, a, t] of photos) uploaded.push((await uploadOne(url, unique(corpus(file)), file, `?album=${encodeURIComponent(a)}&tags=${t}`)).id);
    await setAlbum(url, coast, { public: true });
    await setAlbum(url, city, { public: true });
    await setAlbum(url, family, { public: true, password: 'grandma' });
    await setImage(url, uploaded[0], { alt: 'Waves on a rocky coast' });

    const { page, context, errors } = await newPage(browser, { width: 1280, height: 900, origin: url });
    await page.goto(`${url}/gallery`);
    await page.waitForFunction(() => document.querySelectorAll('#grid li').length === 5);
    assert.match(await page.textContent('#status'), /^5 images$/);
    const options = await page.$$eval('#album option', (os) => os.map((o) => o.textContent));
    assert.deepEqual(options, ['All public albums', 'City nights (2)', 'Coast walk (3)', 'Family (1) · locked']);
    await page.waitForFunction(() => [...document.querySelectorAll('#grid img')].every((i) => i.complete && i.naturalWidth > 0));
    await page.screenshot({ path: join(SHOTS, 'gallery.png'), fullPage: true });

    // Keyboard: the first tile opens the lightbox, arrows move, Escape closes and gives focus back.
    await page.focus('#grid li:first-child button');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#viewer[open]');
    const first = await page.textContent('#title');
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction((t) => document.querySelector('#title').textContent !== t, first);
    await page.keyboard.press('ArrowLeft');
    await page.waitForFunction((t) => document.querySelector('#title').textContent === t, first);
    await page.waitForFunction(() => document.querySelector('#big').complete && document.querySelector('#big').naturalWidth > 0);
    await page.click('[data-copy="markdown"]');
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(copied, new RegExp(`^!\\[[^\\]]+\\]\\(${url}/file/\\w+\\.\\w+\\)$`));
    await page.screenshot({ path: join(SHOTS, 'gallery-lightbox.png') });
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#viewer').open);
    assert.equal(await page.evaluate(() => document.activeElement.closest('#grid li') === document.querySelector('#grid li:first-child')), true);

    // Filters: a tag, then the locked album and its password.
    await page.fill('#tag', 'night');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#grid li').length === 2);
    assert.match(page.url(), /tag=night/);
    await page.fill('#tag', '');
    await page.selectOption('#album', family);
    await page.waitForSelector('#lock:not([hidden])');
    await page.fill('#password', 'wrong');
    await page.click('#lock button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#lock-error').textContent.length > 0);
    await page.fill('#password', 'grandma');
    await page.click('#lock button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#grid li').length === 1);
    const problems = errors.filter((e) => !/401/.test(e));
    assert.deepEqual(problems, [], 'no script errors (the browser reports the refused password as a 401)');
    await context.close();

    // A phone in dark mode, and the accessibility scan of both.
    for (const [width, scheme, shot] of [[390, 'dark', 'gallery-phone.png'], [1280, 'light', null]]) {
      const ctx = await browser.newContext({ viewport: { width, height: 844 }, colorScheme: scheme, bypassCSP: true, deviceScaleFactor: shot ? 2 : 1 });
      const p = await ctx.newPage();
      await p.goto(`${url}/gallery`);
      await p.waitForFunction(() => document.querySelectorAll('#grid li').length === 5);
      await p.waitForFunction(() => [...document.querySelectorAll('#grid img')].every((i) => i.complete));
      const columns = await p.evaluate(() => getComputedStyle(document.querySelector('#grid')).gridTemplateColumns.split(' ').length);
      assert.ok(width < 500 ? columns === 2 : columns >= 5, `${columns} columns at ${width}px`);
      if (shot) await p.screenshot({ path: join(SHOTS, shot), fullPage: true });
      await p.addScriptTag({ content: AXE });
      const found = await p.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`));
      assert.deepEqual(found, [], `${width}px ${scheme}`);
      await p.click('#grid li:first-child button');
      await p.waitForSelector('#viewer[open]');
      const inDialog = await p.evaluate(async () => (await window.axe.run(document.querySelector('#viewer'), { resultTypes: ['violations'] })).violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id));
      assert.deepEqual(inDialog, [], `lightbox at ${width}px ${scheme}`);
      await ctx.close();
    }
  });
});

describe('alt text and tags by AI (CAPTION_MODEL)', () => {
  it('one prediction per new image; failures and hangs store the image without a caption; off without the setting', async () => {
    const { startReplicate } = await import('../fakes/replicate.mjs');
    const { default: sharp } = await import('sharp');
    const replicate = await startReplicate();
    const vars = { REPLICATE_API_TOKEN: 'r8_test', REPLICATE_API_BASE: replicate.base, CAPTION_DEADLINE_S: '2' };
    const url = await worker({ ...vars, CAPTION_MODEL: 'yorickvp/llava-13b', INSTANCE: 'caption' });
    const mode = (m) => fetch(`${replicate.base}/__captioner`, { method: 'POST', body: JSON.stringify({ mode: m }) });
    const colour = (r, g, b) => sharp({ create: { width: 64 + Math.floor(Math.random() * 500), height: 48, channels: 3, background: { r, g, b } } }).png().toBuffer();
    const captioned = async () => (await replicate.stats()).captioned;

    const red = await colour(220, 20, 30);
    const before = await captioned();
    const { id } = await uploadOne(url, red, 'IMG_0001.png');
    assert.equal(await captioned(), before + 1);
    const meta = await (await fetch(`${url}/api/images/${id}`)).json();
    assert.equal(meta.alt, 'A mostly red picture.');
    assert.equal(meta.links.markdown, `![A mostly red picture.](${url}/file/${id}.png)`);
    assert.match(meta.links.html, /alt="A mostly red picture\."/);
    const record = await (await fetch(`${url}/api/admin/images/${id}`, { headers: admin })).json();
    assert.deepEqual(record.suggested_tags, ['red', 'picture', 'test']);
    assert.deepEqual(record.tags, [], 'suggestions are not tags until adopted');
    const found = await (await fetch(`${url}/api/admin/images?q=${encodeURIComponent('mostly red')}`, { headers: admin })).json();
    assert.deepEqual(found.images.map((i) => i.id), [id], 'alt text is searchable');
    await uploadOne(url, red, 'again.png');
    assert.equal(await captioned(), before + 1, 'a repeat of stored bytes asks nothing');
    await setImage(url, id, { alt: 'My red test card' });
    assert.equal((await (await fetch(`${url}/api/images/${id}`)).json()).alt, 'My red test card', 'editable');

    await mode('broken');
    const broken = await uploadOne(url, await colour(20, 200, 30), 'green.png');
    assert.equal((await (await fetch(`${url}/api/images/${broken.id}`)).json()).alt, null, 'a failed caption leaves the image as it is');
    await mode('glacial');
    const start = Date.now();
    const slow = await uploadOne(url, await colour(20, 30, 200), 'blue.png');
    assert.ok(Date.now() - start < 6000, `the upload waited ${Date.now() - start} ms`);
    assert.equal((await (await fetch(`${url}/api/images/${slow.id}`)).json()).alt, null);
    assert.equal(await captioned(), before + 3, 'one prediction per new image');
    await mode('describe');

    const off = await worker({ ...vars, INSTANCE: 'no-caption' });
    const none = await uploadOne(off, await colour(200, 200, 10), 'yellow.png');
    assert.equal(await captioned(), before + 3, 'without CAPTION_MODEL nothing is called');
    assert.equal((await (await fetch(`${off}/api/images/${none.id}`)).json()).alt, null);
  });
});

describe('watermarks (WATERMARK_TEXT)', () => {
  const grey = async (w = 600, h = 400) => {
    const { default: sharp } = await import('sharp');
    return sharp({ create: { width: w, height: h, channels: 3, background: { r: 90, g: 90, b: 90 } } }).png().toBuffer();
  };
  /** Where a picture is not the plain grey: the bounding box of what was drawn. */
  const marks = async (bytes) => {
    const { default: sharp } = await import('sharp');
    const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let [x0, y0, x1, y1, n] = [info.width, info.height, -1, -1, 0];
    for (let y = 0; y < info.height; y++) for (let x = 0; x < info.width; x++) {
      const i = (y * info.width + x) * 3;
      if (Math.abs(data[i] - 90) + Math.abs(data[i + 1] - 90) + Math.abs(data[i + 2] - 90) > 24) {
        n++; x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
      }
    }
    return { n, box: [x0, y0, x1, y1], width: info.width, height: info.height };
  };
  const body = async (r) => Buffer.from(await r.arrayBuffer());

  it('public variants and originals carry the mark (wasm engine); the admin gets them clean; an album can turn it off', async () => {
    const url = await worker({ TRANSFORM_ENGINE: 'wasm', WATERMARK_TEXT: '© imgbed 图床', WATERMARK_ORIGINALS: 'true', INSTANCE: 'watermark' });
    const bytes = unique(await grey());
    const { id } = await uploadOne(url, bytes, 'grey.png');

    const pub = await fetch(`${url}/file/${id}.png?w=300`);
    assert.equal(pub.status, 200);
    const seen = await marks(await body(pub));
    assert.ok(seen.n > 150, `${seen.n} marked pixels`);
    assert.ok(seen.box[0] > 150 && seen.box[1] > 100, `only in the bottom-right corner: ${seen.box}`);
    const mine = await fetch(`${url}/file/${id}.png?w=300`, { headers: admin });
    assert.equal((await marks(await body(mine))).n, 0, 'the admin\'s variant is clean');
    assert.notEqual(mine.headers.get('etag'), pub.headers.get('etag'));
    // Three public reads (miss, hit, edge) and the admin's after them: still each their own.
    for (let i = 0; i < 2; i++) assert.ok((await marks(await body(await fetch(`${url}/file/${id}.png?w=300`)))).n > 150);
    assert.equal((await marks(await body(await fetch(`${url}/file/${id}.png?w=300`, { headers: admin })))).n, 0);

    const original = await fetch(`${url}/file/${id}.png`);
    assert.equal(original.status, 200);
    const copy = await body(original);
    assert.notDeepEqual(copy, bytes);
    const big = await marks(copy);
    assert.deepEqual([big.width, big.height], [600, 400], 'the marked copy is full size');
    assert.ok(big.n > 300 && big.box[0] > 300);
    assert.deepEqual(await body(await fetch(`${url}/file/${id}.png`, { headers: admin })), bytes, 'the stored original is untouched');

    const name = `clean-${tag()}`;
    await album(url, name, 1);
    await setAlbum(url, name, { watermark: false });
    const { id: inAlbum } = await uploadOne(url, unique(await grey()), 'g.png', `?album=${name}`);
    assert.equal((await marks(await body(await fetch(`${url}/file/${inAlbum}.png?w=300`)))).n, 0, 'an album with the mark off');
    const again = await setAlbum(url, name, { watermark: true });
    assert.equal(again.rewritten, 2);
    assert.ok((await marks(await body(await fetch(`${url}/file/${inAlbum}.png?w=301`)))).n > 150, 'and on again');
  });

  it('WATERMARK_IMAGE: a logo, scaled and blended; a missing logo makes no variant at all', async () => {
    const { default: sharp } = await import('sharp');
    const { createHash } = await import('node:crypto');
    const url = await worker({ TRANSFORM_ENGINE: 'wasm', WATERMARK_IMAGE: 'logo-for-marks', WATERMARK_POSITION: 'top-left', WATERMARK_OPACITY: '1', INSTANCE: 'watermark-logo' });
    const { id } = await uploadOne(url, unique(await grey()), 'grey.png');
    const missing = await errorOf(await fetch(`${url}/file/${id}.png?w=300`));
    assert.deepEqual([missing.status, missing.code], [500, 'bad_config'], 'no variant without its mark');
    assert.match(missing.message, /WATERMARK_IMAGE/);
    // The logo, put in with the id the setting names (as a restore would).
    const logo = await sharp({ create: { width: 80, height: 40, channels: 4, background: { r: 230, g: 20, b: 20, alpha: 1 } } }).png().toBuffer();
    const sha = createHash('sha256').update(logo).digest('hex');
    const record = { id: 'logo-for-marks', name: 'logo.png', format: 'png', bytes: logo.length, width: 80, height: 40, orientation: 'landscape', sha256: sha,
      uploaded: Date.now(), status: 'active', album: null, tags: [], channel: 'r2', location: `i/${sha}`, delete_hash: 'x', animated: false };
    const form = new FormData();
    form.append('record', JSON.stringify(record));
    form.append('file', new Blob([logo]), 'logo.png');
    assert.equal((await fetch(`${url}/api/admin/import`, { method: 'POST', headers: admin, body: form })).status, 201);
    const marked = await fetch(`${url}/file/${id}.png?w=300`);
    assert.equal(marked.status, 200);
    const { data, info } = await sharp(await body(marked)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let red = 0, where = [];
    for (let y = 0; y < info.height; y++) for (let x = 0; x < info.width; x++) {
      const i = (y * info.width + x) * 3;
      if (data[i] > 200 && data[i + 1] < 60) { red++; where = [x, y]; }
    }
    assert.ok(red > 2000 && red < 3000, `the logo at 25% of 300 px: ${red} red pixels`);
    assert.ok(where[0] < 100 && where[1] < 60, 'top-left');
    assert.equal((await marks(await body(await fetch(`${url}/file/${id}.png?w=300`, { headers: admin })))).n, 0);
  });

  it('with the Images binding the mark goes along as a draw, and nothing breaks', async () => {
    const url = await worker({ WATERMARK_TEXT: 'imgbed', INSTANCE: 'watermark-images' });
    const { id } = await uploadOne(url, unique(corpus('portrait-1600x2400.jpg')), 'tall.jpg');
    const r = await fetch(`${url}/file/${id}.jpg?w=400&f=webp`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-transform-engine'), 'images');
    assert.equal(probe(await body(r)).width, 400);
  });

  it('bad watermark settings are refused at start with a message that says what to set', async () => {
    const url = await worker({ WATERMARK_TEXT: 'x', WATERMARK_POSITION: 'middle', INSTANCE: 'watermark-bad' }).catch((e) => e);
    assert.match(String(url?.message ?? url), /WATERMARK_POSITION/);
  });
});
