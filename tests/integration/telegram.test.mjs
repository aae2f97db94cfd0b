// Telegram as a storage channel, against a stand-in Bot API that enforces Telegram's limits
// (tests/fakes/telegram.mjs): byte-exact round trips, big files in parts, throttled bursts,
// several bots, fail-over, deletes Telegram refuses, moves between channels, and the bot token
// kept out of every answer, record and log line.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { worker, instance, corpus, unique, postFiles, bearer, errorOf, makePng, ADMIN_TOKEN } from './harness.mjs';
import { startTelegram } from '../fakes/telegram.mjs';

const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
let tg, vars;

before(async () => {
  // A "minute" of the per-chat limit lasts 3 s here, so bursts are throttled quickly.
  tg = await startTelegram({ perChat: 20, windowMs: 3000, perBotPerSecond: 30, pathTtlMs: 4000 });
  vars = { STORAGE_CHANNEL: 'telegram', TELEGRAM_BOT_TOKEN: tg.bots.join(','), TELEGRAM_CHAT_ID: tg.chatId, TELEGRAM_API_BASE: tg.base };
});

async function upload(url, bytes, name = 'photo.jpg', fields = {}) {
  const r = await postFiles(url, '/upload', [['file', bytes, name]], { headers: bearer(), fields });
  return { status: r.status, body: await r.json(), headers: r.headers };
}
const idOf = (body) => body[0].src.split('/').pop().split('.')[0];
const record = async (url, id) => (await fetch(`${url}/api/admin/images/${id}`, { headers: admin })).json();
const bytesOf = async (url, path, headers = {}) => { const r = await fetch(url + path, { headers }); return { r, body: Buffer.from(await r.arrayBuffer()) }; };

/** A valid PNG of about `size` bytes: a small picture plus a private chunk of random bytes. */
function bigPng(size) {
  const raw = Buffer.alloc(17 * 16, 90);
  const png = makePng(16, 16, 8, 0, deflateSync(raw));
  const data = randomBytes(size);
  const crc = (buf) => { let c = ~0; for (const b of buf) { c ^= b; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; } return ~c >>> 0; };
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const type = Buffer.from('ibPd');
  const sum = Buffer.alloc(4); sum.writeUInt32BE(crc(Buffer.concat([type, data])));
  return Buffer.concat([png.subarray(0, png.length - 12), len, type, data, sum, png.subarray(png.length - 12)]);
}

