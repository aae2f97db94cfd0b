// Placeholders named by their URL, drawn locally when no image model is configured (the state
// of a fresh `scripts/dev`): exact sizes, formats, effects, caching headers, and bad input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, SHOTS } from './browser.mjs';
import { worker, errorOf, probe, ADMIN_TOKEN, UPLOAD_TOKEN } from './harness.mjs';

import { startReplicate } from '../fakes/replicate.mjs';

const get = async (url, headers = {}) => {
  const r = await fetch(url, { headers });
  return { r, body: Buffer.from(await r.arrayBuffer()) };
};

describe('placeholders (local)', () => {
  it('draws the exact size in the format asked for, with no storage write', async () => {
    const url = await worker();
    const chrome = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8';
    for (const [path, accept, format, w, h] of [
      ['/800x600/sunglasses-sloth', chrome, 'webp', 800, 600],
      ['/800x600/sunglasses-sloth', 'image/*', 'jpeg', 800, 600],
      ['/1200x630/cozy-reading-nook.png', chrome, 'png', 1200, 630],
      ['/1200/630/cozy-reading-nook.jpg', chrome, 'jpeg', 1200, 630],
      ['/300x900/tall-lighthouse?format=png', chrome, 'png', 300, 900],
      ['/1x1/dot.webp', '', 'webp', 1, 1],
      ['/640x360/猫-cafe-2.jpg?blur=5&gray&q=60', '', 'jpeg', 640, 360],
      ['/400x300/sunglasses-sloth.png?dpr=2', '', 'png', 800, 600],
      ['/640x4:3/sunglasses-sloth.png', '', 'png', 640, 480],
      ['/1000x16:9/sunglasses-sloth.jpg', '', 'jpeg', 1000, 563],
      ['/300x200@2x/sunglasses-sloth.webp', '', 'webp', 600, 400],
      ['/200x1:1@3x/sunglasses-sloth.png', '', 'png', 600, 600],
    ]) {
      const { r, body } = await get(url + path, { Accept: accept });
      assert.equal(r.status, 200, `${path}: ${body.toString().slice(0, 200)}`);
      assert.equal(r.headers.get('x-placeholder-source'), 'local', path);
      const p = probe(body);
      assert.deepEqual([p.format, p.width, p.height], [format, w, h], path);
      assert.equal(r.headers.get('content-type'), `image/${format}`, path);
      assert.doesNotMatch(r.headers.get('x-storage-ops') ?? '', /write/, path);
    }
  });

  it('answers Vary: Accept when the format is negotiated, and 304 for a known ETag', async () => {
    const url = await worker();
    const { r } = await get(`${url}/320x200/test-pattern`, { Accept: 'image/webp' });
    assert.equal(r.headers.get('vary'), 'Accept');
    const again = await fetch(`${url}/320x200/test-pattern`, { headers: { Accept: 'image/webp', 'If-None-Match': r.headers.get('etag') } });
    assert.equal(again.status, 304);
    const fixed = await fetch(`${url}/320x200/test-pattern.png`);
    assert.equal(fixed.headers.get('vary'), null);
    assert.notEqual(fixed.headers.get('etag'), r.headers.get('etag'));
  });

  it('?text= (Chinese too), bg= and fg=: the lines drawn in those colours; generated placeholders are not asked', async () => {
    const { default: sharp } = await import('sharp');
    const replicate = await startReplicate();
    const url = await worker({ REPLICATE_API_TOKEN: 'r8_test', REPLICATE_API_BASE: replicate.base, INSTANCE: 'lettering' });
    const before = (await replicate.stats()).created;
    const { r, body } = await get(`${url}/480x240/greeting.png?text=${encodeURIComponent('你好，世界\\nimgbed')}&bg=1e293b&fg=fbbf24`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-placeholder-source'), 'local');
    const { data, info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [480, 240]);
    const at = (x, y) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)];
    assert.deepEqual(at(0, 0), [0x1e, 0x29, 0x3b], 'the background');
    let letters = 0;
    const rows = new Set();
    for (let y = 0; y < info.height; y++) for (let x = 0; x < info.width; x++) if (at(x, y).join() === [0xfb, 0xbf, 0x24].join()) { letters++; rows.add(y); }
    assert.ok(letters > 2000, `${letters} pixels of lettering`);
    assert.ok(Math.max(...rows) - Math.min(...rows) > 80, 'two lines');
    // Each character is its own shape: different text, different pixels.
    const other = await get(`${url}/480x240/greeting.png?text=${encodeURIComponent('再见，世界\\nimgbed')}&bg=1e293b&fg=fbbf24`);
    assert.notDeepEqual(other.body, body);
    writeFileSync(join(SHOTS, 'placeholder-text.png'), body);
    assert.equal((await replicate.stats()).created, before, 'text and colours are drawn, never generated');
    for (const [q, needle] of [['bg=nope', 'bg='], ['fg=12', 'fg='], [`text=${'x'.repeat(201)}`, '200 characters']]) {
      const e = await errorOf(await fetch(`${url}/300x200/a?${q}`));
      assert.equal(e.status, 400, q);
      assert.ok(e.message.includes(needle), e.message);
    }
  });

  it('bad sizes, slugs and parameters get a 400 that names them; too much memory a 422', async () => {
    const url = await worker();
    for (const [path, status, code, needle] of [
      ['/0x600/a', 400, 'bad_parameter', 'width "0"'],
      ['/800x4097/a', 400, 'bad_parameter', 'height "4097"'],
      ['/800/99999/a', 400, 'bad_parameter', 'height'],
      ['/8x8/Sloth', 400, 'bad_slug', 'Sloth'],
      ['/8x8/two--dashes', 400, 'bad_slug', 'two--dashes'],
      ['/8x8/a.gif', 400, 'bad_parameter', 'gif'],
      ['/8x8/a?w=10', 400, 'bad_parameter', 'w does not apply'],
      ['/8x8/a?blur=999', 400, 'bad_parameter', 'blur'],
      ['/4096x4096/a.webp?blur=20', 422, 'too_many_pixels', '4096×4096'],
    ]) {
      const e = await errorOf(await fetch(url + path));
      assert.deepEqual([e.status, e.code], [status, code], path);
      assert.ok(e.message.includes(needle), `${path}: ${e.message}`);
    }
    assert.equal((await fetch(`${url}/8x8/a`, { method: 'POST' })).status, 405);
  });
});

