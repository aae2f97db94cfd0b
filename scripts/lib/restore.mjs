// bash scripts/restore <dir> <base-url>: puts a backup into a deployment through
// POST /api/admin/import, keeping ids, delete links (same SECRET_KEY), status, albums and tags.
// Images already there are skipped, so an interrupted restore can simply be run again.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXT, adminToken, baseUrl, call, fail, pool } from './admin-client.mjs';

const [dir, base] = [process.argv[2], process.argv[3] && baseUrl(process.argv[3])];
if (!dir || !base) fail('usage: bash scripts/restore <dir> <base-url>');
if (!existsSync(join(dir, 'records.jsonl'))) fail(`${dir} has no records.jsonl: make it with bash scripts/backup`);
const token = adminToken();
const lines = readFileSync(join(dir, 'records.jsonl'), 'utf8').split('\n').filter((l) => l.trim());

let stored = 0; let present = 0;
const errors = await pool(lines, 4, async (line) => {
  const m = JSON.parse(line);
  const form = new FormData();
  form.append('record', line);
  form.append('file', new Blob([readFileSync(join(dir, 'images', `${m.id}.${EXT[m.format]}`))]), `${m.id}.${EXT[m.format]}`);
  const r = await call(`${base}/api/admin/import`, token, { method: 'POST', body: form });
  if (r.status === 201) stored += 1;
  else if (r.status === 200) present += 1;
  else throw new Error(`${m.id}: ${r.status} ${(await r.json().catch(() => ({})))?.error?.message ?? ''}`);
});
console.log(`${stored} images restored, ${present} were there already, into ${base}`);
if (errors.length) fail(`${errors.length} images could not be restored:\n  ${errors.join('\n  ')}`);
