// Uploads through the Telegram bot: the real Worker's webhook, fed updates in Telegram's shape,
// fetching files from and replying through the Bot API stand-in (tests/fakes/telegram.mjs).
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { worker, corpus, unique, ADMIN_TOKEN } from './harness.mjs';
import { startTelegram } from '../fakes/telegram.mjs';

const SECRET = 'webhook-secret-for-tests';
const ALLOWED = 4242, STRANGER = 777;
let tg, url, nextUpdate = 1000;

before(async () => {
  tg = await startTelegram({ bots: ['7101:bot-token'] });
  url = await worker({ TELEGRAM_BOT_TOKEN: tg.bots.join(','), TELEGRAM_API_BASE: tg.base, TELEGRAM_WEBHOOK_SECRET: SECRET, TELEGRAM_ALLOWED_USERS: `${ALLOWED},99` });
});

const hook = (update, secret = SECRET) => fetch(`${url}/telegram/webhook`, {
  method: 'POST', headers: { 'content-type': 'application/json', ...(secret ? { 'X-Telegram-Bot-Api-Secret-Token': secret } : {}) }, body: JSON.stringify(update),
});
const message = (from, fields) => ({ update_id: nextUpdate++, message: { message_id: nextUpdate, date: 1765000000, from: { id: from, is_bot: false, first_name: 'Ann' }, chat: { id: from, type: 'private' }, ...fields } });
/** What the bot said to `chat` after `fn` ran. */
async function said(chat, fn) {
  const before = (await tg.stats()).said.length;
  const r = await fn();
  assert.equal(r.status, 200, await r.clone().text());
  return (await tg.stats()).said.slice(before).filter((m) => m.chat_id === chat).map((m) => m.text);
}
const urlIn = (text) => text.match(/https?:\/\/\S+\/file\/[A-Za-z0-9]{12}\.\w+/)?.[0];

