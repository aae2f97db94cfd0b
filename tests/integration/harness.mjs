// Starts the real Worker under `wrangler dev` (workerd with local R2 and KV) for the tests.
// One instance per distinct set of settings, shared by every test that asks for it; each has
// its own temporary storage and is killed with its whole process group when the run ends.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { deflateSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { origin } from '../fakes/origin.mjs';
import { generateImages } from '../images/generate.mjs';
import { EXT } from '../../scripts/lib/admin-client.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CORPUS = join(ROOT, 'tests', 'images');
// The big test images are made on first use (tests/images/README.md).
await generateImages();

/** Secrets every test instance runs with. */
export const UPLOAD_TOKEN = 'test-upload-token';
export const ADMIN_TOKEN = 'test-admin-token';
const BASE_VARS = { UPLOAD_TOKENS: `${UPLOAD_TOKEN},second-token`, ADMIN_TOKEN, SECRET_KEY: 'test-secret-key' };

const instances = new Map();

/** wrangler.toml without its [build] section: the tests run the bundle scripts/test built, and
 * no instance rebuilds or watches sources while others are serving. Rate limits are lifted
 * (tests share one address) unless `limits` names some, e.g. `{ RATE_LIMIT_UPLOADS: 3 }`.
 * Written once per set of limits: running instances reload when their config file changes. */
const configs = new Map();
function testConfig(limits = {}) {
  const key = JSON.stringify(limits);
  if (configs.has(key)) return configs.get(key);
  const dir = join(ROOT, '.wrangler');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `wrangler.test-${process.pid}-${configs.size}.toml`);
  const toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')
    .replace(/^\[build\][\s\S]*?(?=^\[)/m, '')
    .replace(/^main = "build\//m, 'main = "../build/')
    .replace(/^name = "(RATE_LIMIT_\w+)"\n(namespace_id = .*\n)simple = \{ limit = \d+, period = (\d+) \}/gm,
      (_, name, ns, period) => `name = "${name}"\n${ns}simple = { limit = ${limits[name] ?? 1000000}, period = ${period} }`);
  writeFileSync(path, toml);
  configs.set(key, path);
  return path;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The base URL of a Worker running with `vars` on top of the test defaults, and the rate
 * limits in `limits` (binding name → requests per period; all others lifted). */
export function worker(vars = {}, limits = {}) {
  const key = JSON.stringify([vars, limits]);
  lastUsed.set(key, ++uses);
  if (!instances.has(key)) {
    retireIdle();
    instances.set(key, startRetrying({ ...BASE_VARS, ...vars }, limits));
  }
  return instances.get(key).then((i) => i.url);
}

// Each instance is a wrangler, two workerd and two esbuild processes (several hundred MB);
// the suite asks for about seventy settings, and keeping all alive exhausted a 24 GiB machine.
// Test files run one after another and ask for their instance at the start of each test, so
// the ones asked for longest ago are the ones no test is using: they are stopped (and made
// again, empty, should a later test ask for the same settings).
const MAX_LIVE = 12;
const lastUsed = new Map();
let uses = 0;
function retireIdle() {
  while (instances.size >= MAX_LIVE) {
    const [oldest] = [...instances.keys()].sort((a, b) => lastUsed.get(a) - lastUsed.get(b));
    const p = instances.get(oldest);
    instances.delete(oldest);
    p.then((i) => { i.child.retired = true; stopChild(i.child); rmSync(i.persist, { recursive: true, force: true }); }, () => {});
  }
}

/** A port found free can be taken by another process before wrangler binds it (the suite starts
 * many instances, each with two ports), and the local runtime can fail its first answer: that
 * start is tried again on new ports, twice at most. */
async function startRetrying(vars, limits) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(vars, limits);
    } catch (e) {
      if (attempt >= 3 || !/Address already in use|the runtime answered 500 at start/.test(String(e?.message))) throw e;
    }
  }
}

