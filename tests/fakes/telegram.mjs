// A stand-in for Telegram's Bot API on 127.0.0.1, for tests and benches, with the real request
// and answer shapes and the limits that matter to a file host:
//   POST /bot<token>/sendDocument (multipart: chat_id, caption, document)  → {"ok":true,"result":Message}
//   POST /bot<token>/getFile {"file_id"}       → File with file_path; "file is too big" over 20 MB
//   POST /bot<token>/deleteMessage {"chat_id","message_id"} → true; refused for old messages
//   GET  /file/bot<token>/<file_path>           → the bytes (Range supported); 404 once the path expired
//   POST /bot<token>/sendMessage {"chat_id","text"} → Message (what the bot said is in /__stats)
//   POST /bot<token>/editMessageText {"chat_id","message_id","text"} → Message; "message is not
//        modified" for the same text, "message to edit not found" for another chat's or none
//        (an edit replaces the text in /__stats `said` and counts in its `edits`)
// POST /__receive (the bytes) stands for a user sending the first bot a file: it answers the
// file_id, file_unique_id and file_size a real update would carry.
// Errors are {"ok":false,"error_code":N,"description":…[,"parameters":{"retry_after":S}]}.
// Limits (all adjustable, time compressed for tests): `perChat` messages per `windowMs` in a chat
// (Telegram: about 20 a minute in a group or channel), `perBotPerSecond` calls per bot (about 30),
// file ids that belong to the bot that received the file, file paths valid `pathTtlMs` (an hour),
// messages deletable for `deletableMs` (48 hours), 50 MB uploads and 20 MB downloads.
// POST /__control {down, failNext, refuseDeletes, ...limits} changes behaviour; GET /__stats counts calls.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

const MB = 1000 * 1000;

function parseMultipart(body, contentType) {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType ?? '');
  if (!boundary) return null;
  const sep = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const fields = {};
  let at = body.indexOf(sep);
  while (at >= 0) {
    const start = at + sep.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(sep, start);
    if (next < 0) break;
    const part = body.subarray(start + 2, next - 2);
    const split = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, split).toString();
    const name = /name="([^"]*)"/.exec(head)?.[1];
    const filename = /filename="([^"]*)"/.exec(head)?.[1];
    const data = part.subarray(split + 4);
    if (name) fields[name] = filename !== undefined ? { filename, data } : data.toString();
    at = next;
  }
  return fields;
}