describe('uploads through the Telegram bot', () => {
  it('refuses a request without the right secret, and changes nothing', async () => {
    const bytes = unique(corpus('small-320x211.jpg'));
    const file = await tg.receive(bytes);
    const update = message(ALLOWED, { document: { file_name: 'x.jpg', mime_type: 'image/jpeg', ...file } });
    for (const secret of [null, 'wrong']) {
      const r = await hook(update, secret);
      assert.equal(r.status, 401);
    }
    const list = await (await fetch(`${url}/api/admin/images`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
    assert.equal(list.images.filter((i) => i.name === 'x.jpg').length, 0);
  });

  it('bad input: an unreadable update is 400 and stores nothing; a group never sees the delete link; a file over the site\'s limit is refused before it is fetched', async () => {
    const r = await fetch(`${url}/telegram/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', 'X-Telegram-Bot-Api-Secret-Token': SECRET }, body: '{"update_id": 5, "message": ' });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error.code, 'malformed_json');
    const calls = (await tg.stats()).calls.getFile ?? 0;
    const [over] = await said(ALLOWED, () => hook(message(ALLOWED, { document: { file_name: 'big.png', mime_type: 'image/png', file_id: 'z', file_unique_id: 'z', file_size: 6_000_000 } })));
    assert.match(over, /larger than the upload limit of 5 MiB/);
    assert.equal((await tg.stats()).calls.getFile ?? 0, calls, 'not fetched');
    const file = await tg.receive(unique(corpus('small-320x211.jpg')));
    const group = { ...message(ALLOWED, { document: { file_name: 'team.jpg', mime_type: 'image/jpeg', ...file } }) };
    group.message.chat = { id: -100555, type: 'supergroup', title: 'Team' };
    const [reply] = await said(-100555, () => hook(group));
    assert.ok(urlIn(reply), reply);
    assert.doesNotMatch(reply, /\/delete\//);
    assert.match(reply, /\/delete [A-Za-z0-9]{12}/);
  });

  it('a document keeps its bytes, the caption names and tags it, the reply has the links; the same update twice stores one image', async () => {
    const bytes = unique(corpus('alpha-3700x2400.png'));
    const file = await tg.receive(bytes);
    const update = message(ALLOWED, { document: { file_name: 'IMG_0042.png', mime_type: 'image/png', ...file }, caption: 'Harbour at dawn #sea #morning album:travel' });
    const [reply] = await said(ALLOWED, () => hook(update));
    const link = urlIn(reply);
    assert.ok(link, reply);
    assert.match(reply, /!\[.*\]\(http/, 'a Markdown link');
    assert.match(reply, /Delete: http\S+\/delete\//, 'the delete link, for the sender');
    const served = Buffer.from(await (await fetch(link)).arrayBuffer());
    assert.ok(served.equals(bytes), 'the exact bytes sent as a file');
    const id = link.split('/').pop().split('.')[0];
    const meta = await (await fetch(`${url}/api/images/${id}`)).json();
    assert.equal(meta.name, 'Harbour at dawn.png');
    assert.deepEqual(meta.tags, ['sea', 'morning']);
    assert.equal(meta.album, 'travel');
    // Telegram retries an update it thinks failed: one image, one reply.
    const again = await said(ALLOWED, () => hook(update));
    assert.deepEqual(again, []);
    const list = await (await fetch(`${url}/api/admin/images?album=travel`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
    assert.equal(list.images.filter((i) => i.sha256 === meta.sha256).length, 1);
  });

  it('a photo is what Telegram kept, and the reply says so; /delete takes only the sender\'s own', async () => {
    const small = await tg.receive(unique(corpus('small-320x211.jpg')));
    const big = await tg.receive(unique(corpus('portrait-1600x2400.jpg')));
    const [reply] = await said(ALLOWED, () => hook(message(ALLOWED, { photo: [{ ...small, width: 320, height: 211 }, { ...big, width: 1600, height: 2400 }] })));
    assert.match(reply, /recompressed/);
    const link = urlIn(reply);
    const id = link.split('/').pop().split('.')[0];
    assert.equal((await (await fetch(`${url}/api/images/${id}`)).json()).height, 2400, 'the largest size');
    const [refused] = await said(99, () => hook(message(99, { text: `/delete ${id}` })));
    assert.match(refused, /no image/);
    assert.equal((await fetch(link)).status, 200);
    const [done] = await said(ALLOWED, () => hook(message(ALLOWED, { text: `/delete ${id}` })));
    assert.match(done, /Deleted/);
    assert.equal((await fetch(link)).status, 404);
  });

  it('an album of pictures gets one reply with every picture in it, sent one after another or all at once', async () => {
    const { createHash } = await import('node:crypto');
    const sha = (b) => createHash('sha256').update(b).digest('hex');
    for (const together of [false, true]) {
      const group = `album-${together}-${Date.now()}`;
      const bytes = [0, 1, 2].map(() => unique(corpus('small-320x211.jpg')));
      const updates = [];
      for (const [i, b] of bytes.entries()) {
        updates.push(message(ALLOWED, { media_group_id: group, document: { file_name: `part${i}.jpg`, mime_type: 'image/jpeg', ...(await tg.receive(b)) } }));
      }
      const before = (await tg.stats()).said.length;
      if (together) {
        for (const r of await Promise.all(updates.map((u) => hook(u)))) assert.equal(r.status, 200);
      } else {
        for (const u of updates) assert.equal((await hook(u)).status, 200);
      }
      const replies = (await tg.stats()).said.slice(before).filter((m) => m.chat_id === ALLOWED);
      assert.equal(replies.length, 1, `one message for the album (${together ? 'at once' : 'in turn'})`);
      const [reply] = replies;
      assert.match(reply.text, /^3 pictures:/);
      assert.doesNotMatch(reply.text, /\/delete\//, 'no delete link: the reply is kept in the index store while the album arrives');
      assert.equal((reply.text.match(/\/delete [A-Za-z0-9]{12}/g) ?? []).length, 3);
      const urls = [...new Set([...reply.text.matchAll(/https?:\/\/[^\s)]+\/file\/[A-Za-z0-9]{12}\.\w+/g)].map((m) => m[0]))];
      assert.equal(urls.length, 3, reply.text);
      const served = await Promise.all(urls.map(async (u) => sha(Buffer.from(await (await fetch(u)).arrayBuffer()))));
      assert.deepEqual(served.sort(), bytes.map(sha).sort(), 'each link serves one of the pictures');
    }
  });

  it('/start tells anyone their id; a stranger cannot upload; files over the 20 MB cap get a clear reply', async () => {
    const [start] = await said(STRANGER, () => hook(message(STRANGER, { text: '/start' })));
    assert.match(start, new RegExp(`user id is ${STRANGER}`));
    assert.match(start, /TELEGRAM_ALLOWED_USERS/);
    const file = await tg.receive(unique(corpus('small-320x211.jpg')));
    const [no] = await said(STRANGER, () => hook(message(STRANGER, { document: { file_name: 'a.jpg', mime_type: 'image/jpeg', ...file } })));
    assert.match(no, /may not upload/);
    const [large] = await said(ALLOWED, () => hook(message(ALLOWED, { document: { file_name: 'huge.png', mime_type: 'image/png', file_id: 'x', file_unique_id: 'y', file_size: 24_000_000 } })));
    assert.match(large, /at most 20 MB/);
    const words = await tg.receive(Buffer.from('just words'));
    const [notImage] = await said(ALLOWED, () => hook(message(ALLOWED, { document: { file_name: 'notes.txt', mime_type: 'text/plain', ...words } })));
    assert.match(notImage, /^Not stored: /);
    const [random] = await said(ALLOWED, () => hook(message(ALLOWED, { text: '/random' })));
    assert.ok(urlIn(random), random);
  });
});
