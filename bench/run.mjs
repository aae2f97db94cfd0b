// Benchmarks against the real Worker under wrangler dev, each beside its anchor, as ratios
// from one run. Usage: node bench/run.mjs [foundation] [transform] [random]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { worker, stopAll, corpus, unique, CORPUS, UPLOAD_TOKEN, ADMIN_TOKEN } from '../tests/integration/harness.mjs';
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

async function random() {
  console.log('\n## Random image: pool draw vs list-everything baseline');
  const rows = [['library', 'method', 'median', 'p95', 'storage ops per draw']];
  const url = await worker({ BENCH: 'random' });
  let have = 0;
  for (const size of [1000, 10000]) {
    const t0 = performance.now();
    for (; have < size; have += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, k) => put(url, tinyPng(have + k), `r${have + k}.png`)));
    }
    console.log(`  seeded ${size} images (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
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
    for (let i = 0; i < 20; i++) {
      const [t, n] = await timed(async () => {
        const ids = [];
        let cursor = null;
        let c = 0;
        do {
          const q = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
          const page = await (await fetch(`${url}/api/images?limit=1000${q}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
          ids.push(...page.images);
          cursor = page.cursor;
          c++;
        } while (cursor);
        const pick = ids[Math.floor(Math.random() * ids.length)];
        await (await fetch(`${url}/api/images/${pick}`)).json();
        return c;
      });
      base.push(t);
      calls = n;
    }
    rows.push([size, 'list everything, then pick', ms(median(base)), ms(pct(base, 0.95)), `kv-list=${calls}, kv-read=1`]);
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

const which = process.argv.slice(2);
const all = { foundation, transform, random, placeholder };
try {
  for (const [name, fn] of Object.entries(all)) if (!which.length || which.includes(name)) await fn();
} finally {
  await stopAll();
}
