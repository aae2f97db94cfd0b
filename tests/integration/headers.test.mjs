// Security headers: every page carries a strict Content-Security-Policy (its own inline blocks
// by hash, nothing else), refuses framing and keeps the Referer on this site; every image answer
// is sandboxed. Each page is opened in headless Chromium with the policy on: it must work and
// report no violation.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPage } from './browser.mjs';
import { worker, corpus, unique, postFiles, bearer, UPLOAD_TOKEN } from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(() => browser?.close());

/** Opens `path`, runs `act`, and returns the CSP violations and console errors seen. */
async function visit(url, path, act = async () => {}, token = UPLOAD_TOKEN) {
  const { page, context, errors } = await newPage(browser);
  await context.addInitScript((t) => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    if (t) localStorage.setItem('imgbed.token', t);
  }, token);
  const resp = await page.goto(url + path);
  await page.waitForLoadState('networkidle');
  await act(page);
  const violations = await page.evaluate(() => window.__violations);
  return { resp, violations, errors, page };
}

describe('security headers', () => {
  it('every page has a strict policy and works under it, with no violations', async () => {
    const url = await worker({ ADMIN_PASSWORD: 'headers-password' });
    const up = await postFiles(url, '/upload', [['file', unique(corpus('small-320x211.jpg')), 'h.jpg']], { headers: bearer() });
    const [{ src, delete_url: deleteUrl }] = await up.json();
    const image = await fetch(url + src);
    assert.equal(image.headers.get('content-security-policy'), "default-src 'none'; sandbox");
    assert.equal(image.status, 200);
    const pages = {
      '/': async (page) => {
        await page.setInputFiles('#files', { name: 'p.jpg', mimeType: 'image/jpeg', buffer: unique(corpus('small-320x211.jpg')) });
        await page.waitForFunction(() => document.querySelector('#queue .state')?.textContent === 'Done', null, { timeout: 20_000 });
      },
      '/admin': async (page) => {
        await page.fill('#password', 'headers-password');
        await page.click('#login button[type=submit]');
        await page.waitForFunction(() => document.querySelectorAll('#grid .tile img').length > 0);
        await page.click('#grid .tile img');
        await page.waitForSelector('#detail:not(.hidden)');
      },
      '/placeholders': async () => {},
      [new URL(deleteUrl).pathname]: async (page) => {
        await page.click('button[type=submit]');
        await page.waitForSelector('h1:text("Deleted")');
      },
    };
    for (const [path, act] of Object.entries(pages)) {
      const { resp, violations, errors } = await visit(url, path, act);
      const h = resp.headers();
      const csp = h['content-security-policy'] ?? '';
      assert.match(csp, /default-src 'none'/, path);
      assert.match(csp, /script-src ('sha256-[^']+'|'none')( 'sha256-[^']+')*;/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, path);
      assert.equal(h['x-frame-options'], 'DENY', path);
      assert.equal(h['referrer-policy'], 'same-origin', path);
      assert.deepEqual(violations, [], `${path}: CSP violations`);
      assert.deepEqual(errors.filter((e) => !/401/.test(e)), [], `${path}: console errors`);
    }
    const variant = await fetch(`${url}/random?w=50`);
    if (variant.status === 200) assert.equal(variant.headers.get('content-security-policy'), "default-src 'none'; sandbox");
    const placeholder = await fetch(`${url}/120x80/red-kite.png`);
    assert.equal(placeholder.headers.get('content-security-policy'), "default-src 'none'; sandbox");
  });
});
