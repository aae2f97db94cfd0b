// Benchmarks against the real Worker under wrangler dev, each beside its anchor, as ratios
// from one run. Usage: node bench/run.mjs [foundation] [transform] [random] [placeholder] [admin] [cpu] [serve]
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { worker, instance, freePort, stopAll, corpus, imagePath, unique, audit, ROOT, UPLOAD_TOKEN, ADMIN_TOKEN } from '../tests/integration/harness.mjs';
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
        const [t, r] = await timed(async () => { // The admin token: the wasm memory header goes to the operator only.
          const x = await fetch(`${file}?w=800&q=80&f=${fmt}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } }); return [x, Buffer.from(await x.arrayBuffer())]; });
        if (r[0].status !== 200) throw new Error(`${name} ${fmt}: ${r[0].status}`);
        times.push(t);
        bytes = r[1].length;
        mem = Math.max(mem, Number(r[0].headers.get('x-wasm-memory')));
      }
      const out = join(dir, `out.${vopt}`);
      const vtimes = Array.from({ length: runs }, () => vips(imagePath(name), 800, out));
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

// ---- CPU and memory of the user Worker's own workerd process (not wrangler's proxy) ----

/** The workerd process that runs the Worker at `url`: a descendant of its wrangler, and not
 * the one that listens on the public port (that is wrangler's entry proxy). */
async function workerdOf(url, child) {
  child ??= (await instance(url)).child;
  const port = new URL(url).port;
  const parent = (pid) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
  const below = (pid) => { for (let p = pid; p > 1; p = parent(p)) if (p === child.pid) return true; return false; };
  for (const d of readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)) {
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.split('\0')[0].endsWith('/workerd') && !cmd.includes(`entry=127.0.0.1:${port}\0`) && below(d)) return d;
    } catch { /* gone */ }
  }
  throw new Error('no workerd process found for ' + url);
}
const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || 100);
const cpuOf = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * TICK_MS; };
const statusKiB = (pid, field) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`))[1]);
/** Peak resident growth of `pid` while `fn` runs, in MiB (the peak is reset first). */
async function growth(pid, fn) {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const before = statusKiB(pid, 'VmRSS');
  const result = await fn();
  return [(statusKiB(pid, 'VmHWM') - before) / 1024, result];
}
/** Waits until `pid`'s resident size has stopped moving (1 s without growing, 15 s at most):
 * the first requests of a kind set off background work (most likely V8 compiling the hot wasm
 * functions again, optimised: tens of MiB) that would otherwise be counted against whatever
 * request came next. */
async function settle(pid) {
  let last = statusKiB(pid, 'VmRSS');
  for (let still = 0, t = 0; still < 4 && t < 60; t++) {
    await new Promise((r) => setTimeout(r, 250));
    const now = statusKiB(pid, 'VmRSS');
    still = now > last + 256 ? 0 : still + 1;
    last = now;
  }
}
const sha = (b) => createHash('sha256').update(b).digest('hex');

/** A PNG of noise, stored uncompressed: `side`² RGB pixels, about 3·side² bytes. */
function noisePng(side) {
  const crc32 = (buf) => { let c = ~0; for (const b of buf) { c ^= b; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; } return ~c >>> 0; };
  const chunk = (type, data, crc = true) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc ? crc32(Buffer.concat([Buffer.from(type), data])) : 0);
    return [len, Buffer.from(type), data, c];
  };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(side, 0); ihdr.writeUInt32BE(side, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = randomBytes((side * 3 + 1) * side);
  for (let y = 0; y < side; y++) raw[y * (side * 3 + 1)] = 0;
  const idat = deflateSync(raw, { level: 0 });
  const parts = [Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), ...chunk('IHDR', ihdr), ...chunk('IDAT', idat), ...chunk('IEND', Buffer.alloc(0))];
  return Buffer.concat(parts);
}

/** `cpu`: the Worker process's CPU per request class (N sequential requests), less what a
 * route that touches no storage costs, beside the Free plan's 10 ms. An upper bound: the
 * local R2, KV and Durable Object run in the same process. */
