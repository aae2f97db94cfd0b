// The pages, from the user test: honest results, nothing lost by one click, the token on-ramp,
// a console that works from the keyboard, and an accessibility scan (axe-core) of every page,
// light and dark, desktop and phone.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, newPage, SHOTS } from './browser.mjs';
import { worker, corpus, unique, postFiles, bearer, ADMIN_TOKEN, UPLOAD_TOKEN } from './harness.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PASSWORD = 'usertest-password';
let browser;
before(async () => { browser = await launch(); });
after(() => browser?.close());

const file = (name, bytes) => ({ name, mimeType: name.endsWith('.png') ? 'image/png' : 'image/jpeg', buffer: bytes });
const stateOf = (page, n = 1) => page.textContent(`#queue .item:nth-child(${n}) .state`);
async function uploadPage(url, { token = UPLOAD_TOKEN, ...options } = {}) {
  const { page, context, errors } = await newPage(browser, { ...options, origin: url });
  if (token) await context.addInitScript((t) => localStorage.setItem('imgbed.token', t), token);
  await page.goto(`${url}/`);
  return { page, context, errors };
}
async function logIn(page, url) {
  await page.goto(`${url}/admin`);
  await page.waitForSelector('#login:not(.hidden)');
  await page.fill('#password', PASSWORD);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#console:not(.hidden)');
}

