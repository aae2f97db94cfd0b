// The drive at /dav: the real rclone client (mkdir, copy, lsjson, cat, moveto, delete) and raw
// WebDAV requests as Finder and Explorer send them, checked against the catalog, with tokens of
// each scope.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { worker, corpus, unique, ADMIN_TOKEN, UPLOAD_TOKEN } from './harness.mjs';

const sha = (b) => createHash('sha256').update(b).digest('hex');
const basic = (token, user = 'me') => ({ Authorization: `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}` });
const admin = basic(ADMIN_TOKEN);
const tag = () => randomBytes(3).toString('hex');

/** Runs rclone (async: a synchronous child would stall node:test) and gives its exit code and output. */
function run(args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn('rclone', args, { env: { ...process.env, RCLONE_CONFIG: '/nonexistent', ...env } });
    const out = [];
    let err = '';
    child.stdout.on('data', (d) => { out.push(d); });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => resolve({ code, out: Buffer.concat(out), err }));
  });
}

/** rclone against the drive with `token` as the password, as the README's recipe sets it up. */
async function rcloneAs(url, token) {
  const pass = (await run(['obscure', token])).out.toString().trim();
  const env = { RCLONE_WEBDAV_URL: `${url}/dav`, RCLONE_WEBDAV_VENDOR: 'other', RCLONE_WEBDAV_USER: 'me', RCLONE_WEBDAV_PASS: pass };
  return async (...args) => {
    const r = await run(args.map((a) => a.replace(/^drive:/, ':webdav:')), env);
    assert.equal(r.code, 0, `rclone ${args.join(' ')}: ${r.err}`);
    return r.out;
  };
}