export function startTelegram({ bots = ['7001:test-token-one', '7002:test-token-two'], chatId = '-1001234567890', perChat = 20, windowMs = 60_000,
  perBotPerSecond = 30, pathTtlMs = 3600_000, deletableMs = 48 * 3600_000 } = {}) {
  const limits = { perChat, windowMs, perBotPerSecond, pathTtlMs, deletableMs };
  const mode = { down: false, failNext: 0, refuseDeletes: false };
  const files = new Map();     // file_id → { bot, unique, bytes, name }
  const paths = new Map();     // file_path → { file, created }
  const messages = new Map();  // message_id → { date, file_id, deleted }
  let chatWindow = { start: 0, n: 0 };
  const botSecond = new Map(); // bot → { start, n }
  let nextMessage = 100, nextFile = 1;
  const stats = { calls: {}, byBot: {}, throttled: 0, sent: 0, deleted: 0, refusedDeletes: 0, getFileTooBig: 0, expiredPaths: 0, captions: [], said: [] };
  const json = (res, status, body, headers = {}) => { res.writeHead(status, { 'content-type': 'application/json', ...headers }); res.end(JSON.stringify(body)); };
  const fail = (res, code, description, parameters) => json(res, code, { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) });

  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url, 'http://x');
      if (url.pathname === '/__stats') return json(res, 200, stats);
      if (url.pathname === '/__receive') {
        const n = nextFile++;
        const fileId = `AgACAgIAAxkBAAI${n}_${randomBytes(6).toString('hex')}`;
        files.set(fileId, { bot: bots[0], unique: `AQADu${n}`, bytes: body, name: null });
        return json(res, 200, { file_id: fileId, file_unique_id: `AQADu${n}`, file_size: body.length });
      }
      if (url.pathname === '/__control') { Object.assign(mode, JSON.parse(body.toString())); Object.assign(limits, JSON.parse(body.toString())); return json(res, 200, { mode, limits }); }

      const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
      if (file) {
        const entry = paths.get(file[2]);
        if (!bots.includes(file[1]) || !entry || entry.bot !== file[1]) return fail(res, 404, 'Not Found');
        if (Date.now() - entry.created > limits.pathTtlMs) { stats.expiredPaths++; return fail(res, 404, 'Not Found'); }
        const bytes = files.get(entry.fileId).bytes;
        const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
        if (range) {
          const a = Number(range[1]), b = range[2] ? Number(range[2]) : bytes.length - 1;
          res.writeHead(206, { 'content-type': 'application/octet-stream', 'content-range': `bytes ${a}-${b}/${bytes.length}`, 'content-length': b - a + 1 });
          return res.end(bytes.subarray(a, b + 1));
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
        return res.end(bytes);
      }

      const call = /^\/bot([^/]+)\/(\w+)$/.exec(url.pathname);
      if (!call) return fail(res, 404, 'Not Found');
      const [, token, method] = call;
      if (!bots.includes(token)) return fail(res, 401, 'Unauthorized');
      const bot = token.split(':')[0];
      stats.calls[method] = (stats.calls[method] ?? 0) + 1;
      stats.byBot[bot] = (stats.byBot[bot] ?? 0) + 1;
      if (mode.down) { res.writeHead(502, { 'content-type': 'text/html' }); return res.end('<html><body><h1>502 Bad Gateway</h1></body></html>'); }
      if (mode.failNext > 0) { mode.failNext--; return fail(res, 500, 'Internal Server Error'); }
      const now = Date.now();
      const second = botSecond.get(bot) ?? { start: now, n: 0 };
      if (now - second.start >= 1000) { second.start = now; second.n = 0; }
      if (second.n >= limits.perBotPerSecond) { stats.throttled++; return fail(res, 429, 'Too Many Requests: retry after 1', { retry_after: 1 }); }
      second.n++;
      botSecond.set(bot, second);

      const type = req.headers['content-type'] ?? '';
      const params = type.startsWith('multipart/') ? parseMultipart(body, type) : type.includes('json') ? JSON.parse(body.toString() || '{}') : Object.fromEntries(url.searchParams);
      if (!params) return fail(res, 400, 'Bad Request: invalid multipart');

      if (method === 'sendDocument') {
        if (String(params.chat_id) !== chatId) return fail(res, 400, 'Bad Request: chat not found');
        if (!params.document?.data) return fail(res, 400, 'Bad Request: there is no document in the request');
        if (params.document.data.length > 50 * MB) return fail(res, 413, 'Request Entity Too Large');
        if (now - chatWindow.start >= limits.windowMs) chatWindow = { start: now, n: 0 };
        if (chatWindow.n >= limits.perChat) {
          stats.throttled++;
          const wait = Math.max(1, Math.ceil((chatWindow.start + limits.windowMs - now) / 1000));
          return fail(res, 429, `Too Many Requests: retry after ${wait}`, { retry_after: wait });
        }
        chatWindow.n++;
        const n = nextFile++;
        const fileId = `BQACAgIAAx0C${bot}_${n}_${randomBytes(6).toString('hex')}`;
        files.set(fileId, { bot: token, unique: `AgADx${n}`, bytes: params.document.data, name: params.document.filename });
        const messageId = nextMessage++;
        messages.set(messageId, { date: now, fileId, deleted: false });
        stats.sent++;
        stats.captions.push(params.caption ?? '');
        return json(res, 200, { ok: true, result: {
          message_id: messageId, sender_chat: { id: Number(chatId), title: 'imgbed storage', type: 'channel' },
          chat: { id: Number(chatId), title: 'imgbed storage', type: 'channel' }, date: Math.floor(now / 1000),
          document: { file_name: params.document.filename, mime_type: 'application/octet-stream', file_id: fileId, file_unique_id: `AgADx${n}`, file_size: params.document.data.length },
          caption: params.caption,
        } });
      }
      if (method === 'getFile') {
        const f = files.get(params.file_id);
        if (!f || f.bot !== token) return fail(res, 400, 'Bad Request: wrong file_id or the file is temporarily unavailable');
        if (f.bytes.length > 20 * MB) { stats.getFileTooBig++; return fail(res, 400, 'Bad Request: file is too big'); }
        const path = `documents/file_${nextFile++}_${randomBytes(4).toString('hex')}.bin`;
        paths.set(path, { fileId: params.file_id, bot: token, created: now });
        return json(res, 200, { ok: true, result: { file_id: params.file_id, file_unique_id: f.unique, file_size: f.bytes.length, file_path: path } });
      }
      if (method === 'sendMessage') {
        if (!params.chat_id || typeof params.text !== 'string' || !params.text) return fail(res, 400, 'Bad Request: message text is empty');
        if (params.text.length > 4096) return fail(res, 400, 'Bad Request: message is too long');
        const message_id = nextMessage++;
        stats.said.push({ chat_id: Number(params.chat_id), message_id, text: params.text, edits: 0 });
        return json(res, 200, { ok: true, result: { message_id, chat: { id: Number(params.chat_id), type: 'private' }, date: Math.floor(now / 1000), text: params.text } });
      }
      if (method === 'editMessageText') {
        const m = stats.said.find((s) => s.message_id === Number(params.message_id) && s.chat_id === Number(params.chat_id));
        if (!m) return fail(res, 400, 'Bad Request: message to edit not found');
        if (typeof params.text !== 'string' || !params.text) return fail(res, 400, 'Bad Request: message text is empty');
        if (params.text.length > 4096) return fail(res, 400, 'Bad Request: MESSAGE_TOO_LONG');
        if (params.text === m.text) return fail(res, 400, 'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
        m.text = params.text;
        m.edits++;
        return json(res, 200, { ok: true, result: { message_id: m.message_id, chat: { id: m.chat_id, type: 'private' }, date: Math.floor(now / 1000), edit_date: Math.floor(now / 1000), text: m.text } });
      }
      if (method === 'deleteMessage') {
        if (String(params.chat_id) !== chatId) return fail(res, 400, 'Bad Request: chat not found');
        const m = messages.get(Number(params.message_id));
        if (!m || m.deleted) return fail(res, 400, 'Bad Request: message to delete not found');
        if (mode.refuseDeletes || now - m.date > limits.deletableMs) { stats.refusedDeletes++; return fail(res, 400, "Bad Request: message can't be deleted for everyone"); }
        m.deleted = true;
        files.delete(m.fileId);
        stats.deleted++;
        return json(res, 200, { ok: true, result: true });
      }
      return fail(res, 404, 'Not Found: method not found');
    });
  });
  return new Promise((resolve) => {
    server.unref();
    server.listen(0, '127.0.0.1', () => {
      const base = `http://127.0.0.1:${server.address().port}`;
      resolve({
        base, bots, chatId,
        stats: async () => (await fetch(`${base}/__stats`)).json(),
        control: async (c) => (await fetch(`${base}/__control`, { method: 'POST', body: JSON.stringify(c) })).json(),
        receive: async (bytes) => (await fetch(`${base}/__receive`, { method: 'POST', body: bytes })).json(),
      });
    });
  });
}
