// Benchmarks against the real Worker under wrangler dev, each beside its anchor, as ratios
// from one run. Usage: node bench/run.mjs [foundation] [transform] [random] [placeholder] [admin]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { worker, stopAll, corpus, unique, audit, CORPUS, UPLOAD_TOKEN, ADMIN_TOKEN } from '../tests/integration/harness.mjs';
import { startReplicate } from '../tests/fakes/replicate.mjs';

const auth = { Authorization: `Bearer ${UPLOAD_TOKEN}` };
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };
const ms = (x) => `${x.toFixed(1)} ms`;
const kb = (x) => `${(x / 1024).toFixed(1)} KiB`;
async function timed(fn) { const t = performance.now(); const r = await fn(); return [performance.now() - t, r]; }
async function put(url, bytes, name) {
  const r = await fetch(`${url}/upload/${name}`, { method: 'PUT', headers: auth, body: bytes });
  if (r.status !== 200) throw new Error(`upload: ${r.status} ${await r.text()}`);
  return r.json();
}
function table(rows) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const r of rows) console.log('  ' + r.map((c, i) => String(c).padEnd(w[i])).join('  '));
}

async function foundation() {
  console.log('\n## Upload 100 images, serve 1,000 GETs (wrangler dev, local R2/KV)');
  const url = await worker({ BENCH: 'foundation' });
  const src = corpus('small-320x211.jpg');
  const up = [];
  let last;
  for (let i = 0; i < 100; i++) { const [t, r] = await timed(() => put(url, unique(src), 'b.jpg')); up.push(t); last = r; }
  const get = [];
  const [total] = await timed(async () => {
    for (let i = 0; i < 1000; i += 10) {
      await Promise.all(Array.from({ length: 10 }, async () => {
        const [t, r] = await timed(async () => { const x = await fetch(last.url); await x.arrayBuffer(); return x; });
        get.push(t);
      }));
    }
  });
  table([['operation', 'median', 'p95', 'throughput'],
    ['upload 14 KB JPEG', ms(median(up)), ms(pct(up, 0.95)), `${(1000 / median(up)).toFixed(0)} /s sequential`],
    ['GET /file (10 in flight)', ms(median(get)), ms(pct(get, 0.95)), `${(1000 / (total / 1000)).toFixed(0)} /s`]]);
}

function vips(input, width, out) {
  const t = performance.now();
  const r = spawnSync('vipsthumbnail', [input, '-s', String(width), '-o', out]);
  if (r.status !== 0) throw new Error(`vipsthumbnail: ${r.stderr}`);
  return performance.now() - t;
}

async function transform() {
  console.log('\n## Transforms to 800 px: the Worker (per request, variant cache missed) vs vipsthumbnail (per process)');
  if (spawnSync('which', ['vipsthumbnail']).status !== 0) {
    console.log('  vipsthumbnail is missing: apt-get install libvips-tools');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'imgbed-bench-'));
  const rows = [['image', 'format', 'worker', 'vips', 'ratio', 'worker bytes', 'vips bytes', 'size ratio', 'wasm peak']];
  const runs = 5;
  for (const name of ['landscape-3840x2400.jpg', 'phone-24MP-6000x4000.jpg', 'alpha-3700x2400.png']) {
    // A fresh isolate per image, so the memory figure is this image's peak.
    const url = await worker({ BENCH: name });
    for (const [fmt, vopt] of [['jpeg', 'jpg[Q=80,strip]'], ['webp', 'webp[Q=80,strip]']]) {
      const times = [];
      let bytes = 0;
      let mem = 0;
      for (let i = 0; i < runs; i++) {
        const { url: file } = await put(url, unique(corpus(name)), name);
        const [t, r] = await timed(async () => { const x = await fetch(`${file}?w=800&q=80&f=${fmt}`); return [x, Buffer.from(await x.arrayBuffer())]; });
        if (r[0].status !== 200) throw new Error(`${name} ${fmt}: ${r[0].status}`);
        times.push(t);
        bytes = r[1].length;
        mem = Math.max(mem, Number(r[0].headers.get('x-wasm-memory')));
      }
      const out = join(dir, `out.${vopt}`);
      const vtimes = Array.from({ length: runs }, () => vips(join(CORPUS, name), 800, out));
      const vbytes = statSync(join(dir, `out.${fmt === 'jpeg' ? 'jpg' : 'webp'}`)).size;
      const w = median(times);
      const v = median(vtimes);
      rows.push([name, fmt, ms(w), ms(v), (w / v).toFixed(2), kb(bytes), kb(vbytes), (bytes / vbytes).toFixed(2), `${(mem / 1048576).toFixed(1)} MiB`]);
    }
  }
  table(rows);
  console.log('  (worker time includes HTTP and R2 round trips on loopback; vips time includes process start)');
}