describe('the pages, from the user test', () => {
  it('every page passes an axe-core scan (no serious or critical violations), light and dark, desktop and phone', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD, INSTANCE: 'axe' });
    const r = await postFiles(url, '/upload', [['file', unique(corpus('small-320x211.jpg')), 'beach.jpg']], { headers: bearer() });
    const [{ delete_url: deleteUrl }] = await r.json();
    const problems = [];
    for (const [width, scheme] of [[1280, 'light'], [375, 'dark']]) {
      const context = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme, bypassCSP: true });
      const page = await context.newPage();
      const scan = async (what) => {
        await page.addScriptTag({ content: AXE });
        const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`));
        for (const v of violations) problems.push(`${what}, ${width}px ${scheme}: ${v}`);
      };
      await page.goto(`${url}/`);
      await page.waitForFunction(() => !document.querySelector('#limits').textContent.startsWith('Loading'));
      await scan('upload page');
      await page.goto(`${url}/placeholders`);
      await page.waitForFunction(() => document.querySelector('#preview').complete);
      await scan('placeholders');
      await page.goto(deleteUrl);
      await scan('delete link');
      await page.goto(`${url}/admin`);
      await page.waitForSelector('#login:not(.hidden)');
      await scan('console login');
      await logIn(page, url);
      await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length > 0);
      await scan('console library');
      await page.click('#grid .tile button.n');
      await page.waitForSelector('#detail:not(.hidden)');
      await scan('console detail');
      await context.close();
    }
    assert.deepEqual(problems, []);
  });

  it('upload page: says when a link waits for review and when a file was already there', async () => {
    const url = await worker({ REVIEW_MODE: 'manual', INSTANCE: 'usertest-review' });
    const { page, context, errors } = await uploadPage(url);
    const photo = unique(corpus('small-320x211.jpg'));
    await page.setInputFiles('#files', [file('held.jpg', photo)]);
    await page.waitForFunction(() => document.querySelector('#queue .state')?.textContent.startsWith('Awaiting review'), null, { timeout: 20_000 });
    const link = await page.textContent('#queue .item:nth-child(1) .link');
    assert.match(link, /\/file\/[A-Za-z0-9]{12}\.jpg$/, 'the link is on the card, as text');
    assert.equal((await fetch(link)).status, 404, 'and it is not public yet');
    await page.setInputFiles('#files', [file('held-again.jpg', photo)]);
    await page.waitForFunction(() => document.querySelector('#queue .item:nth-child(1) .state')?.textContent.startsWith('Already uploaded'), null, { timeout: 20_000 });
    assert.equal(await page.textContent('#queue .item:nth-child(1) .link'), link);
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('upload page: a file chosen before the token starts once it is saved; the panel says where tokens come from', async () => {
    const url = await worker({ INSTANCE: 'usertest-token' });
    const { page, context } = await uploadPage(url, { token: null });
    assert.match(await page.textContent('#token-panel'), /Tokens/);
    await page.setInputFiles('#files', [file('early.jpg', unique(corpus('small-320x211.jpg')))]);
    assert.equal(await stateOf(page), 'Queued');
    await page.fill('#token-input', UPLOAD_TOKEN);
    await page.click('#token-form button');
    await page.waitForFunction(() => document.querySelector('#queue .state')?.textContent === 'Done', null, { timeout: 20_000 });
    await context.close();
  });

  it('upload page: a logged-in admin uploads without a token', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD, INSTANCE: 'usertest-admin-upload' });
    const { page, context, errors } = await newPage(browser, { origin: url });
    await logIn(page, url);
    await page.goto(`${url}/`);
    await page.waitForFunction(() => !document.querySelector('#limits').textContent.startsWith('Loading'));
    assert.equal(await page.isVisible('#token-panel'), false, 'no token asked for');
    await page.setInputFiles('#files', [file('from-the-admin.jpg', unique(corpus('small-320x211.jpg')))]);
    await page.waitForFunction(() => document.querySelector('#queue .state')?.textContent === 'Done', null, { timeout: 20_000 });
    // Without the page's CSRF token the session is not enough.
    const forged = await page.evaluate(async () => {
      const f = new FormData(); f.append('file', new Blob([new Uint8Array([0xff, 0xd8, 0xff])]), 'x.jpg');
      return (await fetch('/api/v1/upload', { method: 'POST', body: f })).status;
    });
    assert.equal(forged, 401);
    assert.deepEqual(errors.filter((e) => !/401/.test(e)), []);
    await context.close();
  });

  it('upload page: each upload shows once, Copy all follows the screen, Clear list can be undone and its delete links downloaded', async () => {
    const url = await worker({ INSTANCE: 'usertest-clear' });
    const { page, context } = await uploadPage(url);
    for (const name of ['first.jpg', 'second.jpg']) {
      await page.setInputFiles('#files', [file(name, unique(corpus('small-320x211.jpg')))]);
      await page.waitForFunction((n) => document.querySelector('#queue .item:nth-child(1) .name')?.textContent === n
        && document.querySelector('#queue .item:nth-child(1) .state').textContent === 'Done', name, { timeout: 20_000 });
    }
    assert.equal(await page.locator('#recent .item').count(), 0, 'not again under Recent uploads');
    const shown = await page.$$eval('#queue .link', (els) => els.map((e) => e.textContent));
    await page.click('#batch button[data-all="url"]');
    assert.deepEqual((await page.evaluate(() => navigator.clipboard.readText())).split('\n'), shown);

    await page.reload();
    assert.equal(await page.locator('#recent .item').count(), 2);
    await page.click('#clear-recent');
    assert.equal(await page.locator('#recent .item').count(), 0);
    assert.equal(await page.isVisible('#clear-recent'), false, 'nothing left to clear');
    assert.match(await page.textContent('#cleared'), /Cleared 2 uploads/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save-links')]);
    const saved = readFileSync(await download.path(), 'utf8');
    assert.equal((saved.match(/\/delete\//g) || []).length, 2, saved);
    await page.click('#undo-clear');
    assert.equal(await page.locator('#recent .item').count(), 2);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'clear-recent');

    // An image deleted since is marked, not shown broken.
    const gone = shown[0];
    await fetch(`${url}/api/images/${gone.split('/').pop().split('.')[0]}`, { method: 'DELETE', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('#recent .item.gone').length === 1, null, { timeout: 10_000 });
    assert.match(await page.textContent('#recent .item.gone .state'), /No longer available/);
    await context.close();
  });

  it('upload page: the hidden file input is no second tab stop; tap targets are 44 px on a phone', async () => {
    const url = await worker({ INSTANCE: 'usertest-clear' });
    const { page, context } = await uploadPage(url, { width: 375, height: 812 });
    const stops = [];
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      stops.push(await page.evaluate(() => document.activeElement.id || document.activeElement.tagName));
    }
    assert.ok(stops.includes('drop'), stops.join());
    assert.ok(!stops.includes('files'), stops.join());
    const small = await page.$$eval('button:not([hidden]), .btn', (els) => els.filter((e) => e.offsetParent && e.getBoundingClientRect().height < 44).map((e) => e.textContent));
    assert.deepEqual(small, []);
    await context.close();
  });

  it('console from the keyboard: Enter opens an image, Escape closes it and returns focus; moving uses a picker, and the toast says what happened', async () => {
    const url = await worker({ ADMIN_PASSWORD: PASSWORD, INSTANCE: 'usertest-console' });
    const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
    await postFiles(url, '/upload', [['file', unique(corpus('small-320x211.jpg')), 'harbour.jpg']], { headers: admin, fields: { album: 'travel' } });
    await postFiles(url, '/upload', [['file', unique(corpus('portrait-1600x2400.jpg')), 'lighthouse.jpg']], { headers: admin });
    const { page, context, errors } = await newPage(browser, { origin: url });
    await logIn(page, url);
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 2);
    // Tab until the first image's name button has focus.
    for (let i = 0; i < 40 && !(await page.evaluate(() => document.activeElement.matches('#grid .tile button.n'))); i++) await page.keyboard.press('Tab');
    const name = await page.evaluate(() => document.activeElement.textContent);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#detail:not(.hidden)');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'detail', 'the pane takes focus');
    assert.match(await page.textContent('#detail'), new RegExp(name.replace('.', '\\.')));
    await page.keyboard.press('Escape');
    assert.equal(await page.isVisible('#detail'), false);
    assert.equal(await page.evaluate(() => document.activeElement.textContent), name, 'focus is back where it was');

    // Select it with the keyboard (Shift+Tab to its checkbox, Space), then Move to album….
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Space');
    await page.waitForSelector('#selbar:not(.hidden)');
    assert.equal(await page.isVisible('#selbar [data-bulk=unblock]'), false, 'nothing is blocked: no Unblock');
    assert.equal(await page.isVisible('#selbar [data-bulk=approve]'), false, 'nothing is pending: no Approve');
    await page.click('#selbar [data-bulk=move]');
    await page.waitForSelector('#picker[open]');
    assert.deepEqual(await page.$$eval('#picker-list option', (o) => o.map((x) => x.value)), ['travel'], 'the existing albums to pick from');
    await page.keyboard.type('summer 2026');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#toast').textContent.includes('moved to album summer 2026'));
    assert.equal(await page.textContent('#toast'), '1 image moved to album summer 2026');
    await page.screenshot({ path: join(SHOTS, 'admin-keyboard.png') });
    assert.deepEqual(errors, []);
    await context.close();
  });
});