async function cpu() {
  console.log('\n## CPU per request (user workerd process, N sequential requests; net = less /api/config on the same instance)');
  const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const photo = corpus('landscape-3840x2400.jpg');
  const large = corpus('large-3840x2400.jpg');
  const rows = [['request', 'N', 'CPU/request', 'net', 'budget', '']];
  const nets = {};
  /** Measures `classes` on a fresh instance with `vars`; its first class is the baseline. */
  const measure = async (vars, classes) => {
    const url = await worker({ BENCH: 'cpu', MAX_UPLOAD_BYTES: String(25 << 20), ...vars });
    const pid = await workerdOf(url);
    const { id, url: file } = await put(url, unique(photo), 'photo.jpg');
    await (await fetch(`${file}?w=256`)).arrayBuffer();
    // The photo in a public album (for the gallery), and a signed link to it.
    await fetch(`${url}/api/admin/images/${id}`, { method: 'PATCH', headers: admin, body: '{"album":"bench"}' });
    await fetch(`${url}/api/admin/albums/bench`, { method: 'PATCH', headers: admin, body: '{"public":true}' });
    const link = (await (await fetch(`${url}/api/admin/images/${id}/links`, { method: 'POST', headers: admin, body: '{}' })).json()).url;
    let base = 0;
    for (const [name, n, fn] of classes({ url, id, file, link })) {
      const r0 = await fn(); await r0.arrayBuffer();
      if (r0.status >= 400) throw new Error(`${name}: ${r0.status}`);
      const start = cpuOf(pid);
      for (let i = 0; i < n; i++) { const r = await fn(); await r.arrayBuffer(); if (r.status >= 400) throw new Error(`${name}: ${r.status}`); }
      const per = (cpuOf(pid) - start) / n;
      const first = !base;
      if (first) base = per;
      const net = Math.max(0, per - base);
      nets[name] = net;
      rows.push([name, n, ms(per), first ? '—' : ms(net), first ? '' : '10 ms', first ? '(baseline)' : net <= 10 ? 'ok' : 'OVER']);
    }
  };
  let width = 300;
  await measure({}, ({ url, id, file, link }) => [
    ['no storage: /api/config', 200, () => fetch(`${url}/api/config`)],
    ['view 1.4 MB original', 50, () => fetch(file)],
    ['view through a signed link', 50, () => fetch(link)],
    ['gallery page /gallery', 100, () => fetch(`${url}/gallery`)],
    ['gallery API /api/gallery', 100, () => fetch(`${url}/api/gallery`)],
    ['view, Range 64 KiB', 100, () => fetch(file, { headers: { Range: 'bytes=100000-165535' } })],
    ['cached variant ?w=256', 100, () => fetch(`${file}?w=256`)],
    ['/random', 100, () => fetch(`${url}/random`)],
    ['metadata /api/images/<id>', 100, () => fetch(`${url}/api/images/${id}`)],
    ['console first page /api/admin/images', 50, () => fetch(`${url}/api/admin/images`, { headers: admin })],
    ['console page /admin', 100, () => fetch(`${url}/admin`)],
    ['upload page /', 100, () => fetch(`${url}/`)],
    ['upload 1.4 MB photo', 20, () => fetch(`${url}/upload/p.jpg`, { method: 'PUT', headers: auth, body: unique(photo) })],
    ['upload 9 MB photo', 6, () => fetch(`${url}/upload/l.jpg`, { method: 'PUT', headers: auth, body: unique(large) })],
    ['new variant, Images engine', 20, () => fetch(`${file}?w=${width++}`)],
    ['new AVIF variant, Images engine', 10, () => fetch(`${file}?w=${width++}&f=avif`)],
    ['placeholder drawn locally', 20, () => fetch(`${url}/${400 + width++}x300/sunglasses-sloth`)],
  ]);
  await measure({ TRANSFORM_ENGINE: 'wasm' }, ({ url, file }) => [
    ['no storage: /api/config (wasm-engine instance)', 200, () => fetch(`${url}/api/config`)],
    ['new variant, wasm engine', 8, () => fetch(`${file}?w=${width++}`)],
  ]);
  // The floor of this method: the local R2, KV and cache simulators run in the same process,
  // so the minimal JavaScript Worker doing the least the same job needs is measured the same
  // way, and imgbed's own share is what it costs beyond that.
  const minimal = await minimalWorker();
  try {
    const mpid = await workerdOf(minimal.url, minimal.child);
    const per = async (n, fn) => { await (await fn(0)).arrayBuffer(); const t = cpuOf(mpid); for (let i = 0; i < n; i++) await (await fn(i)).arrayBuffer(); return (cpuOf(mpid) - t) / n; };
    const mbase = await per(200, () => fetch(`${minimal.url}/file/none`));
    const floor = (name, n, per, of, budget) => {
      const net = Math.max(0, per - mbase), own = Math.max(0, nets[of] - net);
      rows.push([`anchor: minimal JS Worker, ${name}`, n, ms(per), ms(net), '', '(simulator floor)']);
      rows.push([`  imgbed's own share of "${of}"`, '', '', ms(own), budget, own <= Number.parseFloat(budget) ? 'ok' : 'OVER']);
    };
    floor('R2+KV put of the 1.4 MB photo', 20, await per(20, (i) => fetch(`${minimal.url}/seed/p${i}`, { method: 'PUT', body: photo })), 'upload 1.4 MB photo', '10 ms');
    floor('R2+KV put of the 9 MB photo', 6, await per(6, (i) => fetch(`${minimal.url}/seed/l${i}`, { method: 'PUT', body: large })), 'upload 9 MB photo', '30 ms');
    let w = 300;
    floor('R2 get → Images binding', 20, await per(20, () => fetch(`${minimal.url}/transform/p0?w=${w++}`)), 'new variant, Images engine', '10 ms');
  } finally { minimal.stop(); }
  table(rows);
  console.log(`  (CPU time from /proc/<pid>/stat in ${TICK_MS} ms ticks; the first request of each class is not counted)`);
}