/** A distinct tiny PNG per index: 8×8 grey with the index in its pixels. */
function tinyPng(i) {
  const crc32 = (buf) => { let c = ~0; for (const b of buf) { c ^= b; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; } return ~c >>> 0; };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(8 + (i % 3), 0); ihdr.writeUInt32BE(8, 4); ihdr[8] = 8; ihdr[9] = 0;
  const w = 8 + (i % 3);
  const raw = Buffer.alloc((w + 1) * 8);
  for (let y = 0; y < 8; y++) for (let x = 0; x < w; x++) raw[y * (w + 1) + 1 + x] = (i >> ((x + y) % 16)) & 0xff;
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** Every KV record through the admin export (KV list + a read per record): what a console
 * or picker without an index has to do. */
async function exportAll(url) {
  const records = [];
  let next = `${url}/api/admin/export`, pages = 0;
  while (next) {
    const r = await fetch(next, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    if (r.status !== 200) throw new Error(`export: ${r.status}`);
    records.push(...(await r.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l)));
    const cursor = r.headers.get('x-next-cursor');
    next = cursor ? `${url}/api/admin/export?cursor=${encodeURIComponent(cursor)}` : null;
    pages++;
  }
  return { records, pages };
}

async function seed(url, have, size) {
  const t0 = performance.now();
  for (; have < size; have += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, k) => put(url, tinyPng(have + k), `r${have + k}.png`)));
  }
  console.log(`  seeded ${size} images (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  return have;
}

async function admin() {
  console.log('\n## Admin console: catalog queries vs reading every KV record (the same answer both ways)');
  const url = await worker({ BENCH: 'admin' });
  const headers = { Authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const rows = [['library', 'request', 'median', 'p95', 'vs baseline', 'storage ops']];
  let have = 0;
  for (const size of [1000, 10000]) {
    have = await seed(url, have, size);
    const ids = (await exportAll(url)).records.map((r) => r.id);
    // Some variety for the filters: every 10th image in an album, every 7th blocked.
    if (size === 1000) {
      await fetch(`${url}/api/admin/bulk`, { method: 'POST', headers, body: JSON.stringify({ action: 'move', ids: ids.filter((_, i) => i % 10 === 0), album: 'bench' }) });
      await fetch(`${url}/api/admin/bulk`, { method: 'POST', headers, body: JSON.stringify({ action: 'block', ids: ids.filter((_, i) => i % 7 === 0) }) });
    }
    const sample = async (n, fn) => {
      const out = [];
      let ops = '';
      for (let i = 0; i < n; i++) { const [t, r] = await timed(fn(i)); out.push(t); ops = r.headers.get('x-storage-ops') ?? ''; }
      return [out, ops];
    };
    const get = (path) => () => fetch(`${url}${path}`, { headers }).then(async (r) => { if (r.status !== 200) throw new Error(`${path}: ${r.status}`); await r.arrayBuffer(); return r; });
    const [base] = await sample(3, () => async () => {
      const { records, pages } = await exportAll(url);
      const page = records.filter((r) => r.status === 'active').sort((a, b) => b.bytes - a.bytes || (a.id < b.id ? 1 : -1)).slice(0, 60);
      if (page.length !== 60) throw new Error('baseline page');
      return { headers: new Map([['x-storage-ops', `kv-list=${pages}, kv-read=${records.length}`]]) };
    });
    const anchor = median(base);
    rows.push([size, 'baseline: KV list + read all, filter, sort', ms(anchor), ms(pct(base, 0.95)), '1.00×', `kv-list=${Math.ceil(size / 500)}, kv-read=${size}`]);
    const cases = [
      ['first page (60, newest)', get('/api/admin/images')],
      ['page 10 by cursor', null],
      ['active, largest first', get('/api/admin/images?status=active&sort=size')],
      ['album + search', get('/api/admin/images?album=bench&q=r1')],
      ['stats', get('/api/admin/stats')],
      ['PATCH one image', (i) => () => fetch(`${url}/api/admin/images/${ids[i]}`, { method: 'PATCH', headers, body: JSON.stringify({ tags: [`t${i}`] }) })],
    ];
    let cursor = null;
    for (let p = 0; p < 9; p++) cursor = (await (await fetch(`${url}/api/admin/images${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`, { headers })).json()).cursor;
    cases[1][1] = get(`/api/admin/images?cursor=${encodeURIComponent(cursor)}`);
    for (const [name, fn] of cases) {
      const [t, ops] = await sample(50, typeof fn === 'function' && fn.length ? fn : () => fn);
      rows.push([size, name, ms(median(t)), ms(pct(t, 0.95)), `${(median(t) / anchor).toFixed(4)}×`, ops]);
    }
  }
  table(rows);
}

async function random() {
  console.log('\n## Random image: pool draw vs list-everything baseline');
  const rows = [['library', 'method', 'median', 'p95', 'storage ops per draw']];
  const url = await worker({ BENCH: 'random' });
  let have = 0;
  for (const size of [1000, 10000]) {
    have = await seed(url, have, size);
    const draws = [];
    let ops = '';
    for (let i = 0; i < 200; i++) {
      const [t, r] = await timed(async () => { const x = await fetch(`${url}/random?mode=json`); await x.json(); return x; });
      draws.push(t);
      ops = r.headers.get('x-storage-ops');
    }
    rows.push([size, 'pool (Durable Object)', ms(median(draws)), ms(pct(draws, 0.95)), ops]);
    const base = [];
    let calls = 0;
    for (let i = 0; i < 5; i++) {
      const [t, n] = await timed(async () => {
        const { records, pages } = await exportAll(url);
        const pick = records[Math.floor(Math.random() * records.length)];
        await (await fetch(`${url}/api/images/${pick.id}`)).json();
        return pages;
      });
      base.push(t);
      calls = n;
    }
    rows.push([size, 'read every KV record, then pick', ms(median(base)), ms(pct(base, 0.95)), `kv-list=${calls}, kv-read=${size + 1}`]);
  }
  table(rows);
}

async function placeholder() {
  console.log('\n## Placeholders: a stored placeholder at a new size and at a cached size, beside a plain /file GET of an image of the same size');
  const replicate = await startReplicate();
  const url = await worker({ BENCH: 'placeholder', REPLICATE_API_TOKEN: 'r8_test', REPLICATE_API_BASE: replicate.base });
  const slug = `bench-bird-${Date.now()}`;
  const first = await fetch(`${url}/800x600/${slug}.jpg`);
  const original = Buffer.from(await first.arrayBuffer());
  if (first.headers.get('x-placeholder-source') !== 'replicate') throw new Error(`placeholder: ${first.status} ${original}`);
  const sample = async (n, path) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      const [t, r] = await timed(async () => { const x = await fetch(`${url}${path(i)}`); await x.arrayBuffer(); return x; });
      if (r.status !== 200) throw new Error(`${path(i)}: ${r.status}`);
      out.push(t);
    }
    return out;
  };
  // 4:3 sizes not asked for before: each is a new variant (transform + R2 write).
  const fresh = await sample(30, (i) => `/${400 + 8 * i}x${300 + 6 * i}/${slug}.jpg`);
  const cached = await sample(100, () => `/800x600/${slug}.jpg`);
  const stored = await put(url, original, 'same-size.jpg');
  const plain = await sample(100, () => new URL(stored.url).pathname);
  const anchor = median(plain);
  table([['request', 'median', 'p95', 'vs plain /file'],
    ['placeholder, new size (transform)', ms(median(fresh)), ms(pct(fresh, 0.95)), `${(median(fresh) / anchor).toFixed(2)}×`],
    ['placeholder, cached size', ms(median(cached)), ms(pct(cached, 0.95)), `${(median(cached) / anchor).toFixed(2)}×`],
    ['plain /file GET, 800×600 JPEG', ms(anchor), ms(pct(plain, 0.95)), '1.00×']]);
  console.log(`  predictions made: ${(await replicate.stats()).created} (one for the whole run)`);
}

/** `load [--seconds N]`: concurrent mixed traffic at 8, 32 and 64 clients for N seconds each,
 * then a check that every upload answered 200 serves its exact bytes and is listed and pooled,
 * and that the pools are exactly the active images. */
async function load() {
  const at = process.argv.indexOf('--seconds');
  const seconds = at > 0 ? Number(process.argv[at + 1]) : 10;
  console.log(`\n## Load: mixed traffic, ${seconds} s per level (wrangler dev on this machine; rate limits lifted)`);
  const url = await worker({ BENCH: 'load', STRIP_EXIF: 'false' });
  const photos = ['small-320x211.jpg', 'portrait-1600x2400.jpg', 'exif-orientation6-gps.jpg', 'phone-24MP-6000x4000.jpg', 'square-4096.webp', 'animated-400x300.gif']
    .map((name) => [name, corpus(name)]);
  const { createHash } = await import('node:crypto');
  const sha = (b) => createHash('sha256').update(b).digest('hex');
  const uploaded = new Map(); // id → sha256 of the bytes sent
  const ids = [];
  for (const [name, bytes] of photos) { const b = unique(bytes); const r = await put(url, b, name); uploaded.set(r.id, sha(b)); ids.push(r); }
  const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
  const routes = {
    upload: [15, async () => {
      const [name, bytes] = pick(photos);
      const b = unique(bytes);
      const r = await fetch(`${url}/upload/${name}`, { method: 'PUT', headers: auth, body: b });
      if (r.status === 200) { const j = await r.json(); uploaded.set(j.id, sha(b)); ids.push(j); } else await r.arrayBuffer();
      return r.status;
    }],
    'serve /file': [35, async () => { const r = await fetch(pick(ids).url); await r.arrayBuffer(); return r.status; }],
    'transform ?w=': [15, async () => { const r = await fetch(`${pick(ids).url}?w=${pick([160, 320, 640])}`); await r.arrayBuffer(); return r.status; }],
    random: [20, async () => { const r = await fetch(`${url}/random`); await r.arrayBuffer(); return r.status; }],
    'metadata /api/images/<id>': [15, async () => { const r = await fetch(`${url}/api/images/${pick(ids).id}`); await r.arrayBuffer(); return r.status; }],
  };
  const weighted = Object.entries(routes).flatMap(([name, [w, fn]]) => Array(w).fill([name, fn]));
  for (const clients of [8, 32, 64]) {
    const stats = Object.fromEntries(Object.keys(routes).map((n) => [n, { times: [], errors: 0, codes: {} }]));
    const end = Date.now() + seconds * 1000;
    await Promise.all(Array.from({ length: clients }, async () => {
      while (Date.now() < end) {
        const [name, fn] = pick(weighted);
        const t = performance.now();
        let status;
        try { status = await fn(); } catch { status = 'network'; }
        const s = stats[name];
        s.times.push(performance.now() - t);
        if (status !== 200) { s.errors += 1; s.codes[status] = (s.codes[status] ?? 0) + 1; }
      }
    }));
    console.log(`\n  ${clients} clients:`);
    table([['route', 'requests', 'per second', 'p50', 'p99', 'errors'], ...Object.entries(stats).map(([n, s]) => [
      n, s.times.length, (s.times.length / seconds).toFixed(1), ms(pct(s.times, 0.5)), ms(pct(s.times, 0.99)),
      s.errors ? `${s.errors} ${JSON.stringify(s.codes)}` : '0'])]);
  }
  console.log(`\n  checking ${uploaded.size} uploads answered 200…`);
  let wrong = 0;
  const list = [...uploaded];
  for (let i = 0; i < list.length; i += 16) {
    await Promise.all(list.slice(i, i + 16).map(async ([id, digest]) => {
      const r = await fetch(`${url}/file/${id}`);
      const body = Buffer.from(await r.arrayBuffer());
      if (r.status !== 200 || sha(body) !== digest) wrong += 1;
    }));
  }
  const { records, problems } = await audit(url);
  const listed = new Set(records.map((m) => m.id));
  const lost = list.filter(([id]) => !listed.has(id)).length;
  console.log(`  uploads answered 200: ${uploaded.size}; lost: ${lost}; wrong bytes: ${wrong}; catalog, pools and records: ${problems.length ? problems.join('; ') : 'agree'}`);
}

const which = process.argv.slice(2).filter((a, i, all) => a !== '--seconds' && all[i - 1] !== '--seconds');
const all = { foundation, transform, random, placeholder, admin, load };
try {
  // The load test runs only when named: it takes minutes.
  for (const [name, fn] of Object.entries(all)) if (which.includes(name) || (!which.length && name !== 'load')) await fn();
} finally {
  await stopAll();
}