const fake = startReplicate();
const generating = async (vars = {}) => {
  const { base } = await fake;
  // Every local request comes from one address: the per-address share is tested on its own.
  return worker({ REPLICATE_API_TOKEN: 'r8_test', REPLICATE_API_BASE: base, PLACEHOLDER_DEADLINE_S: '3', PLACEHOLDER_DAILY_PER_ADDRESS: '0', ...vars });
};
const created = async () => (await (await fake).stats()).created;
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const imageCount = async (url) => (await (await fetch(`${url}/api/images`, { headers: admin })).json()).images.length;

describe('placeholders (generated with Replicate)', () => {
  it('generates once per words and aspect, stores it, and serves any size from storage', async () => {
    const url = await generating();
    const before = await created();
    const first = await get(`${url}/800x600/sunglasses-sloth.jpg`);
    assert.equal(first.r.status, 200, first.body.toString());
    assert.equal(first.r.headers.get('x-placeholder-source'), 'replicate');
    assert.deepEqual([probe(first.body).format, probe(first.body).width, probe(first.body).height], ['jpeg', 800, 600]);
    assert.equal(await created(), before + 1);
    for (const [path, format, w, h] of [['/400x300/sunglasses-sloth.webp', 'webp', 400, 300], ['/1600/1200/sunglasses-sloth.png', 'png', 1600, 1200],
      ['/640x480/sunglasses-sloth.jpg?blur=4', 'jpeg', 640, 480], ['/800x600/sunglasses-sloth.jpg', 'jpeg', 800, 600]]) {
      const { r, body } = await get(url + path);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('x-placeholder-source'), 'stored', path);
      assert.deepEqual([probe(body).format, probe(body).width, probe(body).height], [format, w, h], path);
    }
    assert.equal(await created(), before + 1, 'other sizes of the same aspect cost no prediction');
    // Another aspect ratio is another generation.
    assert.equal((await get(`${url}/1600x900/sunglasses-sloth.jpg`)).r.headers.get('x-placeholder-source'), 'replicate');
    assert.equal(await created(), before + 2);
    // Stored as ordinary images in the album `placeholders`, kept out of /random.
    assert.equal((await (await fetch(`${url}/random/count?album=placeholders`)).json()).count, 0);
  });

  it('20 simultaneous first requests cause exactly one prediction, and all end with the same picture', async () => {
    const url = await generating();
    const before = await created();
    const path = `/600x600/concurrent-cactus-${Date.now()}.png`;
    const first = await Promise.all(Array.from({ length: 20 }, () => fetch(url + path).then(async (r) => ({ status: r.status, retry: r.headers.get('retry-after'), body: Buffer.from(await r.arrayBuffer()) }))));
    assert.equal(await created(), before + 1);
    for (const a of first) {
      assert.ok(a.status === 200 || (a.status === 503 && Number(a.retry) > 0), `${a.status}`);
    }
    await new Promise((r) => setTimeout(r, 500));
    const again = await Promise.all(Array.from({ length: 5 }, () => get(url + path)));
    const bodies = new Set([...again.map((a) => a.body.toString('base64')), ...first.filter((a) => a.status === 200).map((a) => a.body.toString('base64'))]);
    assert.equal(bodies.size, 1, 'every answer is the same picture');
    assert.equal(await created(), before + 1);
  });

  it('polls a prediction that is not ready, and waits out one 429', async () => {
    const url = await generating();
    for (const words of ['slowpoke-snail', 'throttled-tortoise']) {
      const { r, body } = await get(`${url}/300x200/${words}-${Date.now()}.jpg`);
      assert.equal(r.status, 200, `${words}: ${body}`);
      assert.deepEqual([probe(body).width, probe(body).height], [300, 200]);
    }
  });

  it('maps every failure to a clear status and stores nothing', async () => {
    const url = await generating();
    const stored = await imageCount(url);
    for (const [words, status, code] of [['swamped-sea', 503, 'generation_busy'], ['broken-bridge', 502, 'generation_failed'],
      ['naughty-gnome', 422, 'unsafe_prompt'], ['glacial-glacier', 504, 'generation_timeout'], ['vanished-vase', 502, 'generation_failed']]) {
      const r = await fetch(`${url}/320x240/${words}-${Date.now()}`);
      const e = await errorOf(r);
      assert.deepEqual([e.status, e.code], [status, code], words);
      assert.doesNotMatch(e.message, /CUDA|NSFW content detected|r8_/, words);
      if (status === 503) assert.ok(Number(r.headers.get('retry-after')) > 0);
    }
    const refused = await worker({ REPLICATE_API_TOKEN: 'r8_bad', REPLICATE_API_BASE: (await fake).base });
    const e = await errorOf(await fetch(`${refused}/320x240/anything-at-all`));
    assert.deepEqual([e.status, e.code], [502, 'generation_failed']);
    assert.match(e.message, /REPLICATE_API_TOKEN/);
    assert.equal(await imageCount(url), stored, 'a failure stored an image');
  });

  it('holds to the daily limit and the token requirement; stored ones stay public', async () => {
    const url = await generating({ PLACEHOLDER_DAILY_LIMIT: '1', PLACEHOLDER_REQUIRE_TOKEN: 'true' });
    const path = `/200x200/limited-lemon-${Date.now()}.png`;
    assert.equal((await fetch(url + path)).status, 401, 'a new generation needs a token');
    assert.equal((await fetch(url + path, { headers: { Authorization: `Bearer ${UPLOAD_TOKEN}` } })).status, 200);
    assert.equal((await fetch(url.replace(/\/$/, '') + path.replace('200x200', '100x100'))).status, 200, 'cached ones are public');
    const over = await fetch(`${url}/200x200/another-apple-${Date.now()}`, { headers: { Authorization: `Bearer ${UPLOAD_TOKEN}` } });
    const e = await errorOf(over);
    assert.deepEqual([e.status, e.code], [429, 'daily_limit']);
    assert.ok(Number(over.headers.get('retry-after')) > 0);
  });

  it('one address may start only its share of the day\'s generations; a failed one is given back', async () => {
    const url = await generating({ PLACEHOLDER_DAILY_PER_ADDRESS: '2', INSTANCE: 'ph-share' });
    const from = (ip, path) => fetch(url + path, { headers: { 'cf-connecting-ip': ip } });
    const t = Date.now();
    assert.equal((await from('2001:db8:7:7::1', `/300x200/broken-bike-${t}`)).status, 502, 'a failed generation');
    assert.equal((await from('2001:db8:7:7::2', `/300x200/first-fig-${t}`)).status, 200);
    assert.equal((await from('2001:db8:7:7::3', `/300x200/second-sage-${t}`)).status, 200, 'the failure was given back');
    const over = await from('2001:db8:7:7:ffff::9', `/300x200/third-thyme-${t}`);
    const e = await errorOf(over);
    assert.deepEqual([e.status, e.code], [429, 'daily_limit'], 'a rotated address in the same /64 is the same client');
    assert.match(e.message, /PLACEHOLDER_DAILY_PER_ADDRESS/);
    assert.equal((await from('198.51.100.7', `/300x200/third-thyme-${t}`)).status, 200, 'another address has its own share');
    assert.equal((await from('2001:db8:7:7::1', `/150x100/first-fig-${t}`)).status, 200, 'made ones are served to anyone');
  });

  it('?regenerate=1 is the admin\'s, and replaces the picture', async () => {
    const url = await generating();
    const path = `/500x500/remade-radish-${Date.now()}.png`;
    const a = await get(url + path);
    assert.equal((await fetch(`${url}${path}?regenerate=1`)).status, 401);
    const b = await get(`${url}${path}?regenerate=1`, admin);
    assert.equal(b.r.headers.get('x-placeholder-source'), 'replicate', `${b.r.status} ${b.body}`);
    assert.notEqual(a.body.toString('base64'), b.body.toString('base64'));
    // The public sees the new picture at once, not the old one from the edge cache.
    const c = await get(url + path);
    assert.equal(c.body.toString('base64'), b.body.toString('base64'));
  });
});