/** Starts the minimal KV + R2 Worker in bench/minimal; returns its URL and a stop function. */
async function minimalWorker() {
  const port = await freePort();
  const persist = mkdtempSync(join(tmpdir(), 'imgbed-minimal-'));
  const child = spawn('npx', ['--no-install', 'wrangler', 'dev', '--config', join(ROOT, 'bench/minimal/wrangler.toml'), '--local', '--ip', '127.0.0.1',
    '--port', String(port), '--persist-to', persist, '--show-interactive-dev-session=false', '--log-level', 'warn'],
  { cwd: ROOT, detached: true, stdio: 'ignore', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' } });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if ((await fetch(`${url}/file/none`).catch(() => null))?.status === 404) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, child, stop: () => { try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ } rmSync(persist, { recursive: true, force: true }); } };
}

/** nginx serving `bytes` as /f.jpg; returns its URL and a stop function. */
async function nginx(bytes) {
  const dir = mkdtempSync(join(tmpdir(), 'imgbed-nginx-'));
  const port = await freePort();
  writeFileSync(join(dir, 'f.jpg'), bytes);
  writeFileSync(join(dir, 'nginx.conf'), `user root; daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:${port}; root ${dir}; } }`);
  const child = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore', detached: true });
  const url = `http://127.0.0.1:${port}/f.jpg`;
  for (let i = 0; i < 50 && (await fetch(url).catch(() => null))?.status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  return { url, stop: () => { try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ } rmSync(dir, { recursive: true, force: true }); } };
}

/** Requests per second from wrk: 2 threads, 16 connections, `seconds` long. */
function wrk(url, seconds = 5) {
  const r = spawnSync('wrk', ['-t2', '-c16', `-d${seconds}s`, url]);
  const out = r.stdout.toString();
  const rate = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
  const errors = out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1];
  if (!rate || errors) throw new Error(`wrk ${url}: ${out}`);
  return rate;
}

/** `serve`: /file throughput beside the minimal KV + R2 Worker, /api/config and nginx; then
 * the Worker's memory under 24 concurrent views of a 20 MB original (full and Range), its
 * growth from a 20 MB upload and from 140 MiB chunked PUTs, every body hashed. */
async function serve() {
  console.log('\n## Serving: /file of a small JPEG (size below) beside a minimal KV + R2 Worker (wrk, 16 connections, 5 s each)');
  const url = await worker({ BENCH: 'serve', MAX_UPLOAD_BYTES: String(25 << 20) });
  // A small JPEG (about 33 KB): a photo made smaller by the Worker itself.
  const small = Buffer.from(await (await fetch(`${(await put(url, unique(corpus('landscape-3840x2400.jpg')), 'l.jpg')).url}?w=1200&f=jpeg&q=80`)).arrayBuffer());
  const { url: file } = await put(url, small, 'small.jpg');
  const minimal = await minimalWorker();
  const web = await nginx(small);
  try {
    const seeded = await fetch(`${minimal.url}/seed/x`, { method: 'PUT', body: small, headers: { 'content-type': 'image/jpeg' } });
    if (seeded.status !== 200) throw new Error('seeding the minimal worker failed');
    for (const u of [file, `${minimal.url}/file/x`, web.url]) {
      if (sha(Buffer.from(await (await fetch(u)).arrayBuffer())) !== sha(small)) throw new Error(`${u} serves other bytes`);
    }
    wrk(file, 2); wrk(`${minimal.url}/file/x`, 2); // warm both
    const imgbed = wrk(file), anchor = wrk(`${minimal.url}/file/x`), config = wrk(`${url}/api/config`), plain = wrk(web.url);
    console.log(`  imgbed /file ÷ minimal KV+R2 Worker: ${(imgbed / anchor).toFixed(2)}×   (÷ /api/config: ${(imgbed / config).toFixed(2)}×, ÷ nginx: ${(imgbed / plain).toFixed(3)}×)`);
    table([['server', 'requests/s'], ['imgbed /file', imgbed.toFixed(0)], ['minimal KV+R2 Worker', anchor.toFixed(0)],
      ['imgbed /api/config (no storage)', config.toFixed(0)], ['nginx, same bytes', plain.toFixed(0)]]);
    console.log(`  (${small.length} bytes per answer)`);
  } finally { minimal.stop(); web.stop(); }

  console.log('\n## Memory of a fresh Worker (peak resident growth of its workerd process)');
  const fresh = await worker({ BENCH: 'memory', MAX_UPLOAD_BYTES: String(25 << 20) });
  const pid = await workerdOf(fresh);
  const big = noisePng(2600);
  // The first upload of an instance starts what every later one reuses (the local simulators'
  // first writes, the Durable Object, the upload path's compiled code): measured apart, and
  // let settle, so the 20 MB rows say what a large file costs by itself.
  const tiny = corpus('small-320x211.jpg');
  const [warm] = await growth(pid, () => put(fresh, unique(tiny), 'warm.jpg'));
  await settle(pid);
  const [up, stored] = await growth(pid, () => put(fresh, big, 'big.png'));
  const [again] = await growth(pid, () => put(fresh, noisePng(2600), 'big2.png'));
  // The anchor: the minimal Worker streaming the same bytes into R2 (what the local runtime and
  // its R2 simulator cost by themselves).
  const anchor = await minimalWorker();
  let floor;
  try {
    const mpid = await workerdOf(anchor.url, anchor.child);
    await (await fetch(`${anchor.url}/file/none`)).arrayBuffer();
    await (await fetch(`${anchor.url}/seed/warm`, { method: 'PUT', body: tiny })).arrayBuffer();
    await settle(mpid);
    [floor] = await growth(mpid, async () => (await fetch(`${anchor.url}/seed/big`, { method: 'PUT', body: big })).arrayBuffer());
  } finally { anchor.stop(); }
  const whole = sha(big);
  const views = async (headers, expect) => {
    const bodies = await Promise.all(Array.from({ length: 24 }, async (_, i) => {
      const r = await fetch(stored.url, { headers: headers(i) });
      return [r.status, sha(Buffer.from(await r.arrayBuffer())), i];
    }));
    return bodies.filter(([status, digest, i]) => !(status < 300 && digest === expect(i))).length;
  };
  const slice = (i) => { const from = (i * 500_000) % (big.length - (8 << 20)); return [from, from + (8 << 20) - 1]; };
  const [ranged, badRange] = await growth(pid, () => views((i) => ({ Range: `bytes=${slice(i)[0]}-${slice(i)[1]}` }), (i) => sha(big.subarray(slice(i)[0], slice(i)[1] + 1))));
  const [full, badFull] = await growth(pid, () => views(() => ({}), () => whole));
  const chunked = (headers) => new Promise((resolve) => {
    // 140 MiB sent in 1 MiB chunks with no Content-Length.
    const u = new URL(`${fresh}/upload/huge.png`);
    import('node:http').then(({ request }) => {
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'PUT', headers }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
      req.on('error', () => resolve('dropped'));
      const chunk = randomBytes(1 << 20);
      let sent = 0;
      const more = () => { while (sent < 140) { sent++; if (!req.write(chunk)) return req.once('drain', more); } req.end(); };
      more();
    });
  });
  const [anonymous, s1] = await growth(pid, () => chunked({}));
  const [tokened, s2] = await growth(pid, () => chunked(auth));
  table([['what', 'worker grew', 'target', 'answers'],
    ['first upload of the instance, a 14 KB JPEG (one-off start, then settled)', `${warm.toFixed(1)} MiB`, '', 'stored'],
    ['then an upload of a 20 MB PNG', `${up.toFixed(1)} MiB`, '< 40 MiB', `${big.length} bytes stored`],
    ['a second 20 MB PNG upload', `${again.toFixed(1)} MiB`, '< 40 MiB', 'stored'],
    ['anchor: minimal JS Worker streaming it into R2 (after a small PUT)', `${floor.toFixed(1)} MiB`, '', '(runtime + simulator floor)'],
    ['24 concurrent 8 MiB Range GETs', `${ranged.toFixed(1)} MiB`, '< 64 MiB', badRange ? `${badRange} wrong` : '24 byte-exact'],
    ['24 concurrent full GETs', `${full.toFixed(1)} MiB`, '< 64 MiB', badFull ? `${badFull} wrong` : '24 byte-exact'],
    ['chunked 140 MiB PUT, no credential', `${anonymous.toFixed(1)} MiB`, '(local draining)', String(s1)],
    ['chunked 140 MiB PUT, upload token', `${tokened.toFixed(1)} MiB`, `< ${(anonymous + 40).toFixed(0)} MiB`, String(s2)]]);
}

