// bash scripts/backup <base-url> <dir>: every record (the admin export) and every image's bytes
// (checked against the record's SHA-256) into <dir>: records.jsonl, images/<id>.<ext>.
// Running it again into the same folder downloads only what is missing or changed.
import { mkdirSync, existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { EXT, adminToken, baseUrl, call, fail, pool, sha256 } from './admin-client.mjs';

const [base, dir] = [process.argv[2] && baseUrl(process.argv[2]), process.argv[3]];
if (!base || !dir) fail('usage: bash scripts/backup <base-url> <dir>');
const token = adminToken();
mkdirSync(join(dir, 'images'), { recursive: true });

const records = [];
let cursor = '';
do {
  const r = await call(`${base}/api/admin/export${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`, token);
  if (r.status !== 200) fail(`the export answered ${r.status}: ${await r.text()}`);
  for (const line of (await r.text()).split('\n')) if (line.trim()) records.push(line);
  cursor = r.headers.get('x-next-cursor') ?? '';
} while (cursor);

let fetched = 0; let bytes = 0;
const errors = await pool(records, 4, async (line) => {
  const m = JSON.parse(line);
  const file = join(dir, 'images', `${m.id}.${EXT[m.format]}`);
  if (existsSync(file) && sha256(readFileSync(file)) === m.sha256) return;
  const r = await call(`${base}/file/${m.id}.${EXT[m.format]}`, token);
  const body = Buffer.from(await r.arrayBuffer());
  if (r.status !== 200) throw new Error(`${m.id}: ${r.status}`);
  if (sha256(body) !== m.sha256) throw new Error(`${m.id}: the bytes served differ from the record's SHA-256`);
  writeFileSync(`${file}.part`, body);
  renameSync(`${file}.part`, file);
  fetched += 1; bytes += body.length;
});
writeFileSync(join(dir, 'records.jsonl.part'), records.map((l) => `${l}\n`).join(''));
renameSync(join(dir, 'records.jsonl.part'), join(dir, 'records.jsonl'));
console.log(`${records.length} records, ${fetched} images downloaded (${(bytes / 1048576).toFixed(1)} MiB), ${records.length - fetched - errors.length} already here, into ${dir}`);
if (errors.length) fail(`${errors.length} images could not be saved:\n  ${errors.join('\n  ')}`);