describe('telegram channel', () => {
  it('stores with sendDocument and serves the exact bytes, with ETag, 304 and Range', async () => {
    const url = await worker(vars);
    const bytes = unique(corpus('portrait-1600x2400.jpg'));
    const before = await tg.stats();
    const { status, body } = await upload(url, bytes, 'tower.jpg', { keep_exif: 'true' });
    assert.equal(status, 200, JSON.stringify(body));
    const id = idOf(body);
    const after = await tg.stats();
    assert.equal(after.calls.sendDocument - (before.calls.sendDocument ?? 0), 1);
    assert.equal(after.calls.sendPhoto, undefined, 'never sendPhoto, which recompresses');
    assert.equal(after.captions.at(-1), id, 'the caption names the image');
    const rec = await record(url, id);
    assert.equal(rec.channel, 'telegram');
    assert.equal(rec.telegram.parts, 1);
    assert.ok(tg.bots.some((t) => t.startsWith(`${rec.telegram.bot}:`)));
    const { r, body: served } = await bytesOf(url, `/file/${id}.jpg`);
    assert.equal(r.status, 200);
    assert.ok(served.equals(bytes), 'byte-exact');
    assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.doesNotMatch(r.headers.get('x-storage-ops'), /r2/, 'no R2 read for a Telegram image');
    const etag = r.headers.get('etag');
    assert.equal((await fetch(`${url}/file/${id}.jpg`, { headers: { 'if-none-match': etag } })).status, 304);
    const part = await bytesOf(url, `/file/${id}.jpg`, { range: 'bytes=100-199' });
    assert.equal(part.r.status, 206);
    assert.ok(part.body.equals(bytes.subarray(100, 200)));
    assert.equal((await fetch(`${url}/file/${id}.jpg`, { headers: { range: `bytes=${bytes.length + 5}-` } })).status, 416);
    const thumb = await fetch(`${url}/file/${id}.jpg?w=120`);
    assert.equal(thumb.status, 200, 'transforms work on Telegram images');
    assert.equal((await thumb.arrayBuffer()).byteLength > 0, true);
    const config = await (await fetch(`${url}/api/config`)).json();
    assert.deepEqual(config.channels, ['r2', 'telegram']);
    const again = await upload(url, bytes, 'again.jpg', { keep_exif: 'true' });
    assert.equal(idOf(again.body), id, 'the same bytes are stored once');
  });

  it('costs one getFile per hour of views, and asks again when the path expires', async () => {
    const url = await worker(vars);
    const bytes = unique(corpus('small-320x211.jpg'));
    const id = idOf((await upload(url, bytes)).body);
    const count = async () => (await tg.stats()).calls.getFile ?? 0;
    const start = await count();
    for (let i = 0; i < 5; i++) assert.ok((await bytesOf(url, `/file/${id}.jpg`)).body.equals(bytes));
    assert.equal(await count(), start + 1, 'five views, one getFile');
    await new Promise((r) => setTimeout(r, 4200)); // the fake's file paths last 4 s
    assert.ok((await bytesOf(url, `/file/${id}.jpg`)).body.equals(bytes), 'an expired path is fetched again');
    assert.equal(await count(), start + 2);
  });

  it('splits a file over the 20 MB getFile cap into parts, and serves ranges across them', async () => {
    const url = await worker({ ...vars, MAX_UPLOAD_BYTES: '26214400' });
    const bytes = bigPng(21 * 1000 * 1000);
    const { status, body } = await upload(url, bytes, 'huge.png');
    assert.equal(status, 200, JSON.stringify(body));
    const id = idOf(body);
    const rec = await record(url, id);
    assert.equal(rec.telegram.parts, 2);
    const whole = await bytesOf(url, `/file/${id}.png`);
    assert.equal(whole.r.status, 200);
    assert.ok(whole.body.equals(bytes), 'byte-exact after reassembly');
    const boundary = 19 * 1024 * 1024;
    const across = await bytesOf(url, `/file/${id}.png`, { range: `bytes=${boundary - 1000}-${boundary + 999}` });
    assert.equal(across.r.status, 206);
    assert.equal(across.r.headers.get('content-range'), `bytes ${boundary - 1000}-${boundary + 999}/${bytes.length}`);
    assert.ok(across.body.equals(bytes.subarray(boundary - 1000, boundary + 1000)));
    assert.equal((await tg.stats()).getFileTooBig, 0, 'no part is over the cap');
  });

  it('gets a burst of 50 uploads through the per-chat limit, spread over both bots', async () => {
    const url = await worker(vars);
    const before = await tg.stats();
    const results = [];
    const files = Array.from({ length: 50 }, (_, i) => unique(makePng(8 + (i % 5), 8, 8, 0, deflateSync(Buffer.alloc((9 + (i % 5)) * 8, i)))));
    for (let i = 0; i < 50; i += 10) results.push(...await Promise.all(files.slice(i, i + 10).map((b, k) => upload(url, b, `burst-${i + k}.png`))));
    assert.deepEqual(results.map((r) => r.status), Array(50).fill(200));
    const after = await tg.stats();
    assert.ok(after.throttled > before.throttled, 'the fake did throttle');
    const channels = await Promise.all(results.map((r) => record(url, idOf(r.body)).then((x) => x.channel)));
    assert.deepEqual(channels, Array(50).fill('telegram'), 'all in Telegram: waited out the limit, no fallback');
    for (const bot of tg.bots.map((t) => t.split(':')[0])) assert.ok(after.byBot[bot] > (before.byBot[bot] ?? 0), `bot ${bot} was used`);
    for (const [i, r] of results.entries()) assert.ok((await bytesOf(url, `/file/${idOf(r.body)}.png`)).body.equals(files[i]));
  });

  it('falls back to R2 when Telegram is down, and says 503 with Retry-After when it may not', async () => {
    const url = await worker(vars);
    const strict = await worker({ ...vars, TELEGRAM_FALLBACK_R2: 'false', TELEGRAM_DEADLINE_S: '5' });
    await tg.control({ down: true });
    try {
      const bytes = unique(corpus('small-320x211.jpg'));
      const { status, body } = await upload(url, bytes);
      assert.equal(status, 200);
      const rec = await record(url, idOf(body));
      assert.equal(rec.channel, 'r2', 'the record says where the bytes went');
      assert.equal(rec.telegram, null);
      assert.ok((await bytesOf(url, `/file/${idOf(body)}.jpg`)).body.equals(bytes));
      const total = (await (await fetch(`${strict}/api/admin/images`, { headers: admin })).json()).total;
      const refused = await upload(strict, unique(corpus('small-320x211.jpg')));
      assert.equal(refused.status, 503);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      assert.equal(refused.body.error.code, 'storage_unavailable');
      assert.doesNotMatch(JSON.stringify(refused.body), /502|Bad Gateway|html/i, 'no upstream text');
      assert.equal((await (await fetch(`${strict}/api/admin/images`, { headers: admin })).json()).total, total, 'nothing was stored');
    } finally {
      await tg.control({ down: false });
    }
    await tg.control({ failNext: 2 });
    const flaky = await upload(strict, unique(corpus('small-320x211.jpg')));
    assert.equal(flaky.status, 200, 'two 500s are retried');
    assert.equal((await record(strict, idOf(flaky.body))).channel, 'telegram');
  });

  it('deletes every part, and still removes the image when Telegram refuses', async () => {
    const url = await worker(vars);
    const id = idOf((await upload(url, unique(corpus('small-320x211.jpg')))).body);
    let r = await (await fetch(`${url}/api/admin/images/${id}`, { method: 'DELETE', headers: admin })).json();
    assert.equal(r.deleted.left_in_telegram, 0);
    assert.equal(r.deleted.bytes, true);
    await tg.control({ refuseDeletes: true });
    try {
      const kept = idOf((await upload(url, unique(corpus('small-320x211.jpg')))).body);
      r = await (await fetch(`${url}/api/admin/images/${kept}`, { method: 'DELETE', headers: admin })).json();
      assert.equal(r.deleted.record, true);
      assert.equal(r.deleted.left_in_telegram, 1, 'the answer says the bytes remain in the chat');
      assert.equal(r.deleted.bytes, false);
      assert.equal((await fetch(`${url}/file/${kept}.jpg`)).status, 404, 'and it is no longer served');
    } finally {
      await tg.control({ refuseDeletes: false });
    }
  });

  it('r2+telegram keeps a copy in each and serves from R2', async () => {
    // Serving from the Telegram copy once the R2 object is gone is tested natively (tests/app.rs):
    // deleting from the local bucket behind a running wrangler dev is not reliable.
    const url = await worker({ ...vars, STORAGE_CHANNEL: 'r2+telegram' });
    const bytes = unique(corpus('small-320x211.jpg'));
    const sent = (await tg.stats()).sent;
    const id = idOf((await upload(url, bytes)).body);
    const rec = await record(url, id);
    assert.equal(rec.channel, 'r2');
    assert.equal(rec.telegram.parts, 1);
    assert.equal((await tg.stats()).sent, sent + 1);
    const getFiles = (await tg.stats()).calls.getFile ?? 0;
    const served = await bytesOf(url, `/file/${id}.jpg`);
    assert.ok(served.body.equals(bytes));
    assert.match(served.r.headers.get('x-storage-ops'), /r2-read=1/);
    assert.equal((await tg.stats()).calls.getFile ?? 0, getFiles, 'no Bot API call while R2 has it');
    const r = await (await fetch(`${url}/api/admin/images/${id}`, { method: 'DELETE', headers: admin })).json();
    assert.equal(r.deleted.bytes, true, 'both copies deleted');
  });

  it('moves an image to Telegram and back, removing the old copy each time', async () => {
    const url = await worker({ ...vars, STORAGE_CHANNEL: 'r2' });
    const bytes = unique(corpus('small-320x211.jpg'));
    const id = idOf((await upload(url, bytes)).body);
    assert.equal((await record(url, id)).channel, 'r2');
    const move = (channel) => fetch(`${url}/api/admin/images/${id}/move`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ channel }) });
    let r = await move('telegram');
    assert.equal(r.status, 200);
    assert.equal((await r.json()).channel, 'telegram');
    const served = await bytesOf(url, `/file/${id}.jpg`);
    assert.ok(served.body.equals(bytes));
    assert.doesNotMatch(served.r.headers.get('x-storage-ops'), /r2-read/, 'served from Telegram: the R2 copy is gone');
    const deletedBefore = (await tg.stats()).deleted;
    r = await move('r2');
    assert.equal((await r.json()).channel, 'r2');
    assert.equal((await tg.stats()).deleted, deletedBefore + 1, 'the Telegram message was deleted');
    assert.ok((await bytesOf(url, `/file/${id}.jpg`)).body.equals(bytes));
    assert.equal((await (await fetch(`${url}/api/admin/images?channel=r2&q=${id}`, { headers: admin })).json()).total, 1);
    assert.equal((await move('floppy')).status, 400);
    const perUpload = await upload(url, unique(corpus('small-320x211.jpg')), 'chosen.jpg', { channel: 'telegram' });
    assert.equal((await record(url, idOf(perUpload.body))).channel, 'telegram', 'channel= per upload');
    const plain = await worker({ INSTANCE: 'no-telegram' });
    const refused = await upload(plain, unique(corpus('small-320x211.jpg')), 'x.jpg', { channel: 'telegram' });
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.message, /not set up/);
  });

  it('never shows the bot token in an answer, a record or a log line', async () => {
    const url = await worker(vars);
    const id = idOf((await upload(url, unique(corpus('small-320x211.jpg')))).body);
    await fetch(`${url}/file/${id}.jpg`);
    await tg.control({ down: true });
    await upload(url, unique(corpus('small-320x211.jpg')));
    await tg.control({ down: false });
    const texts = [
      JSON.stringify(await record(url, id)),
      await (await fetch(`${url}/api/admin/export`, { headers: admin })).text(),
      await (await fetch(`${url}/api/images/${id}`)).text(),
      await (await fetch(`${url}/api/admin/stats`, { headers: admin })).text(),
      await (await fetch(`${url}/api/config`)).text(),
      (await instance(url)).output(),
    ];
    for (const token of tg.bots) {
      const secret = token.split(':')[1];
      for (const t of texts) assert.ok(!t.includes(secret), `the token leaked: ${t.slice(0, 200)}`);
    }
    assert.match((await instance(url)).output(), /telegram sendDocument/, 'the failure was logged, without the token');
  });
});
