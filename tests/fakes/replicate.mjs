// A stand-in for Replicate's HTTP API on 127.0.0.1, for tests and benches: the real request
// and answer shapes of `POST /v1/models/{owner}/{name}/predictions` (with `Prefer: wait`),
// `GET /v1/predictions/{id}`, and output files that disappear an hour after they were made.
// What a prediction does is chosen by a word in its prompt, so one server serves every case:
//   slowpoke → starting, then processing, then succeeded (the client must poll)
//   throttled → the first request per prompt gets 429 with retry_after, then it works
//   swamped → every request gets 429
//   broken → failed;  naughty → failed with Replicate's NSFW error
//   glacial → never finishes;  vanished → succeeded, but its output URL answers 404
// Any other model is an NSFW classifier in the shape of falcons-ai/nsfw_image_detection: input
// `image` (a URL or data: URI), output "normal" or "nsfw". What it says is set by
// `POST /__classifier {"mode": "normal"|"nsfw"|"broken"|"glacial"|"scored:<0..1>"|"looks"|
// "output:<json>"}`: scored answers a [{label, score}] list, as Hugging Face-style classifiers
// do; looks judges the picture itself (mostly red is "nsfw", anything else "normal"); output
// answers the JSON given, whatever it is.
// A request whose input has both `image` and `prompt` is a vision-language captioner in the
// shape of yorickvp/llava-13b: its output is a list of text pieces (the words as they were
// streamed), here "A mostly <colour> picture." and a "Tags:" line. `POST /__captioner {"mode":
// "describe"|"broken"|"glacial"}` sets what it does; `captioned` in the stats counts them.
// The token `r8_bad` is refused with 401. `GET /__stats` counts predictions created.
import { createServer } from 'node:http';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { makePng } from '../integration/harness.mjs';

/** Output sizes flux-schnell gives for each aspect ratio (about one megapixel). */
const SIZES = { '1:1': [1024, 1024], '16:9': [1344, 768], '21:9': [1536, 640], '3:2': [1216, 832], '2:3': [832, 1216],
  '4:5': [896, 1088], '5:4': [1088, 896], '3:4': [896, 1152], '4:3': [1152, 896], '9:16': [768, 1344], '9:21': [640, 1536] };
const HOUR = 3600_000;

/** A diagonal-gradient RGB PNG, so crops and resizes are visible. */
function picture(w, h, seed) {
  const raw = Buffer.alloc((1 + 3 * w) * h);
  for (let y = 0; y < h; y++) {
    const row = y * (1 + 3 * w);
    for (let x = 0; x < w; x++) {
      const t = (x + y) / (w + h);
      raw[row + 1 + 3 * x] = (seed * 37 + 255 * t) & 255;
      raw[row + 2 + 3 * x] = 120;
      raw[row + 3 + 3 * x] = 255 - 200 * t;
    }
  }
  return makePng(w, h, 8, 2, deflateSync(raw));
}

/** "nsfw" when the picture (a data: URI) is mostly red, the tests' stand-in for what a real
 * model sees; "normal" otherwise. */
