// The admin console in real headless Chromium against the real Worker: log in, filter, select
// several, block, delete, rename, review and log out, at desktop and phone sizes, light and dark.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, newPage, SHOTS } from './browser.mjs';
import { worker, corpus, unique, postFiles, bearer, ADMIN_TOKEN } from './harness.mjs';

const PASSWORD = 'console-password';
const PHOTOS = ['landscape-3840x2400.jpg', 'portrait-1600x2400.jpg', 'alpha-3700x2400.png', 'square-4096.webp', 'animated-400x300.gif',
  'small-320x211.jpg', 'exif-orientation6-gps.jpg', 'phone-24MP-6000x4000.jpg'];
let browser, url, library;

async function upload(files, fields, headers) {
  const r = await postFiles(url, '/upload', files.map(([b, n]) => ['file', b, n]), { headers, fields });
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()).map(({ src }) => src.split('/').pop().split('.')[0]);
}

before(async () => {
  browser = await launch();
  url = await worker({ ADMIN_PASSWORD: PASSWORD, REVIEW_MODE: 'manual', INSTANCE: 'console' });
  // The admin's own uploads skip review: a library of real photos in two albums.
  const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  library = [
    ...await upload(PHOTOS.slice(0, 4).map((n) => [unique(corpus(n)), n.replace(/-\d.*/, '') + '.' + n.split('.').pop()]), { album: 'travel', tags: 'sea' }, admin),
    ...await upload(PHOTOS.slice(4).map((n) => [unique(corpus(n)), n.replace(/-\d.*/, '') + '.' + n.split('.').pop()]), { album: 'family' }, admin),
  ];
  // Uploads with an upload token wait for review.
  await upload([[unique(corpus('small-320x211.jpg')), 'from-picgo.jpg'], [unique(corpus('portrait-1600x2400.jpg')), 'needs-a-look.jpg']], {}, bearer());
});
after(() => browser?.close());

async function logIn(page) {
  await page.goto(`${url}/admin`);
  await page.waitForSelector('#login:not(.hidden)');
  await page.fill('#password', PASSWORD);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#console:not(.hidden)');
  await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length > 0);
  await page.waitForFunction(() => [...document.querySelectorAll('#grid img')].every((i) => i.complete && i.naturalWidth > 0));
}

const tiles = (page) => page.$$eval('#grid .tile', (els) => els.map((e) => e.querySelector('.n').textContent));