async function start(vars, limits) {
  vars = { URL_UPLOAD_ALLOW_HOSTS: await origin(), ...vars };
  const port = await freePort();
  const inspector = await freePort();
  const persist = mkdtempSync(join(tmpdir(), 'imgbed-test-'));
  const args = ['wrangler', 'dev', '--config', testConfig(limits), '--local', '--ip', '127.0.0.1', '--port', String(port),
    '--inspector-port', String(inspector), '--persist-to', persist,
    '--show-interactive-dev-session=false', '--log-level', 'warn'];
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  const child = spawn('npx', ['--no-install', ...args], {
    cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  child.on('exit', (code) => {
    if (!stopping && !child.retired) console.error(`wrangler dev on port ${port} exited (${code}):\n${output}`);
  });
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${output}`);
    const r = await fetch(`${url}/api/config`).catch(() => null); // null: not up yet
    if (r?.ok) break;
    if (r?.status === 500) {
      stopChild(child);
      const text = await r.text();
      // imgbed refuses bad settings in its JSON error shape; any other 500 is the local
      // runtime failing to start (once, in a fresh clone, workerd answered "Not yet
      // implemented" to a first request): that start is tried again.
      if (!text.includes('"error"')) throw new Error(`the runtime answered 500 at start: ${text.slice(0, 200)}`);
      throw new Error(`the Worker refused its settings: ${text}`);
    }
    if (Date.now() > deadline) {
      stopChild(child);
      throw new Error(`wrangler dev did not answer within 120 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, child, persist, output: () => output };
}

/** A running instance by its URL: `output()` is everything it has logged, `persist` its storage. */
export async function instance(url) {
  for (const p of instances.values()) {
    const i = await p.catch(() => null);
    if (i?.url === url) return i;
  }
  throw new Error(`no instance at ${url}`);
}

function stopChild(child) {
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
}

let stopping = false;

export async function stopAll() {
  stopping = true;
  for (const p of instances.values()) {
    const i = await p.catch(() => null);
    if (!i) continue;
    stopChild(i.child);
    rmSync(i.persist, { recursive: true, force: true });
  }
  instances.clear();
  for (const path of configs.values()) rmSync(path, { force: true });
  configs.clear();
}

/** A test image (tests/images, or tests/images/generated for the big ones). */
export function imagePath(name) {
  const generated = join(CORPUS, 'generated', name);
  return existsSync(generated) ? generated : join(CORPUS, name);
}

export function corpus(name) {
  return readFileSync(imagePath(name));
}

/** Makes bytes unique per test (a trailing comment after JPEG EOI / PNG chunk), so dedupe
 * between tests never hides a bug. */
let counter = 0;
export function unique(bytes) {
  const tag = Buffer.from(`imgbed-test-${process.pid}-${Date.now()}-${counter++}`);
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return Buffer.concat([bytes, tag]);
  if (bytes.subarray(0, 4).toString('latin1') === '\x89PNG') {
    // Insert a private ancillary chunk before IEND (the last 12 bytes).
    const data = tag;
    const type = Buffer.from('imGb');
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(Buffer.concat([type, data])));
    return Buffer.concat([bytes.subarray(0, bytes.length - 12), len, type, data, crc, bytes.subarray(bytes.length - 12)]);
  }
  if (bytes.subarray(0, 3).toString('latin1') === 'GIF') {
    // A comment extension before the trailer.
    const body = tag.subarray(0, 255);
    return Buffer.concat([bytes.subarray(0, bytes.length - 1), Buffer.from([0x21, 0xfe, body.length]), body, Buffer.from([0, 0x3b])]);
  }
  if (bytes.subarray(8, 12).toString('latin1') === 'WEBP') {
    const padded = tag.length % 2 ? Buffer.concat([tag, Buffer.from([0])]) : tag;
    const head = Buffer.alloc(8); head.write('imGb', 0, 'latin1'); head.writeUInt32LE(tag.length, 4);
    const out = Buffer.concat([bytes, head, padded]);
    out.writeUInt32LE(out.length - 8, 4);
    return out;
  }
  throw new Error('unique(): unsupported format');
}

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

/** POSTs files as multipart to `path`; `files` is a list of [field, bytes, filename]. */
export async function postFiles(url, path, files, { headers = {}, fields = {} } = {}) {
  const form = new FormData();
  for (const [field, bytes, name] of files) form.append(field, new Blob([bytes]), name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return fetch(url + path, { method: 'POST', body: form, headers });
}

export const bearer = (t = UPLOAD_TOKEN) => ({ Authorization: `Bearer ${t}` });

/** Uploads one file with the upload token and returns its record from /api/images. */
export async function uploadOne(url, bytes, name = 'test.jpg', query = '') {
  const r = await postFiles(url, `/upload${query}`, [['file', bytes, name]], { headers: bearer() });
  if (r.status !== 200) throw new Error(`upload failed: ${r.status} ${await r.text()}`);
  const [{ src }] = await r.json();
  const id = src.split('/').pop().split('.')[0];
  return { src, id };
}

export async function errorOf(resp) {
  const body = await resp.json();
  return { status: resp.status, code: body?.error?.code, message: body?.error?.message };
}

/** Format and pixel size read from an image's header. */
export function probe(b) {
  if (b[0] === 0xff && b[1] === 0xd8) {
    let at = 2;
    while (at < b.length) {
      const m = b[at + 1];
      const len = b.readUInt16BE(at + 2);
      if (m >= 0xc0 && m <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(m)) {
        return { format: 'jpeg', height: b.readUInt16BE(at + 5), width: b.readUInt16BE(at + 7), progressive: m === 0xc2, exif: b.includes(Buffer.from('Exif\0\0')) };
      }
      at += 2 + len;
    }
  }
  if (b.subarray(1, 4).toString() === 'PNG') return { format: 'png', width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  if (b.subarray(0, 3).toString() === 'GIF') return { format: 'gif', width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  if (b.subarray(8, 12).toString() === 'WEBP') {
    const kind = b.subarray(12, 16).toString();
    if (kind === 'VP8 ') return { format: 'webp', lossy: true, width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
    if (kind === 'VP8X') return { format: 'webp', width: 1 + b.readUIntLE(24, 3), height: 1 + b.readUIntLE(27, 3), lossy: b.includes(Buffer.from('VP8 ')) };
    if (kind === 'VP8L') { const bits = b.readUInt32LE(21); return { format: 'webp', lossy: false, width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 }; }
  }
  if (b.subarray(4, 12).toString() === 'ftypavif') {
    // The size is in the first image spatial extent ('ispe') property.
    const at = b.indexOf('ispe');
    return { format: 'avif', width: at > 0 ? b.readUInt32BE(at + 8) : 0, height: at > 0 ? b.readUInt32BE(at + 12) : 0 };
  }
  return { format: 'unknown' };
}

export function u16(n) { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; }

function pngChunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

function pngHeader(w, h, depth, colorType) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = depth; ihdr[9] = colorType;
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), pngChunk('IHDR', ihdr)]);
}