const dav = (url, path, method, headers = {}, body) => fetch(`${url}/dav${path}`, { method, headers, body });
const catalog = async (url, album) => (await (await fetch(`${url}/api/admin/images?album=${encodeURIComponent(album)}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()).images;
/** The hrefs of a PROPFIND answer, decoded. */
const hrefs = (xml) => [...xml.matchAll(/<D:href>([^<]*)<\/D:href>/g)].map((m) => decodeURIComponent(m[1]));

describe('WebDAV drive', () => {
  it('rclone: mkdir, copy, lsjson, cat, moveto and delete, each checked against the catalog', async () => {
    const url = await worker();
    const rclone = await rcloneAs(url, ADMIN_TOKEN);
    const trip = `trip ${tag()}`;
    const other = `other-${tag()}`;
    const dir = mkdtempSync(join(tmpdir(), 'imgbed-dav-'));
    const files = { 'beach day.jpg': unique(corpus('small-320x211.jpg')), '海边.jpg': unique(corpus('portrait-1600x2400.jpg')) };
    try {
      for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
      await rclone('mkdir', `drive:${trip}`);
      await rclone('copy', dir, `drive:${trip}`);
      const listed = JSON.parse(await rclone('lsjson', `drive:${trip}`));
      assert.equal(listed.length, 2);
      const stored = await catalog(url, trip);
      assert.deepEqual(listed.map((f) => [f.Name, f.Size]).sort(), stored.map((m) => [m.name, m.bytes]).sort(), 'the folder is the album');
      assert.deepEqual(listed.map((f) => f.Name).sort(), Object.keys(files).sort());
      const top = JSON.parse(await rclone('lsjson', 'drive:'));
      assert.ok(top.some((f) => f.IsDir && f.Name === trip), 'the album is a folder at the top');
      for (const name of Object.keys(files)) {
        const served = Buffer.from(await (await fetch(stored.find((m) => m.name === name).links.url)).arrayBuffer());
        assert.equal(sha(await rclone('cat', `drive:${trip}/${name}`)), sha(served), `${name}: rclone reads the image's bytes`);
      }
      await rclone('mkdir', `drive:${other}`);
      await rclone('moveto', `drive:${trip}/beach day.jpg`, `drive:${other}/sunset.jpg`);
      const moved = await catalog(url, other);
      assert.deepEqual(moved.map((m) => m.name), ['sunset.jpg'], 'renamed and moved to the other album');
      assert.deepEqual((await catalog(url, trip)).map((m) => m.name), ['海边.jpg']);
      await rclone('delete', `drive:${other}/sunset.jpg`);
      assert.deepEqual(await catalog(url, other), []);
      assert.equal((await fetch(moved[0].links.url)).status, 404, 'deleted for real');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PROPFIND at depth 0 and 1; the second photo.jpg is photo (2).jpg; Finder and Explorer habits', async () => {
    const url = await worker();
    const folder = `clash-${tag()}`;
    assert.equal((await dav(url, `/${folder}`, 'MKCOL', admin)).status, 201);
    assert.equal((await dav(url, `/${folder}`, 'MKCOL', admin)).status, 405, 'it exists');
    assert.equal((await dav(url, `/${folder}/deeper`, 'MKCOL', admin)).status, 403, 'albums are one level deep');
    const first = unique(corpus('small-320x211.jpg'));
    const second = unique(corpus('small-320x211.jpg'));
    // Finder: an empty file first, a lock, then the bytes; its resource fork beside it.
    assert.equal((await dav(url, `/${folder}/photo.jpg`, 'PUT', admin, Buffer.alloc(0))).status, 201);
    const lock = await dav(url, `/${folder}/photo.jpg`, 'LOCK', { ...admin, 'content-type': 'application/xml' }, '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>');
    assert.equal(lock.status, 200);
    assert.match(lock.headers.get('lock-token'), /^<opaquelocktoken:/);
    assert.equal((await dav(url, `/${folder}/photo.jpg`, 'PUT', admin, first)).status, 201);
    assert.equal((await dav(url, `/${folder}/photo.jpg`, 'UNLOCK', { ...admin, 'lock-token': lock.headers.get('lock-token') })).status, 204);
    assert.equal((await dav(url, `/${folder}/._photo.jpg`, 'PUT', admin, Buffer.from('AppleDouble'))).status, 201);
    const again = await dav(url, `/${folder}/photo.jpg`, 'PUT', admin, second);
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('location'), `/dav/${folder}/photo%20(2).jpg`);

    const one = await dav(url, `/${folder}`, 'PROPFIND', { ...admin, depth: '0' });
    assert.equal(one.status, 207);
    assert.deepEqual(hrefs(await one.text()), [`/dav/${folder}/`]);
    const all = await dav(url, `/${folder}/`, 'PROPFIND', { ...admin, depth: '1' });
    const xml = await all.text();
    assert.deepEqual(hrefs(xml), [`/dav/${folder}/`, `/dav/${folder}/photo.jpg`, `/dav/${folder}/photo (2).jpg`], 'oldest first; no empty file, no resource fork');
    assert.match(xml, new RegExp(`<D:getcontentlength>${first.length}</D:getcontentlength>`));
    assert.equal(sha(Buffer.from(await (await dav(url, `/${folder}/photo (2).jpg`, 'GET', admin)).arrayBuffer())), sha(second));
    assert.equal(sha(Buffer.from(await (await dav(url, `/${folder}/photo.jpg`, 'GET', admin)).arrayBuffer())), sha(first));
    const range = await dav(url, `/${folder}/photo.jpg`, 'GET', { ...admin, range: 'bytes=0-99' });
    assert.deepEqual([range.status, (await range.arrayBuffer()).byteLength], [206, 100]);
    const file = await dav(url, `/${folder}/photo (2).jpg`, 'PROPFIND', { ...admin, depth: '0' });
    assert.deepEqual(hrefs(await file.text()), [`/dav/${folder}/photo (2).jpg`]);
    assert.equal((await dav(url, `/${folder}/photo.jpg`, 'PROPPATCH', admin, '<D:propertyupdate xmlns:D="DAV:"/>')).status, 207);

    assert.equal((await dav(url, `/${folder}`, 'DELETE', admin)).status, 409, 'a folder that holds images stays');
    const options = await dav(url, '/', 'OPTIONS');
    assert.equal(options.status, 200);
    assert.equal(options.headers.get('dav'), '1, 2');
    assert.match(options.headers.get('allow'), /PROPFIND/);
    assert.equal((await dav(url, '/nowhere/x.jpg', 'PUT', admin, first)).status, 409, 'no such folder');
    // Bad input: a clear error, nothing stored.
    const notImage = await dav(url, `/${folder}/notes.txt`, 'PUT', admin, Buffer.from('just text, not a picture'));
    assert.deepEqual([notImage.status, (await notImage.json()).error.code], [415, 'unsupported_type']);
    assert.equal((await dav(url, `/${folder}/photo.jpg`, 'MOVE', admin)).status, 400, 'MOVE needs a Destination');
    assert.equal((await dav(url, `/${folder}/photo.jpg`, 'MOVE', { ...admin, destination: 'https://elsewhere.example/x.jpg' })).status, 502, 'not this drive');
    assert.equal((await dav(url, `/${folder}/photo.jpg`, 'MOVE', { ...admin, destination: `/dav/${folder}/photo (2).jpg`, overwrite: 'F' })).status, 412);
    assert.equal((await dav(url, '/bad|name', 'MKCOL', admin)).status, 400);
    assert.equal((await dav(url, `/${folder}/a/b/c.jpg`, 'PROPFIND', { ...admin, depth: '0' })).status, 404);
    assert.deepEqual(hrefs(await (await dav(url, `/${folder}/`, 'PROPFIND', { ...admin, depth: '1' })).text()).length, 3, 'still the two photos');
    assert.equal((await dav(url, `/${folder}/nothing.jpg`, 'GET', admin)).status, 404);
  });

  it('who may do what: no credential, a wrong token, an upload token, console tokens by scope', async () => {
    const url = await worker();
    const folder = `scopes-${tag()}`;
    const noAuth = await dav(url, '/', 'PROPFIND', { depth: '1' });
    assert.equal(noAuth.status, 401);
    assert.match(noAuth.headers.get('www-authenticate'), /^Basic /, 'clients are asked to sign in');
    assert.equal((await dav(url, '/', 'PROPFIND', { ...basic('not-a-token'), depth: '1' })).status, 401);
    // A body without a credential is refused before it is read.
    const anonymous = await dav(url, `/${folder}/x.jpg`, 'PUT', {}, Buffer.alloc(3 << 20));
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate'), /^Basic /);

    assert.equal((await dav(url, `/${folder}`, 'MKCOL', admin)).status, 201);
    assert.equal((await dav(url, `/${folder}/admins.jpg`, 'PUT', admin, unique(corpus('small-320x211.jpg')))).status, 201);
    // An upload token from the settings uploads and sees no files.
    const uploader = basic(UPLOAD_TOKEN);
    assert.equal((await dav(url, `/${folder}/mine.jpg`, 'PUT', uploader, unique(corpus('small-320x211.jpg')))).status, 201);
    assert.deepEqual(hrefs(await (await dav(url, '/', 'PROPFIND', { ...uploader, depth: '1' })).text()).filter((h) => h.endsWith('.jpg')), []);
    assert.equal((await dav(url, `/${folder}/mine.jpg`, 'DELETE', uploader)).status, 403, 'an upload token may not delete');

    const make = async (scopes) => (await (await fetch(`${url}/api/admin/tokens`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: `dav ${scopes}`, scopes }) })).json()).token;
    const lister = basic(await make(['upload', 'list']));
    const deleter = basic(await make(['upload', 'list', 'delete']));
    assert.equal((await dav(url, `/${folder}/listed.jpg`, 'PUT', lister, unique(corpus('small-320x211.jpg')))).status, 201);
    const seen = hrefs(await (await dav(url, `/${folder}`, 'PROPFIND', { ...lister, depth: '1' })).text());
    assert.deepEqual(seen, [`/dav/${folder}/`, `/dav/${folder}/listed.jpg`], 'a token lists its own uploads only');
    assert.equal((await dav(url, `/${folder}/listed.jpg`, 'DELETE', lister)).status, 403, 'no delete scope');
    assert.equal((await dav(url, `/${folder}/listed.jpg`, 'MOVE', { ...lister, destination: `/dav/${folder}/renamed.jpg` })).status, 403);
    assert.equal((await dav(url, `/${folder}/deleted.jpg`, 'PUT', deleter, unique(corpus('small-320x211.jpg')))).status, 201);
    assert.equal((await dav(url, `/${folder}/admins.jpg`, 'DELETE', deleter)).status, 404, "the admin's file is not in this token's drive");
    assert.equal((await dav(url, `/${folder}/deleted.jpg`, 'DELETE', deleter)).status, 204);
    const names = (await catalog(url, folder)).map((m) => m.name).sort();
    assert.deepEqual(names, ['admins.jpg', 'listed.jpg', 'mine.jpg'], 'only the delete-scoped token deleted, and only its own');
  });
});