/** `dav`: a WebDAV listing of a folder of 10,000 images (what Finder or rclone asks when it
 * opens it) beside paging the same album through the admin JSON API, 100 at a time. */
async function dav() {
  const size = 10_000;
  console.log(`\n## WebDAV: PROPFIND Depth 1 of a folder of ${size} images, beside paging /api/admin/images through it`);
  const url = await worker({ BENCH: 'dav' });
  const pid = await workerdOf(url);
  const t0 = performance.now();
  for (let i = 0; i < size; i += 25) {
    await Promise.all(Array.from({ length: 25 }, async (_, k) => {
      const r = await fetch(`${url}/upload/r${i + k}.png?album=big`, { method: 'PUT', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, body: tinyPng(i + k) });
      if (r.status !== 200) throw new Error(`seed: ${r.status} ${await r.text()}`);
    }));
  }
  console.log(`  seeded ${size} images (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  const headers = { Authorization: `Basic ${Buffer.from(`me:${ADMIN_TOKEN}`).toString('base64')}`, Depth: '1' };
  const runs = 5;
  const measure = async (fn) => {
    await fn();
    const [cpu0, t] = [cpuOf(pid), performance.now()];
    let last;
    for (let i = 0; i < runs; i++) last = await fn();
    return { cpu: (cpuOf(pid) - cpu0) / runs, wall: (performance.now() - t) / runs, ...last };
  };
  const listing = await measure(async () => {
    const r = await fetch(`${url}/dav/big/`, { method: 'PROPFIND', headers });
    const body = await r.text();
    if (r.status !== 207) throw new Error(`PROPFIND: ${r.status}`);
    return { files: (body.match(/<D:getcontentlength>/g) ?? []).length, bytes: body.length, ops: r.headers.get('x-storage-ops') };
  });
  const paged = await measure(async () => {
    let cursor = null, files = 0, requests = 0, bytes = 0;
    do {
      const r = await fetch(`${url}/api/admin/images?album=big&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
      const page = await r.json();
      files += page.images.length; bytes += JSON.stringify(page).length; requests++;
      cursor = page.cursor;
    } while (cursor);
    return { files, bytes, ops: `${requests} requests` };
  });
  if (listing.files !== size || paged.files !== size) throw new Error(`listed ${listing.files} and ${paged.files} of ${size}`);
  table([['listing', 'files', 'CPU (process)', 'wall', 'ratio', 'answer', 'storage'],
    ['PROPFIND Depth 1 /dav/big/', listing.files, ms(listing.cpu), ms(listing.wall), `${(listing.cpu / paged.cpu).toFixed(2)}×`, kb(listing.bytes), listing.ops],
    ['anchor: /api/admin/images, 100 a page', paged.files, ms(paged.cpu), ms(paged.wall), '1.00×', kb(paged.bytes), paged.ops]]);
  console.log(`  (CPU of the Worker's process over ${runs} runs each, local Durable Object included; the listing reads the catalog 1,000 files a call)`);
}

const which = process.argv.slice(2).filter((a, i, all) => a !== '--seconds' && all[i - 1] !== '--seconds');
const all = { foundation, transform, random, placeholder, admin, load, cpu, serve, dav };
try {
  // The load test runs only when named: it takes minutes.
  for (const [name, fn] of Object.entries(all)) if (which.includes(name) || (!which.length && name !== 'load')) await fn();
  const unknown = which.filter((w) => !(w in all));
  if (unknown.length) console.log(`unknown benchmark ${unknown.join(', ')}: use ${Object.keys(all).join(', ')}`);
} finally {
  await stopAll();
}
