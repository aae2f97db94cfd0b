// The upload page in real headless Chromium (Debian's), against the real Worker.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { worker, corpus, unique, UPLOAD_TOKEN } from './harness.mjs';
import { serveBytes } from '../fakes/origin.mjs';

import { launch, SHOTS } from './browser.mjs';

let browser;

before(async () => { browser = await launch(); });
after(() => browser?.close());

/** A page with the token already saved (unless `token` is null), collecting console errors. */
async function open(url, { token = UPLOAD_TOKEN, width = 1200, height = 900 } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  if (token) await context.addInitScript((t) => localStorage.setItem('imgbed.token', t), token);
  await page.goto(url + '/');
  await page.waitForSelector('#limits:not(:text("Loading"))');
  return { page, context, errors };
}

/** Puts `bytes` into the page as a File. */
async function dispatchFiles(page, kind, files) {
  await page.evaluate(([kind, files]) => {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
    if (kind === 'paste') document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
    else document.querySelector('#drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true }));
  }, [kind, files.map(([name, type, bytes]) => ({ name, type, b64: bytes.toString('base64') }))]);
}

const states = (page) => page.$$eval('#queue .item .state', (els) => els.map((e) => e.textContent));

describe('upload page', () => {
  it('uploads three photos at once with progress to done, and copies Markdown', async () => {
    const url = await worker();
    const { page, context, errors } = await open(url);
    const names = ['landscape-3840x2400.jpg', 'portrait-1600x2400.jpg', 'alpha-3700x2400.png'];
    const files = names.map((n) => ({ name: n, mimeType: n.endsWith('png') ? 'image/png' : 'image/jpeg', buffer: unique(corpus(n)) }));
    await page.setInputFiles('#files', files);
    await page.waitForFunction(() => [...document.querySelectorAll('#queue .state')].filter((s) => s.textContent === 'Done').length === 3, null, { timeout: 30_000 });
    const bars = await page.$$eval('#queue progress', (els) => els.map((e) => e.value));
    assert.deepEqual(bars, [100, 100, 100]);
    assert.deepEqual((await page.$$eval('#queue .name', (els) => els.map((e) => e.textContent))).sort(), [...names].sort());

    await page.click('#queue .item:first-child button[aria-label="Copy Markdown"]');
    await page.waitForSelector('#queue .item:first-child .copied');
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(clip, /^!\[[^\]]+\]\(http:\/\/127\.0\.0\.1:\d+\/file\/[A-Za-z0-9]{12}\.(jpg|png)\)$/);
    const served = await fetch(clip.match(/\((.*)\)/)[1]);
    assert.equal(served.status, 200);

    await page.click('#batch button[data-all="url"]');
    const all = (await page.evaluate(() => navigator.clipboard.readText())).split('\n');
    assert.equal(all.length, 3);

    await page.screenshot({ path: join(SHOTS, 'desktop.png'), fullPage: true });
    // The batch is remembered in this browser, with delete links (on screen once: after a
    // reload, under Recent uploads).
    assert.equal(await page.locator('#recent .item').count(), 0);
    await page.reload();
    assert.equal(await page.locator('#recent .item').count(), 3);
    assert.equal(await page.locator('#recent a:text("Delete…")').count(), 3);
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('takes a pasted screenshot and a dropped file', async () => {
    const url = await worker();
    const { page, context, errors } = await open(url);
    await dispatchFiles(page, 'paste', [['image.png', 'image/png', unique(corpus('alpha-3700x2400.png'))]]);
    await page.waitForFunction(() => document.querySelector('#queue .state')?.textContent === 'Done', null, { timeout: 20_000 });
    const d = new Date(), p = (n) => String(n).padStart(2, '0');
    assert.match(await page.textContent('#queue .item .name'), new RegExp(`^screenshot-${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-\\d{6}\\.png$`), 'named in local time');
    await dispatchFiles(page, 'drop', [['dropped.jpg', 'image/jpeg', unique(corpus('small-320x211.jpg'))]]);
    await page.waitForFunction(() => [...document.querySelectorAll('#queue .state')].filter((s) => s.textContent === 'Done').length === 2, null, { timeout: 20_000 });
    assert.equal(await page.textContent('#queue .item:first-child .name'), 'dropped.jpg');
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('refuses an oversized file on the page and shows the server\'s reason for a non-image; retry works', async () => {
    const url = await worker();
    const { page, context } = await open(url);
    await page.setInputFiles('#files', [
      { name: 'huge.jpg', mimeType: 'image/jpeg', buffer: corpus('large-3840x2400.jpg') },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a picture at all') },
    ]);
    await page.waitForFunction(() => [...document.querySelectorAll('#queue .state.failed')].length === 2, null, { timeout: 20_000 });
    const text = (await states(page)).join(' | ');
    const mib = (corpus('large-3840x2400.jpg').length / 1048576).toFixed(1);
    assert.ok(text.includes(`Too large: ${mib} MiB is over the 5.0 MiB limit`), text);
    assert.match(text, /not an image imgbed accepts/);
    assert.equal(await page.locator('#queue .item:has-text("huge.jpg") button:text("Retry")').count(), 0, 'retrying cannot make it smaller');
    assert.equal(await page.locator('#queue .item:has-text("notes.txt") button:text("Retry")').count(), 0, 'nor another kind of file');
    // …but compression can: it is offered, and it works.
    await page.click('#queue .item:has-text("huge.jpg") button:text("Compress and upload")');
    await page.waitForFunction(() => [...document.querySelectorAll('#queue .item')].find((li) => li.textContent.includes('huge.jpg'))
      ?.querySelector('.state').textContent.startsWith('Done'), null, { timeout: 60_000 });
    await context.close();
  });

  it('asks for the token, says clearly when it is wrong, and uploads with the right one', async () => {
    const url = await worker();
    const { page, context, errors } = await open(url, { token: null });
    assert.equal(await page.isVisible('#token-panel'), true, 'the page asks for a token up front');
    await page.fill('#token-input', 'wrong-token');
    await page.click('#token-form button');
    await page.setInputFiles('#files', [{ name: 'a.jpg', mimeType: 'image/jpeg', buffer: unique(corpus('small-320x211.jpg')) }]);
    await page.waitForSelector('#token-error:not([hidden])');
    assert.match(await page.textContent('#token-error'), /not accepted/);
    assert.match((await states(page)).join(), /not accepted/);
    await page.fill('#token-input', UPLOAD_TOKEN);
    await page.click('#token-form button');
    await page.waitForFunction(() => document.querySelector('#queue .state')?.textContent === 'Done', null, { timeout: 20_000 });
    assert.equal(await page.evaluate(() => localStorage.getItem('imgbed.token')), UPLOAD_TOKEN);
    // The only console error is the browser's own report of the 403 response.
    assert.ok(errors.every((e) => /403/.test(e)), errors.join('\n'));
    await context.close();
  });

  it('offers compression and reports what it saved', async () => {
    const url = await worker();
    const { page, context } = await open(url);
    assert.equal(await page.isVisible('#compress'), true);
    await page.check('#compress');
    await page.setInputFiles('#files', [{ name: 'big.jpg', mimeType: 'image/jpeg', buffer: unique(corpus('landscape-3840x2400.jpg')) }]);
    await page.waitForFunction(() => document.querySelector('#queue .state')?.textContent.startsWith('Done'), null, { timeout: 30_000 });
    assert.match(await page.textContent('#queue .state'), /^Done · compressed to 3840×2400, \d+(\.\d)? KiB from 1\.3 MiB$/);
    await context.close();
  });

  it('uploads from a pasted URL', async () => {
    const url = await worker();
    const { page, context } = await open(url);
    const source = await serveBytes(`/page-${Date.now()}.jpg`, unique(corpus('small-320x211.jpg')));
    await page.fill('#url-input', source);
    await page.click('#url-form button');
    await page.waitForFunction(() => document.querySelector('#queue .state')?.textContent === 'Done', null, { timeout: 20_000 });
    await context.close();
  });

  it('fits a 375 px phone screen in dark mode, and works from the keyboard', async () => {
    const url = await worker();
    const context = await browser.newContext({ viewport: { width: 375, height: 812 }, colorScheme: 'dark', deviceScaleFactor: 2 });
    await context.addInitScript((t) => localStorage.setItem('imgbed.token', t), UPLOAD_TOKEN);
    const page = await context.newPage();
    await page.goto(url + '/');
    await page.setInputFiles('#files', [{ name: 'IMG_2041.jpg', mimeType: 'image/jpeg', buffer: unique(corpus('portrait-1600x2400.jpg')) }]);
    await page.waitForFunction(() => document.querySelector('#queue .state')?.textContent === 'Done', null, { timeout: 20_000 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.equal(overflow, 0, 'no horizontal scrolling');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(15, 17, 21)');
    // Keyboard: Tab reaches the drop zone, Enter opens the file chooser.
    await page.keyboard.press('Tab');
    let focused = await page.evaluate(() => document.activeElement.id);
    while (focused !== 'drop') { await page.keyboard.press('Tab'); focused = await page.evaluate(() => document.activeElement.id); }
    await page.evaluate(() => {
      window.pickerOpened = false;
      document.querySelector('#files').addEventListener('click', () => { window.pickerOpened = true; });
    });
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => window.pickerOpened), true, 'Enter on the drop zone opens the file picker');
    await page.screenshot({ path: join(SHOTS, 'phone.png'), fullPage: true });
    await context.close();
  });
});
