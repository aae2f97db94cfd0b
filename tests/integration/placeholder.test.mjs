// Placeholders named by their URL, drawn locally when no image model is configured (the state
// of a fresh `scripts/dev`): exact sizes, formats, effects, caching headers, and bad input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { worker, errorOf, probe } from './harness.mjs';

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