async function looks(uri) {
  const { channels: [r, g, b] } = await sharp(Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64')).stats();
  return r.mean > 2 * Math.max(g.mean, b.mean) ? 'nsfw' : 'normal';
}

/** The dominant colour of a picture (a data: URI), in words. */
async function colour(uri) {
  const { channels: [r, g, b] } = await sharp(Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64')).stats();
  const [mr, mg, mb] = [r.mean, g.mean, b.mean];
  if (Math.max(mr, mg, mb) - Math.min(mr, mg, mb) < 24) return mr > 128 ? 'light' : 'dark';
  return mr >= mg && mr >= mb ? 'red' : mg >= mb ? 'green' : 'blue';
}

export function startReplicate() {
  const predictions = new Map();
  const outputs = new Map();
  const throttledOnce = new Set();
  const stats = { created: 0, requests: 0, prompts: [], classified: 0, images: [], captioned: 0 };
  let classifier = 'normal';
  let captioner = 'describe';
  let base;
  const json = (res, status, body, headers = {}) => { res.writeHead(status, { 'content-type': 'application/json', ...headers }); res.end(JSON.stringify(body)); };
  const view = (p) => ({
    id: p.id, model: 'black-forest-labs/flux-schnell', version: 'dp-4d0bcc010b3049749a251855f12800be7b16a51d',
    input: p.input, logs: '', output: p.status === 'succeeded' ? (p.classifier || p.captioner ? p.output : [p.output]) : null, error: p.error ?? null, status: p.status,
    created_at: new Date(p.created).toISOString(), urls: { get: `${base}/v1/predictions/${p.id}`, cancel: `${base}/v1/predictions/${p.id}/cancel` },
  });
  const advance = (p) => {
    if (p.captioner) {
      if (p.captioner === 'glacial') { p.status = 'processing'; return; }
      if (p.captioner === 'broken') { p.status = 'failed'; p.error = 'RuntimeError: CUDA out of memory'; return; }
      p.output = ['A ', 'mostly ', `${p.colour} `, 'picture', '.', '\n', `Tags: ${p.colour}, picture, Test`];
      p.status = 'succeeded';
      return;
    }
    if (p.classifier) {
      if (p.classifier === 'glacial') { p.status = 'processing'; return; }
      if (p.classifier === 'broken') { p.status = 'failed'; p.error = 'RuntimeError: CUDA error: device-side assert triggered'; return; }
      const scored = p.classifier.match(/^scored:([0-9.]+)$/);
      if (p.classifier.startsWith('output:')) p.output = JSON.parse(p.classifier.slice(7));
      else if (p.classifier === 'looks') p.output = p.looks;
      else p.output = scored ? [{ label: 'nsfw', score: Number(scored[1]) }, { label: 'normal', score: 1 - Number(scored[1]) }] : p.classifier;
      p.status = 'succeeded';
      return;
    }
    const words = p.input.prompt;
    if (p.status === 'starting' && words.includes('slowpoke')) { p.status = 'processing'; return; }
    if (p.status === 'starting' || p.status === 'processing') {
      if (words.includes('glacial')) { p.status = 'processing'; return; }
      if (words.includes('naughty')) { p.status = 'failed'; p.error = 'NSFW content detected. Try running it again, or try a different prompt.'; return; }
      if (words.includes('broken')) { p.status = 'failed'; p.error = 'CUDA error: an illegal memory access was encountered'; return; }
      const [w, h] = SIZES[p.input.aspect_ratio] ?? [1024, 1024];
      const file = `${p.id}.png`;
      outputs.set(file, { bytes: picture(w, h, stats.created), created: Date.now(), gone: words.includes('vanished') });
      p.output = `${base}/output/${file}`;
      p.status = 'succeeded';
    }
  };
  const server = createServer((req, res) => {
    stats.requests++;
    const url = new URL(req.url, base);
    if (url.pathname === '/__stats') return json(res, 200, stats);
    if (url.pathname === '/__captioner') {
      let b = '';
      req.on('data', (d) => { b += d; });
      req.on('end', () => { captioner = JSON.parse(b).mode; json(res, 200, { mode: captioner }); });
      return;
    }
    if (url.pathname === '/__classifier') {
      let b = '';
      req.on('data', (d) => { b += d; });
      req.on('end', () => { classifier = JSON.parse(b).mode; json(res, 200, { mode: classifier }); });
      return;
    }
    if (url.pathname.startsWith('/output/')) {
      const o = outputs.get(url.pathname.slice(8));
      if (!o || o.gone || Date.now() - o.created > HOUR) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': o.bytes.length });
      res.end(o.bytes);
      return;
    }
    if (req.headers.authorization !== 'Bearer r8_test') return json(res, 401, { title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 });
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', async () => {
      const create = url.pathname.match(/^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/);
      const classify = (create && create[1] !== 'black-forest-labs') || (url.pathname === '/v1/predictions' && req.method === 'POST');
      if (req.method === 'POST' && classify) {
        let parsed;
        try { parsed = JSON.parse(body); } catch { return json(res, 400, { detail: 'invalid JSON', status: 400 }); }
        const image = parsed.input?.image;
        if (typeof image !== 'string' || !/^(https?:|data:image\/)/.test(image)) return json(res, 422, { title: 'Input validation failed', detail: '- input.image: Does not match format \'uri\'', status: 422 });
        if (typeof parsed.input.prompt === 'string') {
          stats.captioned++;
          const p = { id: `v${stats.captioned}x${Date.now().toString(36)}`, input: { image: image.slice(0, 64), prompt: parsed.input.prompt }, status: 'starting', created: Date.now(), captioner };
          if (image.startsWith('data:')) p.colour = await colour(image);
          predictions.set(p.id, p);
          if ((req.headers.prefer ?? '').startsWith('wait')) advance(p);
          return json(res, 201, view(p));
        }
        if (url.pathname === '/v1/predictions' && !parsed.version) return json(res, 422, { title: 'Invalid version', detail: 'version is required', status: 422 });
        stats.classified++;
        stats.images.push(image.slice(0, 40));
        const p = { id: `c${stats.classified}x${Date.now().toString(36)}`, input: { image: image.slice(0, 64) }, status: 'starting', created: Date.now(), classifier };
        if (classifier === 'looks') p.looks = await looks(image);
        predictions.set(p.id, p);
        if ((req.headers.prefer ?? '').startsWith('wait')) advance(p);
        return json(res, 201, view(p));
      }
      if (req.method === 'POST' && create) {
        let input;
        try { input = JSON.parse(body).input; } catch { return json(res, 400, { detail: 'invalid JSON', status: 400 }); }
        if (!input?.prompt || !SIZES[input.aspect_ratio]) return json(res, 422, { title: 'Input validation failed', detail: '- input.aspect_ratio: must be one of the following', status: 422 });
        if (input.prompt.includes('swamped') || (input.prompt.includes('throttled') && !throttledOnce.has(input.prompt))) {
          throttledOnce.add(input.prompt);
          return json(res, 429, { title: 'Request was throttled', detail: 'Request was throttled. Your rate limit resets in ~1s.', status: 429, retry_after: 1 }, { 'retry-after': '1' });
        }
        stats.created++;
        stats.prompts.push(input.prompt);
        const p = { id: `p${stats.created}x${Date.now().toString(36)}`, input, status: 'starting', created: Date.now() };
        predictions.set(p.id, p);
        // `Prefer: wait` holds the answer until the prediction is final (here: at once).
        if ((req.headers.prefer ?? '').startsWith('wait') && !input.prompt.includes('slowpoke')) advance(p);
        return json(res, 201, view(p));
      }
      const get = url.pathname.match(/^\/v1\/predictions\/([^/]+)$/);
      if (req.method === 'GET' && get) {
        const p = predictions.get(get[1]);
        if (!p) return json(res, 404, { detail: 'Not found.', status: 404 });
        advance(p);
        return json(res, 200, view(p));
      }
      json(res, 404, { detail: 'Not found.', status: 404 });
    });
  });
  return new Promise((resolve) => {
    server.unref();
    server.listen(0, '127.0.0.1', () => {
      base = `http://127.0.0.1:${server.address().port}`;
      resolve({ base, stats: async () => (await fetch(`${base}/__stats`)).json() });
    });
  });
}
