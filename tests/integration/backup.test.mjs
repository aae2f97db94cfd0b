// scripts/backup and scripts/restore: a few hundred images (some blocked, some pending, in
// albums, with tags) go from one local instance into an empty one; every record comes back
// the same, every image serves its exact bytes, delete links work there, pools and counts agree.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { worker, corpus, unique, postFiles, bearer, audit, exportAll, makePng, ROOT, ADMIN_TOKEN } from './harness.mjs';
import { deflateSync } from 'node:zlib';

const run = (script, args) => promisify(execFile)('bash', [join(ROOT, 'scripts', script), ...args], { env: { ...process.env, IMGBED_ADMIN_TOKEN: ADMIN_TOKEN } });
const IMAGES = 240;

function tinyPng(i) {
  const w = 8 + (i % 5); const h = 8 + (i % 3);
  const raw = Buffer.alloc((w * 3 + 1) * h, i & 255);
  for (let y = 0; y < h; y++) raw[y * (w * 3 + 1)] = 0;
  return unique(makePng(w, h, 8, 2, deflateSync(raw)));
}

describe('backup and restore', () => {
  it('round-trips a few hundred images into an empty deployment', async () => {
    const [from, to] = await Promise.all([worker({ INSTANCE: 'backup-from' }), worker({ INSTANCE: 'backup-to' })]);
    const deleteLinks = [];
    for (let i = 0; i < IMAGES; i += 8) {
      await Promise.all(Array.from({ length: 8 }, async (_, j) => {
        const n = i + j;
        const bytes = n % 40 === 0 ? unique(corpus('small-320x211.jpg')) : tinyPng(n);
        const fields = { album: `album-${n % 3}`, tags: `t${n % 4},shared` };
        const r = await postFiles(from, '/upload?returnFormat=full', [['file', bytes, `img-${n}.png`]], { headers: bearer(), fields });
        assert.equal(r.status, 200, await r.clone().text());
        const [{ src, delete_url: del }] = await r.json();
        if (n % 50 === 1) deleteLinks.push(del);
        const id = src.split('/').pop().split('.')[0];
        const status = n % 17 === 0 ? 'blocked' : n % 23 === 0 ? 'pending' : null;
        if (status) {
          const p = await fetch(`${from}/api/admin/images/${id}`, { method: 'PATCH', headers: { ...bearer(ADMIN_TOKEN), 'content-type': 'application/json' }, body: JSON.stringify({ status }) });
          assert.equal(p.status, 200);
        }
      }));
    }
    const dir = mkdtempSync(join(tmpdir(), 'imgbed-backup-'));
    try {
      const backup = await run('backup', [from, dir]);
      assert.match(backup.stdout, new RegExp(`^${IMAGES} records, ${IMAGES} images downloaded`));
      const again = await run('backup', [from, dir]);
      assert.match(again.stdout, new RegExp(`${IMAGES} already here`), 'a second backup only checks');

      const restore = await run('restore', [dir, to]);
      assert.match(restore.stdout, new RegExp(`^${IMAGES} images restored, 0 were there already`));
      assert.match((await run('restore', [dir, to])).stdout, new RegExp(`^0 images restored, ${IMAGES} were there already`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const strip = (list) => list.map(({ channel, location, telegram, ...m }) => m).sort((a, b) => a.id.localeCompare(b.id));
    const [a, b] = await Promise.all([exportAll(from), exportAll(to)]);
    assert.equal(b.length, IMAGES);
    assert.deepEqual(strip(b), strip(a), 'ids, status, albums, tags, dates, owners and delete hashes preserved');
    const checked = await audit(to);
    assert.deepEqual(checked.problems, [], 'every image serves its exact bytes; catalog and pools agree');
    for (const q of ['/random/count', '/random/count?album=album-1', '/api/admin/stats']) {
      const count = async (url) => (await (await fetch(url + q, { headers: bearer(ADMIN_TOKEN) })).json());
      const [x, y] = await Promise.all([count(from), count(to)]);
      if (q.startsWith('/random')) assert.equal(y.count, x.count, q);
      else assert.deepEqual([y.images, y.bytes, y.by_status ?? null], [x.images, x.bytes, x.by_status ?? null], q);
    }
    for (const link of deleteLinks) {
      const r = await fetch(link.replace(from, to), { method: 'POST' });
      assert.equal(r.status, 200, `delete link ${link} works after the restore`);
    }
    assert.equal((await exportAll(to)).length, IMAGES - deleteLinks.length);
  });

  it('refuses an import whose bytes do not match its record, and needs the admin', async () => {
    const url = await worker({ INSTANCE: 'backup-to' });
    const form = (record, bytes) => { const f = new FormData(); f.append('record', record); f.append('file', new Blob([bytes]), 'x.png'); return f; };
    const bytes = tinyPng(1);
    const record = JSON.stringify({ id: 'AbCdEfGh1234', name: 'x.png', format: 'png', bytes: bytes.length, width: 8, height: 8, orientation: 'square', sha256: '0'.repeat(64), md5: '', sha1: '', uploaded: 1, status: 'active', album: null, tags: [], channel: 'r2', location: 'i/x', delete_hash: '', animated: false });
    const r = await fetch(`${url}/api/admin/import`, { method: 'POST', headers: bearer(ADMIN_TOKEN), body: form(record, bytes) });
    assert.deepEqual([r.status, (await r.json()).error.code], [400, 'bytes_mismatch']);
    const bad = await fetch(`${url}/api/admin/import`, { method: 'POST', headers: bearer(ADMIN_TOKEN), body: form('{"id":', bytes) });
    assert.deepEqual([bad.status, (await bad.json()).error.code], [400, 'bad_record']);
    assert.equal((await fetch(`${url}/api/admin/import`, { method: 'POST', headers: bearer(), body: form(record, bytes) })).status, 403);
    const badId = await fetch(`${url}/api/admin/import`, { method: 'POST', headers: bearer(ADMIN_TOKEN), body: form(record.replace('AbCdEfGh1234', '../etc'), bytes) });
    assert.deepEqual([badId.status, (await badId.json()).error.code], [400, 'bad_record']);
    const noFile = new FormData(); noFile.append('record', record);
    const missing = await fetch(`${url}/api/admin/import`, { method: 'POST', headers: bearer(ADMIN_TOKEN), body: noFile });
    assert.deepEqual([missing.status, (await missing.json()).error.code], [400, 'no_file']);
    assert.deepEqual((await exportAll(url)).filter((m) => m.id === 'AbCdEfGh1234'), [], 'nothing stored');
  });
});