describe('placeholders under review', () => {
  it('REVIEW_MODE=manual: a generated picture waits for approval, and the page gets the drawing meanwhile', async () => {
    const url = await generating({ REVIEW_MODE: 'manual', INSTANCE: 'ph-review' });
    const path = `/640x480/whatever-they-typed-${Date.now()}.png`;
    const first = await get(url + path);
    assert.equal(first.r.status, 200);
    assert.deepEqual([first.r.headers.get('x-placeholder-source'), first.r.headers.get('x-placeholder-review')], ['local', 'pending'], 'the generated picture was published without review');
    assert.deepEqual([probe(first.body).width, probe(first.body).height], [640, 480]);
    assert.equal(first.r.headers.get('cache-control'), 'public, max-age=300', 'kept briefly, so the approval shows soon');
    const second = await get(url + path.replace('640x480', '320x240'));
    assert.equal(second.r.headers.get('x-placeholder-review'), 'pending', 'still the drawing, with no second generation');
    const listed = await (await fetch(`${url}/api/admin/images?status=pending&album=placeholders`, { headers: admin })).json();
    assert.equal(listed.total, 1);
    const id = listed.images[0].id;
    assert.equal((await fetch(`${url}/file/${id}.png`)).status, 404, 'the stored picture is not public either');
    await fetch(`${url}/api/admin/bulk`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ action: 'approve', ids: [id] }) });
    const approved = await get(url + path);
    assert.equal(approved.r.headers.get('x-placeholder-source'), 'stored');
    assert.equal(approved.r.headers.get('x-placeholder-review'), null);
  });
});