export function makePng(w, h, depth, colorType, idat) {
  return Buffer.concat([pngHeader(w, h, depth, colorType), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** Deflated rows of one RGB colour. */
function solid(w, h, [r, g, b]) {
  const raw = Buffer.alloc((1 + 3 * w) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set([r, g, b], y * (1 + 3 * w) + 1 + 3 * x);
  return deflateSync(raw);
}

/** An APNG whose default image (what a still viewer shows) is `still` and whose played
 * frames are `played`, each one colour: the default image is not part of the animation. */
export function makeApng(w, h, still, played) {
  let seq = 0;
  const u32 = (...ns) => { const b = Buffer.alloc(4 * ns.length); ns.forEach((n, i) => b.writeUInt32BE(n, 4 * i)); return b; };
  const frames = played.flatMap((rgb) => {
    const fctl = Buffer.concat([u32(seq++, w, h, 0, 0), Buffer.from([0, 1, 0, 10, 0, 0])]);
    return [pngChunk('fcTL', fctl), pngChunk('fdAT', Buffer.concat([u32(seq++), solid(w, h, rgb)]))];
  });
  return Buffer.concat([pngHeader(w, h, 8, 2), pngChunk('acTL', u32(played.length, 0)), pngChunk('IDAT', solid(w, h, still)), ...frames, pngChunk('IEND', Buffer.alloc(0))]);
}

/** Every record of an instance, through the admin export (KV, the source of truth). */
export async function exportAll(url) {
  const records = [];
  let cursor = '';
  do {
    const r = await fetch(`${url}/api/admin/export${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: bearer(ADMIN_TOKEN) });
    if (r.status !== 200) throw new Error(`export: ${r.status} ${await r.text()}`);
    for (const line of (await r.text()).split('\n')) if (line.trim()) records.push(JSON.parse(line));
    cursor = r.headers.get('x-next-cursor') ?? '';
  } while (cursor);
  return records;
}


/** Checks that records, bytes, catalog and pools agree: every record serves bytes with its
 * SHA-256, the catalog counts every record, and the random pools hold exactly the active
 * images (placeholders aside). Returns the problems found, none when all is well. */
export async function audit(url, { placeholdersInRandom = false } = {}) {
  const { createHash } = await import('node:crypto');
  const records = await exportAll(url);
  const problems = [];
  for (const m of records) {
    const r = await fetch(`${url}/file/${m.id}.${EXT[m.format]}`, { headers: bearer(ADMIN_TOKEN) });
    const body = Buffer.from(await r.arrayBuffer());
    if (r.status !== 200) problems.push(`${m.id}: ${r.status}`);
    else if (createHash('sha256').update(body).digest('hex') !== m.sha256) problems.push(`${m.id}: bytes differ from the record`);
  }
  const stats = await (await fetch(`${url}/api/admin/stats`, { headers: bearer(ADMIN_TOKEN) })).json();
  if (stats.images !== records.length) problems.push(`catalog counts ${stats.images}, there are ${records.length} records`);
  const pooled = (await (await fetch(`${url}/random/count`)).json()).count;
  const active = records.filter((m) => m.status === 'active' && (placeholdersInRandom || m.album !== 'placeholders')).length;
  if (pooled !== active) problems.push(`the pools hold ${pooled}, ${active} images are active`);
  return { records, problems };
}
