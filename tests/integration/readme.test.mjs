// README.md, run top to bottom as a new user would: every fenced `sh` example runs in order in
// one bash session against a fresh instance, with the README's own placeholders ($H, $T, $A, $P)
// defined by its `export` line, in a folder holding the files the examples name. Each example
// is checked against the answer the README shows: a comment line under a command is its
// answer (JSON shape, a URL, or an output line), a comment at the end of the command line may
// start with the status. Every client recipe is set up as written and used as that client
// uses it. What needs Cloudflare, the internet, a desktop or Windows says so in the README
// (`# needs …` or `<!-- needs … -->`) and is skipped by that name.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { worker, imagePath, unique, corpus, ROOT, UPLOAD_TOKEN, ADMIN_TOKEN } from './harness.mjs';

const PASSWORD = 'readme-console-password';
// The examples run for a while in bash; the local runtime drops connections idle that long,
// and the first request after them may meet one. Once more, then it counts.
const fetch = (url, init) => globalThis.fetch(url, init).catch(() => globalThis.fetch(url, init));
const SIGNING_KEY = 'readme-signing-key';

// ---- reading the README ----

/** The README as a list of blocks: fenced code (with its language, its section, and the HTML
 * comment right above it) and the setting tables of client recipes. */
function readBlocks(text) {
  const lines = text.split('\n');
  const blocks = [];
  let section = '', heading = '', marker = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^## /.test(line)) section = line.slice(3).trim();
    if (/^#{2,4} /.test(line)) heading = line.replace(/^#+ /, '').trim();
    const m = line.match(/^<!--\s*(.*?)\s*-->$/);
    if (m) { marker = m[1]; continue; }
    const fence = line.match(/^```(\w*)$/);
    if (fence && fence[1]) {
      const body = [];
      for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]);
      blocks.push({ kind: 'code', lang: fence[1], section, heading, marker, body, line: i - body.length });
      marker = null;
      continue;
    }
    if (/^\| setting \| value \|/.test(line)) {
      const settings = {};
      for (i += 2; i < lines.length && lines[i].startsWith('|'); i++) {
        const [k, v] = lines[i].split('|').slice(1, 3).map((c) => c.trim().replace(/^`|`$/g, ''));
        settings[k] = v;
      }
      blocks.push({ kind: 'client', section, heading, settings });
    }
    if (line.trim()) marker = null;
  }
  return blocks;
}

/** A `sh` block as examples: each command (with its `\` continuation lines), its trailing
 * comment and the comment lines under it. */
function examples(block) {
  const out = [];
  for (const line of block.body) {
    if (!line.trim()) continue;
    if (line.trimStart().startsWith('#')) {
      out.at(-1)?.below.push(line.replace(/^\s*#\s?/, ''));
      continue;
    }
    const prev = out.at(-1);
    if (prev && prev.command.endsWith('\\')) { prev.command += '\n' + line; continue; }
    const trailing = line.match(/\s{2,}#\s(.*)$/);
    out.push({ command: trailing ? line.slice(0, trailing.index) : line, trailing: trailing ? trailing[1] : '', below: [], block });
  }
  return out;
}

/** The first balanced JSON value in `text`, with the README's `…` elisions made parseable
 * (an elided value is null: any value fits it; elided members and items are dropped). */
function shownJson(text) {
  const start = text.search(/[{[]/);
  if (start < 0) return undefined;
  let depth = 0, inString = false, end = -1;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) { if (c === '\\') i++; else if (c === '"') inString = false; continue; }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) { end = i; break; }
  }
  if (end < 0) return undefined;
  let t = text.slice(start, end + 1);
  t = t.replace(/…[a-z]+…,?/g, '').replace(/\[…\]/g, '[]').replace(/\{…\}/g, '{}').replace(/\{\s*…\s*,/g, '{')
    .replace(/,\s*…(?=\s*[}\]])/g, '').replace(/:\s*…(?=\s*[,}\]])/g, ':null');
  try { return JSON.parse(t); } catch { return undefined; }
}

// Strings whose exact value the README promises (not ids, names or URLs).
const EXACT_STRINGS = new Set(['status', 'action', 'code', 'orientation', 'format', 'result']);
/** Why `actual` does not have the shape `shown` has, or null when it does. */
function misfit(shown, actual, path = '$') {
  if (shown === null) return null;
  if (Array.isArray(shown)) {
    if (!Array.isArray(actual)) return `${path}: expected a list, got ${JSON.stringify(actual)}`;
    if (!shown.length) return null;
    if (!actual.length) return `${path}: expected items, got an empty list`;
    return misfit(shown[0], actual[0], `${path}[0]`);
  }
  if (typeof shown === 'object') {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return `${path}: expected an object, got ${JSON.stringify(actual)}`;
    for (const [k, v] of Object.entries(shown)) {
      if (!(k in actual)) return `${path}.${k}: missing`;
      const bad = misfit(v, actual[k], `${path}.${k}`) ?? exact(k, v, actual[k], `${path}.${k}`);
      if (bad) return bad;
    }
    return null;
  }
  if (typeof shown !== typeof actual) return `${path}: expected a ${typeof shown}, got ${JSON.stringify(actual)}`;
  return null;
}
function exact(key, shown, actual, path) {
  const same = typeof shown === 'boolean' || (typeof shown === 'string' && EXACT_STRINGS.has(key)) || key === 'failed';
  return same && shown !== actual ? `${path}: expected ${JSON.stringify(shown)}, got ${JSON.stringify(actual)}` : null;
}

// ---- running it ----

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const BLOCKS = readBlocks(README);
const needs = (ex) => ex.block.marker?.match(/^needs (.*)/)?.[1] ?? ex.trailing.match(/^needs (.*)/)?.[1];
const skipped = (ex) => needs(ex) ? `needs ${needs(ex)}` : ex.block.marker?.startsWith('readme-test: skip') ? ex.block.marker.slice(13) : null;

/** The folder the examples run in: the files they name, and scripts/ for backup and restore. */
function workFolder() {
  const dir = mkdtempSync(join(tmpdir(), 'imgbed-readme-'));
  const files = { 'photo.jpg': 'landscape-3840x2400.jpg', 'cat.jpg': 'portrait-1600x2400.jpg', 'a.png': 'alpha-3700x2400.png', 'b.webp': 'square-4096.webp', 'big.jpg': 'large-3840x2400.jpg' };
  for (const [name, source] of Object.entries(files)) copyFileSync(imagePath(source), join(dir, name));
  writeFileSync(join(dir, 'shot.png'), unique(corpus('alpha-3700x2400.png')));
  symlinkSync(join(ROOT, 'scripts'), join(dir, 'scripts'));
  return dir;
}

/** Runs every runnable example in one bash session; returns each one's outcome. */
async function runAll(list, env) {
  const out = mkdtempSync(join(tmpdir(), 'imgbed-readme-out-'));
  let script = `cd ${JSON.stringify(env.WORK)}
curl() { command curl -w '%{stderr}\\n@@status %{http_code}\\n' "$@"; }
`;
  let open = null;
  list.forEach((ex, n) => {
    if (ex.block !== open && open?.marker?.startsWith('readme-test: with')) script += ')\n';
    if (ex.block !== open && ex.block.marker?.startsWith('readme-test: with')) {
      // A block for an instance with a setting the main one lacks: a second instance, in a subshell.
      script += `(\nH=${env.H2}; ID=${env.ID2}; KEY=${SIGNING_KEY}\n`;
    }
    open = ex.block;
    if (skipped(ex)) return;
    const command = /^export H=/.test(ex.command) ? `export H=${env.H} T=${UPLOAD_TOKEN} A=${ADMIN_TOKEN} P=${PASSWORD}` : ex.command;
    script += `{ ${command}\n} >${out}/${n}.out 2>${out}/${n}.err </dev/null; echo $? >${out}/${n}.rc\n`;
  });
  if (open?.marker?.startsWith('readme-test: with')) script += ')\n';
  // Not spawnSync: the other test files' Workers keep serving meanwhile.
  await new Promise((resolve, reject) => spawn('bash', ['-c', script], { stdio: 'ignore' }).on('close', resolve).on('error', reject));
  return list.map((_, n) => existsSync(`${out}/${n}.rc`) && {
    rc: Number(readFileSync(`${out}/${n}.rc`, 'utf8')),
    stdout: readFileSync(`${out}/${n}.out`, 'utf8'),
    stderr: readFileSync(`${out}/${n}.err`, 'utf8'),
  });
}

/** The checks one example's outcome must pass, as a list of problems. */
function check(ex, got, H) {
  const problems = [];
  const statuses = [...got.stderr.matchAll(/@@status (\d{3})/g)].map((m) => Number(m[1])).filter(Boolean);
  const stderr = got.stderr.replace(/\n?@@status \d+\n/g, '').trim();
  if (got.rc !== 0) problems.push(`exit status ${got.rc}: ${stderr.slice(0, 300)}`);
  const status = statuses.at(-1);
  const promised = Number(ex.trailing.match(/^(\d{3})\b/)?.[1] || 0);
  if (promised ? status !== promised : statuses.length && !(status >= 200 && status < 300)) problems.push(`HTTP ${status}, the README says ${promised || '2xx'}: ${got.stdout.slice(0, 300)}`);
  const below = ex.below.join('');
  const shown = shownJson(below.trimStart().startsWith('{') || below.trimStart().startsWith('[') ? below : ex.trailing.match(/^(\d{3}\s*)?[{[]/) ? ex.trailing : '');
  if (shown !== undefined) {
    let actual;
    try { actual = JSON.parse(got.stdout); } catch { problems.push(`not JSON: ${got.stdout.slice(0, 300)}`); }
    const bad = actual !== undefined && misfit(shown, actual);
    if (bad) problems.push(`${bad}\n    answer: ${got.stdout.slice(0, 400)}`);
  } else if (ex.below[0]?.startsWith('http')) {
    const prefix = ex.below[0].replace('http://localhost:8787', H).replace(/[^/]*$/, '');
    if (!got.stdout.trim().startsWith(prefix)) problems.push(`expected a URL starting ${prefix}, got ${JSON.stringify(got.stdout.slice(0, 200))}`);
  } else if (ex.below[0]) {
    // An output line: its numbers and host may differ, its words may not.
    const escape = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const words = ex.below[0].split('http://localhost:8787').map((part) => escape(part).replace(/\d+(\\\.\d+)?/g, '[\\d.]+')).join(escape(H));
    if (!new RegExp(words).test(got.stdout)) problems.push(`expected a line like ${JSON.stringify(ex.below[0])}, got ${JSON.stringify(got.stdout.slice(0, 300))}`);
  }
  return problems;
}

// ---- the clients, as each uses its settings ----

const fileForm = (field, bytes, name) => { const f = new FormData(); f.append(field, new Blob([bytes]), name); return f; };
const dig = (value, path) => path.reduce((v, k) => v?.[k], value);
async function servesBytes(url, bytes) {
  const r = await fetch(url);
  assert.equal(r.status, 200, `${url} answers ${r.status}`);
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(bytes), `${url} serves other bytes`);
}
async function json(r, what) {
  const text = await r.text();
  try { return JSON.parse(text); } catch { assert.fail(`${what}: HTTP ${r.status}, not JSON: ${text.slice(0, 200)}`); }
}

/** What each client does with its settings: upload, read the link where it reads it, delete
 * where it can. `s` are the README's settings with the host and token filled in. */
const CLIENTS = {
  'PicGo — web-uploader plugin (Telegraph shape)': async (s, H) => {
    const bytes = unique(corpus('small-320x211.jpg'));
    const r = await fetch(s['API URL'], { method: 'POST', headers: JSON.parse(s['custom header']), body: fileForm(s['POST parameter name'], bytes, 'picgo.jpg') });
    const url = dig(await json(r, 'upload'), s['JSON path'].split('.'));
    assert.ok(url?.startsWith(H), `the JSON path ${s['JSON path']} gives ${url}, not a URL of this host`);
    await servesBytes(url, bytes);
  },
  'PicGo or PicList — built-in SM.MS': async (s, H) => {
    // The client builds https://<backup domain>/api/v2/...; the test instance speaks http.
    const base = `${new URL(H).protocol}//${s['backup domain']}`;
    const bytes = unique(corpus('small-320x211.jpg'));
    const up = await json(await fetch(`${base}/api/v2/upload`, { method: 'POST', headers: { Authorization: s.token }, body: fileForm('smfile', bytes, 'smms.jpg') }), 'upload');
    assert.equal(up.success, true, JSON.stringify(up));
    await servesBytes(up.data.url, bytes);
    const del = await json(await fetch(`${base}/api/v2/delete/${up.data.hash}`, { headers: { Authorization: s.token } }), 'delete');
    assert.equal(del.success, true, JSON.stringify(del));
    assert.equal((await fetch(up.data.url)).status, 404);
  },
  'PicList — built-in Lsky Pro': async (s) => {
    assert.equal(s.version, 'V2');
    const bytes = unique(corpus('small-320x211.jpg'));
    const headers = { Authorization: s.token, Accept: 'application/json' };
    const up = await json(await fetch(`${s.host}/api/v1/upload`, { method: 'POST', headers, body: fileForm('file', bytes, 'lsky.jpg') }), 'upload');
    assert.equal(up.status, true, JSON.stringify(up));
    await servesBytes(up.data.links.url, bytes);
    const del = await json(await fetch(`${s.host}/api/v1/images/${up.data.key}`, { method: 'DELETE', headers }), 'delete');
    assert.equal(del.status, true, JSON.stringify(del));
    assert.equal((await fetch(up.data.links.url)).status, 404);
  },
  'Obsidian — Image auto upload plugin': async (s) => {
    assert.equal(s['remote server mode'], 'on');
    const bytes = unique(corpus('small-320x211.jpg'));
    const up = await json(await fetch(s['upload server'], { method: 'POST', body: fileForm('list', bytes, 'Pasted image 20261206101500.jpg') }), 'upload');
    assert.equal(up.success, true, JSON.stringify(up));
    const url = Array.isArray(up.result) ? up.result[0] : up.result;
    await servesBytes(url, bytes);
    const del = await json(await fetch(s['delete server'], { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ list: up.fullResult }) }), 'delete');
    assert.equal(del.success, true, JSON.stringify(del));
    assert.equal((await fetch(url)).status, 404);
  },
  'uPic — Custom host': async (s) => {
    const bytes = unique(corpus('small-320x211.jpg'));
    const [name, ...value] = s.header.split(':');
    const r = await fetch(s['API URL'], { method: s.method, headers: { [name.trim()]: value.join(':').trim() }, body: fileForm(s['file field'], bytes, 'upic.jpg') });
    await servesBytes(dig(await json(r, 'upload'), JSON.parse(s['URL path'])), bytes);
  },
};