describe('placeholder gallery (headless Chromium)', () => {
  it('shows the generated placeholders and builds a URL that previews at the exact size', async () => {
    const url = await generating();
    await get(`${url}/800x450/lighthouse-at-dusk.jpg`);
    const browser = await launch();
    try {
      for (const [width, name] of [[1200, 'placeholders.png'], [375, 'placeholders-phone.png']]) {
        const context = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: width < 500 ? 'dark' : 'light' });
        await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
        const page = await context.newPage();
        const errors = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto(`${url}/placeholders`);
        await page.waitForSelector('.card b:text("lighthouse at dusk")');
        await page.fill('#w', '320');
        await page.fill('#h', '180');
        // Typing a sentence, with the pauses a person makes: previews are drawings, and no
        // pause spends a generation.
        const before = await created();
        await page.fill('#words', '');
        for (const word of ['Cozy', ' Reading', ` Nook ${width}!`]) {
          await page.type('#words', word, { delay: 30 });
          await page.waitForTimeout(600);
        }
        await page.waitForFunction((w) => document.querySelector('#preview').src.endsWith(`/320x180/cozy-reading-nook-${w}?preview`) && document.querySelector('#preview').complete, width);
        await page.waitForFunction(() => document.querySelector('#preview').naturalWidth === 320);
        assert.equal(await page.evaluate(() => document.querySelector('#preview').naturalHeight), 180);
        assert.equal(await created(), before, 'typing made no prediction');
        await page.click('#generate');
        await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('Generated'), null, { timeout: 20_000 });
        assert.equal(await created(), before + 1, 'Generate made exactly one');
        assert.equal(await page.evaluate(() => document.querySelector('#preview').naturalWidth), 320);
        await page.fill('#w', '5000');
        await page.waitForFunction(() => document.querySelector('#clamped').textContent.includes('using 4096'));
        assert.match(await page.textContent('#url'), /\/4096x180\//);
        await page.fill('#w', '320');
        await page.click('#copy');
        assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${url}/320x180/cozy-reading-nook-${width}`);
        assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scroll');
        await page.screenshot({ path: join(SHOTS, name), fullPage: true });
        // Text and colours: in the URL, and the preview is that drawing at the exact size.
        await page.fill('#text', '你好');
        await page.fill('#bg', '#1e293b');
        await page.waitForFunction(() => document.querySelector('#url').textContent.includes('bg=1e293b'));
        assert.equal(await page.textContent('#url'), `${url}/320x180/cozy-reading-nook-${width}?text=%E4%BD%A0%E5%A5%BD&bg=1e293b`);
        await page.waitForFunction(() => document.querySelector('#preview').src.includes('text=') && document.querySelector('#preview').complete
          && document.querySelector('#preview').naturalWidth === 320);
        await page.fill('#text', '');
        await page.fill('#bg', '');
        assert.deepEqual(errors, []);
        await context.close();
      }
    } finally {
      await browser.close();
    }
  });
});
