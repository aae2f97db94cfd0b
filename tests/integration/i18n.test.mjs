// Every page in English and Simplified Chinese: chosen from Accept-Language, switched with the
// control on the page (remembered in a cookie), over HTTP and in headless Chromium.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, SHOTS } from './browser.mjs';
import { worker, corpus, unique, postFiles, bearer } from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(() => browser?.close());

/** Each page with a text only its English and only its Chinese version has. */
const PAGES = [
  ['/', 'Drop images here', '把图片拖到这里'],
  ['/admin', 'Log in', '登录'],
  ['/gallery', 'All public albums', '全部公开相册'],
  ['/placeholders', 'Made so far', '已生成'],
];

describe('pages in the reader\'s language', () => {
  it('Accept-Language picks the table; the cookie from the switch wins; API errors stay English', async () => {
    const url = await worker({ ADMIN_PASSWORD: 'i18n-password', INSTANCE: 'i18n' });
    const r = await postFiles(url, '/upload', [['file', unique(corpus('small-320x211.jpg')), 'beach.jpg']], { headers: bearer() });
    const [{ delete_url: deleteUrl }] = await r.json();
    for (const [path, english, chinese] of [...PAGES, [new URL(deleteUrl).pathname, 'for good?', '永久删除']]) {
      const get = async (headers) => {
        const res = await fetch(url + path, { headers });
        assert.equal(res.status, 200, path);
        return { text: await res.text(), lang: res.headers.get('content-language'), vary: res.headers.get('vary') };
      };
      const zh = await get({ 'Accept-Language': 'zh-CN,zh;q=0.9,en;q=0.8' });
      assert.ok(zh.text.includes(chinese) && !zh.text.includes(english), `${path} in Chinese`);
      assert.match(zh.text, /<html lang="zh-CN">/);
      assert.equal(zh.lang, 'zh-CN');
      assert.ok(!zh.text.includes('{{'), `${path}: every text filled in`);
      const en = await get({ 'Accept-Language': 'en-GB,en;q=0.9' });
      assert.ok(en.text.includes(english) && !en.text.includes(chinese), `${path} in English`);
      const chosen = await get({ 'Accept-Language': 'zh-CN', Cookie: 'imgbed_lang=en' });
      assert.ok(chosen.text.includes(english), `${path}: the switch's choice wins`);
      if (!path.startsWith('/delete')) assert.match(en.vary, /Accept-Language/);
    }
    const e = await (await fetch(`${url}/file/nope`, { headers: { 'Accept-Language': 'zh-CN' } })).json();
    assert.equal(e.error.code, 'not_found');
  });

  it('in Chromium: a Chinese browser gets Chinese pages, the switch turns them English and is remembered', async () => {
    const url = await worker({ ADMIN_PASSWORD: 'i18n-password', INSTANCE: 'i18n' });
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    await page.goto(`${url}/`);
    await page.waitForFunction(() => !document.querySelector('#limits').textContent.startsWith('正在'));
    assert.match(await page.textContent('#limits'), /每个最大/, 'texts the script writes are Chinese too');
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
    await page.screenshot({ path: join(SHOTS, 'upload-zh.png') });
    // An upload's progress and result read in Chinese.
    await page.evaluate((t) => localStorage.setItem('imgbed.token', t), 'test-upload-token');
    await page.reload();
    await page.setInputFiles('#files', { name: '海边.jpg', mimeType: 'image/jpeg', buffer: unique(corpus('small-320x211.jpg')) });
    await page.waitForFunction(() => document.querySelector('#queue .item .state')?.textContent === '完成');
    for (const path of ['/gallery', '/placeholders', '/admin']) {
      await page.goto(url + path);
      assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN', path);
    }
    await page.goto(`${url}/gallery`);
    assert.equal(await page.textContent('h1'), '图库');
    await Promise.all([page.waitForNavigation(), page.selectOption('#lang-switch', 'en')]);
    assert.equal(await page.textContent('h1'), 'Gallery');
    await page.goto(`${url}/admin`);
    assert.equal(await page.textContent('#login h2'), 'Log in', 'the choice is remembered on every page');
    await Promise.all([page.waitForNavigation(), page.selectOption('#lang-switch', 'zh-CN')]);
    await page.fill('#password', 'i18n-password');
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#console:not(.hidden)');
    await page.waitForFunction(() => /张图片/.test(document.querySelector('#summary').textContent));
    assert.equal(await page.textContent('nav.tabs [data-tab=tokens]'), '令牌');
    await page.screenshot({ path: join(SHOTS, 'admin-zh.png') });
    assert.deepEqual(errors, []);
    await context.close();
  });
});