/** ShareX, as it uses the `.sxcu` file the README downloads. */
async function sharex(file) {
  const sxcu = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(sxcu.Body, 'MultipartFormData');
  const bytes = unique(corpus('small-320x211.jpg'));
  const up = await json(await fetch(sxcu.RequestURL, { method: sxcu.RequestMethod, headers: sxcu.Headers ?? {}, body: fileForm(sxcu.FileFormName, bytes, 'sharex.jpg') }), 'upload');
  const expression = (template) => template.replace(/\{json:([^}]+)\}/g, (_, path) => dig(up, path.split('.')));
  await servesBytes(expression(sxcu.URL), bytes);
  if (sxcu.DeletionURL) assert.match(expression(sxcu.DeletionURL), /^http/);
}

/** Typora: its custom command with the file paths appended, as Typora runs it. */
function typora(command, files, cwd) {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', `${command} "$@"`, 'typora', ...files], { cwd });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('README.md, run top to bottom', () => {
  let H, work, list, results;
  const fill = (v, host, token) => v.replaceAll('https://img.example.com', host).replaceAll('img.example.com', new URL(host).host).replaceAll('TOKEN', token);

  before(async () => {
    H = await worker({ ADMIN_PASSWORD: PASSWORD, README_TEST: '1' });
    const H2 = await worker({ ADMIN_PASSWORD: PASSWORD, TRANSFORM_SIGNING_KEY: SIGNING_KEY, README_TEST: '1' });
    const photo = readFileSync(imagePath('landscape-3840x2400.jpg'));
    const up = await (await fetch(`${H2}/upload/photo.jpg`, { method: 'PUT', headers: { Authorization: `Bearer ${UPLOAD_TOKEN}` }, body: photo })).json();
    work = workFolder();
    list = BLOCKS.filter((b) => b.kind === 'code' && b.lang === 'sh' && b.marker !== 'readme-test: client typora').flatMap(examples);
    results = await runAll(list, { H, H2, ID2: up.id, WORK: work });
  });

  it('defines its placeholders once, near the top, and uses no other undefined variable', () => {
    const defs = list.filter((ex) => /^export H=/.test(ex.command));
    assert.equal(defs.length, 1, 'one export line defines the placeholders');
    assert.deepEqual(defs[0].command.slice(7).split(/\s+/).map((d) => d.split('=')[0]), ['H', 'T', 'A', 'P']);
    assert.ok(README.indexOf(defs[0].command) < README.indexOf('## Endpoints'));
    const defined = new Set(['H', 'T', 'A', 'P']);
    for (const ex of list) {
      const code = ex.command.replace(/'[^']*'/g, '');
      if (ex.block.marker?.startsWith('readme-test: with')) ['KEY'].forEach((v) => defined.add(v));
      for (const [, name] of code.matchAll(/\$\{?([A-Za-z_]\w*)/g)) {
        if (!defined.has(name)) assert.fail(`README line ${ex.block.line}: ${name} is used before it is defined:\n  ${ex.command}`);
      }
      for (const [, name] of code.matchAll(/(?:^|[;\s]|export\s)([A-Za-z_]\w*)=/g)) defined.add(name);
    }
  });

  it('every example runs and answers what the README shows', () => {
    const failures = [];
    let ran = 0;
    list.forEach((ex, n) => {
      if (skipped(ex)) return;
      ran++;
      if (!results[n]) { failures.push(`did not run: ${ex.command}`); return; }
      const problems = check(ex, results[n], H);
      if (problems.length) failures.push(`README line ${ex.block.line} (${ex.block.heading}):\n  ${ex.command}\n  ${problems.join('\n  ')}`);
    });
    assert.ok(ran > 60, `only ${ran} examples ran`);
    assert.equal(failures.length, 0, `\n${failures.join('\n\n')}`);
  });

  for (const ex of BLOCKS.filter((b) => b.kind === 'code' && b.lang === 'sh').flatMap(examples).filter(skipped)) {
    it(`skipped by name: ${ex.command.split('\n')[0].slice(0, 90)}`, { skip: skipped(ex) }, () => {});
  }

  it('every client recipe works as written', async () => {
    const clients = BLOCKS.filter((b) => b.kind === 'client' && b.section === 'Use it with your client');
    assert.deepEqual(clients.map((c) => c.heading).sort(), Object.keys(CLIENTS).sort(), 'a driver for each client table, a table for each driver');
    for (const c of clients) {
      const settings = Object.fromEntries(Object.entries(c.settings).map(([k, v]) => [k, fill(v, H, UPLOAD_TOKEN)]));
      await CLIENTS[c.heading](settings, H).catch((e) => { e.message = `${c.heading} (${JSON.stringify(settings)}): ${e.message} ${e.cause ?? ''}`; throw e; });
    }
    await sharex(join(work, 'imgbed.sxcu'));
  });

  it('the Typora command uploads any file name, and fails loudly when refused', async () => {
    const block = BLOCKS.find((b) => b.marker === 'readme-test: client typora');
    const command = block.body.join('\n');
    const dir = mkdtempSync(join(tmpdir(), 'imgbed-typora-'));
    const names = ['Screenshot 2026-12-06 at 10.15.00.png', '截图 1.png', "it's a;b&c.jpg"];
    const bytes = [unique(corpus('alpha-3700x2400.png')), unique(corpus('alpha-3700x2400.png')), unique(corpus('small-320x211.jpg'))];
    names.forEach((n, i) => writeFileSync(join(dir, n), bytes[i]));
    const ok = await typora(fill(command, H, UPLOAD_TOKEN), names.map((n) => join(dir, n)), dir);
    assert.equal(ok.status, 0, ok.stderr);
    const urls = ok.stdout.trim().split('\n');
    assert.equal(urls.length, names.length, ok.stdout);
    for (const [i, u] of urls.entries()) {
      await servesBytes(u, bytes[i]);
      const id = u.split('/').pop().split('.')[0];
      const meta = await (await fetch(`${H}/api/images/${id}`)).json();
      assert.equal(meta.name.replace(/\.\w+$/, ''), names[i].replace(/\.\w+$/, ''), 'the name is kept');
    }
    const refused = await typora(fill(command, H, 'wrong-token'), [join(dir, names[0])], dir);
    assert.notEqual(refused.status, 0, 'a refused upload fails the command');
    assert.match(refused.stderr, /40[13]/, 'curl says why');
    assert.equal(refused.stdout.trim(), '', 'Typora gets no link');
  });
});