describe('admin console', () => {
  it('logs in, filters, selects several, blocks, renames, deletes, reviews and logs out', async () => {
    const { page, errors } = await newPage(browser, { origin: url });
    await page.goto(`${url}/admin`);
    await page.waitForSelector('#login:not(.hidden)');
    await page.fill('#password', 'not the password');
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0);
    assert.match(await page.textContent('#login-error'), /wrong user name or password/);
    errors.length = 0; // the refused login logs its 401
    await logIn(page);

    assert.equal(await page.textContent('#pending-count'), '2');
    assert.match(await page.textContent('#summary'), /^10 images/);
    await page.screenshot({ path: join(SHOTS, 'admin-grid.png'), fullPage: true });

    await page.fill('#f-album', 'family');
    await page.dispatchEvent('#f-album', 'change');
    await page.waitForFunction(() => /^4 images/.test(document.querySelector('#summary').textContent));
    await page.fill('#f-album', '');
    await page.dispatchEvent('#f-album', 'change');
    await page.fill('#q', 'landscape');
    await page.waitForFunction(() => /^1 image\b/.test(document.querySelector('#summary').textContent));
    assert.deepEqual(await tiles(page), ['landscape.jpg']);
    await page.fill('#q', '');
    await page.waitForFunction(() => /^10 images/.test(document.querySelector('#summary').textContent));

    // Select two published ones and block them.
    const chosen = await page.$$eval('#grid .tile', (els) => els.filter((e) => e.querySelector('.st.active')).slice(0, 2).map((e) => e.dataset.id));
    for (const id of chosen) await page.click(`#grid .tile[data-id="${id}"] input[type=checkbox]`);
    assert.equal(await page.textContent('#selcount'), '2 selected');
    await page.click('#selbar [data-bulk=block]');
    await page.waitForFunction(() => document.querySelectorAll('#grid .st.blocked').length === 2);
    const blocked = await page.$$eval('#grid .tile', (els) => els.filter((e) => e.querySelector('.st.blocked')).map((e) => e.dataset.id));
    for (const id of blocked) assert.equal((await fetch(`${url}/file/${id}`)).status, 451);
    await page.selectOption('#f-status', 'blocked');
    await page.waitForFunction(() => /^2 images/.test(document.querySelector('#summary').textContent));
    await page.selectOption('#f-status', '');
    await page.waitForFunction(() => /^10 images/.test(document.querySelector('#summary').textContent));

    // Rename one in the detail pane.
    const target = await page.$$eval('#grid .tile', (els) => els.find((e) => e.querySelector('.st.active') && e.querySelector('.n').textContent.endsWith('.jpg')).dataset.id);
    await page.click(`#grid .tile[data-id="${target}"] img`);
    await page.waitForSelector('#detail:not(.hidden) img.big');
    await page.waitForFunction(() => document.querySelector('#detail img.big').complete);
    await page.screenshot({ path: join(SHOTS, 'admin-detail.png') });
    await page.fill('#detail input[aria-label=name]', 'Renamed in the console');
    await page.click('#detail button:text("Save name")');
    await page.waitForFunction((id) => document.querySelector(`#grid .tile[data-id="${id}"] .n`)?.textContent === 'Renamed in the console.jpg' ||
      document.querySelector(`#grid .tile[data-id="${id}"] .n`)?.textContent?.startsWith('Renamed in the console'), target);
    const record = await (await fetch(`${url}/api/admin/images/${target}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
    assert.match(record.name, /^Renamed in the console\./);
    await page.keyboard.press('Escape');

    // Delete two at once, confirming the dialog.
    page.once('dialog', (d) => d.accept());
    const doomed = await page.$$eval('#grid .tile', (els) => els.filter((e) => e.querySelector('.st.active')).slice(-2).map((e) => e.dataset.id));
    for (const id of doomed) await page.click(`#grid .tile[data-id="${id}"] input[type=checkbox]`);
    await page.click('#selbar [data-bulk=delete]');
    await page.waitForFunction(() => /^8 images/.test(document.querySelector('#summary').textContent));
    for (const id of doomed) assert.equal((await fetch(`${url}/file/${id}`)).status, 404);

    // Table view.
    await page.click('#view');
    await page.waitForSelector('#table:not(.hidden) tbody tr');
    await page.screenshot({ path: join(SHOTS, 'admin-table.png'), fullPage: true });
    await page.click('#view');

    // Review: approve one, reject the other.
    await page.click('nav.tabs [data-tab=review]');
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile .quick').length === 2);
    await page.waitForFunction(() => [...document.querySelectorAll('#grid img')].every((i) => i.complete && i.naturalWidth > 0));
    await page.screenshot({ path: join(SHOTS, 'admin-review.png'), fullPage: true });
    const pending = await page.$$eval('#grid .tile', (els) => els.map((e) => e.dataset.id));
    for (const id of pending) assert.equal((await fetch(`${url}/file/${id}`)).status, 404, 'pending is hidden');
    await page.click(`#grid .tile[data-id="${pending[0]}"] .quick button:text("Approve")`);
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 1);
    await page.click(`#grid .tile[data-id="${pending[1]}"] .quick button:text("Reject")`);
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 0);
    assert.equal((await fetch(`${url}/file/${pending[0]}`)).status, 200);
    assert.equal((await fetch(`${url}/file/${pending[1]}`)).status, 451);

    // Tokens: made in the page, shown once, and they work.
    await page.click('nav.tabs [data-tab=tokens]');
    await page.fill('#t-name', 'ShareX desktop');
    await page.click('#token-form button[type=submit]');
    const token = (await page.waitForSelector('#token-value')).textContent();
    const made = await token;
    assert.match(made, /^ib_/);
    assert.equal((await postFiles(url, '/upload', [['file', unique(corpus('small-320x211.jpg')), 't.jpg']], { headers: { Authorization: `Bearer ${made}` } })).status, 200);

    // Log out: the console is gone and its API refuses the old cookie.
    await page.click('#logout');
    await page.waitForSelector('#login:not(.hidden)');
    const status = await page.evaluate(async () => (await fetch('/api/admin/stats')).status);
    assert.equal(status, 401);
    assert.deepEqual(errors.filter((e) => !/401/.test(e)), [], 'no errors in the console');
  });

  it('albums: public in the gallery, private with a signed link made in an image\'s details', async () => {
    const { page, errors } = await newPage(browser, { origin: url });
    await logIn(page);
    await page.click('nav.tabs [data-tab=albums]');
    await page.waitForSelector('#albums-table tbody tr');
    const row = (name) => `#albums-table tbody tr:has(td:text-is("${name}"))`;
    const travel = (await (await fetch(`${url}/api/admin/images?album=travel`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()).images;
    assert.equal(await page.textContent(`${row('travel')} td:nth-child(2)`), String(travel.length));
    await page.check(`${row('travel')} input[aria-label="travel is public"]`);
    await page.click(`${row('travel')} button:text("Save")`);
    await page.waitForFunction(() => document.querySelector('#toast').textContent === 'Saved travel');
    const shown = await (await fetch(`${url}/api/gallery?album=travel`)).json();
    assert.equal(shown.images.length, travel.filter((i) => i.status === 'active').length, 'the album is in the gallery');
    await page.check(`${row('family')} input[aria-label="family is private"]`);
    await page.click(`${row('family')} button:text("Save")`);
    await page.waitForFunction(() => document.querySelector('#toast').textContent === 'Saved family');
    const family = (await (await fetch(`${url}/api/admin/images?album=family`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()).images;
    const active = family.filter((i) => i.status === 'active');
    for (const i of active) assert.equal((await fetch(`${url}/file/${i.id}`)).status, 404, 'private to the public');
    await page.screenshot({ path: join(SHOTS, 'admin-albums.png') });

    // An image of the private album: its details make a signed link that opens it.
    await page.click('nav.tabs [data-tab=library]');
    await page.waitForSelector(`#grid .tile[data-id="${active[0].id}"] img`);
    await page.click(`#grid .tile[data-id="${active[0].id}"] img`);
    await page.waitForSelector('#detail:not(.hidden) img.big');
    assert.match(await page.textContent('#detail'), /Private through its album family/);
    await page.selectOption('#link-days', '3600');
    await page.click('#detail button:text("Signed link")');
    const signed = await (await page.waitForSelector('#signed input')).inputValue();
    assert.match(signed, /expires=\d+&access=/);
    assert.equal((await fetch(signed)).status, 200);
    await page.keyboard.press('Escape');
    await page.click('nav.tabs [data-tab=albums]');
    await page.waitForSelector(`${row('family')} input[aria-label="family is private"]:checked`);
    await page.uncheck(`${row('family')} input[aria-label="family is private"]`);
    await page.click(`${row('family')} button:text("Save")`);
    await page.waitForFunction(() => document.querySelector('#toast').textContent === 'Saved family');
    assert.equal((await fetch(`${url}/file/${active[0].id}`)).status, 200, 'public again');
    assert.deepEqual(errors, []);
  });

  it('works at 375 px wide in dark mode', async () => {
    const { page, errors } = await newPage(browser, { width: 375, height: 812, colorScheme: 'dark' });
    await logIn(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px)`);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(15, 17, 21)');
    await page.screenshot({ path: join(SHOTS, 'admin-phone-dark.png'), fullPage: false });
    await page.click('#grid .tile:nth-child(1) img');
    await page.waitForSelector('#detail:not(.hidden)');
    const pane = await page.$eval('#detail', (d) => d.getBoundingClientRect().width);
    assert.equal(pane, 375, 'the detail pane takes the whole phone screen');
    assert.deepEqual(errors, []);
  });
});
