// scripts/deploy: its dry run (what the checks of a fresh clone run), and a real run against a
// stand-in for wrangler that records every command line and the secrets file it is handed, to
// see that secrets go up once, from a file only this user can read, and never on a command line.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';

/** Runs scripts/deploy (without blocking: the other test files' Workers keep serving). */
function deploy(args, env) {
  return new Promise((resolve) => {
    const child = spawn('bash', ['scripts/deploy', ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (status) => resolve({ status, out }));
  });
}
const secretsOf = (dir) => Object.fromEntries(readFileSync(join(dir, 'secrets.env'), 'utf8').trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));

describe('scripts/deploy', () => {
  it('wrangler.toml names nothing of any one account', () => {
    const toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8').replace(/#.*$/gm, '');
    assert.doesNotMatch(toml, /^\s*(id|account_id|preview_id)\s*=/m);
    assert.match(toml, /\[\[kv_namespaces\]\]\s*binding = "META"/);
  });

  it('bad options are refused before anything runs', async () => {
    for (const args of [['--rotate', 'TELEGRAM_BOT_TOKEN'], ['--rotate'], ['--dry']]) {
      const r = await deploy(args, { IMGBED_DEPLOY_DIR: mkdtempSync(join(tmpdir(), 'imgbed-deploy-')) });
      assert.equal(r.status, 2, r.out);
      assert.doesNotMatch(r.out, /\[deploy\]/, 'no step started');
    }
  });

  it('--dry-run names every step, masks the secrets it makes, and a second run keeps them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imgbed-deploy-'));
    const first = await deploy(['--dry-run'], { IMGBED_DEPLOY_DIR: dir });
    assert.equal(first.status, 0, first.out);
    for (const step of ['1/5 build', 'wrangler whoami', 'wrangler login', '3/5 secrets', 'will upload UPLOAD_TOKENS', 'will upload ADMIN_PASSWORD',
      'Total Upload', 'would run: wrangler deploy --secrets-file', '5/5 done', 'PicGo / PicList']) {
      assert.ok(first.out.includes(step), `the transcript names "${step}":\n${first.out}`);
    }
    const secrets = secretsOf(dir);
    assert.deepEqual(Object.keys(secrets).sort(), ['ADMIN_PASSWORD', 'ADMIN_TOKEN', 'SECRET_KEY', 'UPLOAD_TOKENS']);
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(value.length >= 20, `${name} is strong`);
      assert.ok(!first.out.includes(value), `${name} is not in the transcript`);
    }
    assert.equal(statSync(join(dir, 'secrets.env')).mode & 0o777, 0o600);
    const second = await deploy(['--dry-run'], { IMGBED_DEPLOY_DIR: dir });
    assert.equal(second.status, 0, second.out);
    assert.match(second.out, /keeping the secrets/);
    assert.doesNotMatch(second.out, /will upload|--secrets-file/);
    assert.deepEqual(secretsOf(dir), secrets);
  });

  it('a real run puts the secrets up once, from a private file, never on a command line; --rotate changes one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imgbed-deploy-'));
    const log = join(dir, 'wrangler.log');
    const fake = join(dir, 'wrangler');
    // What wrangler answers, as far as scripts/deploy reads it; every call and every secrets
    // file it is given are recorded (with the file's mode).
    writeFileSync(fake, `#!/usr/bin/env bash
printf 'ARGV %s\\n' "$*" >> ${JSON.stringify(log)}
prev=
for a in "$@"; do
  if [ "$prev" = --secrets-file ]; then printf 'MODE %s\\n' "$(stat -c %a "$a")" >> ${JSON.stringify(log)}; sed 's/^/FILE /' "$a" >> ${JSON.stringify(log)}; fi
  prev=$a
done
case "$1" in
  whoami) echo "You are logged in with an OAuth Token, associated with the email someone@example.com." ;;
  deploy) echo "Uploaded imgbed (3.1 sec)"; echo "Deployed imgbed triggers (0.9 sec)"; echo "  https://imgbed.someone.workers.dev" ;;
esac
`);
    chmodSync(fake, 0o755);
    const env = { IMGBED_DEPLOY_DIR: dir, IMGBED_WRANGLER: fake, REPLICATE_API_TOKEN: 'r8_test_replicate_token_123' };
    const first = await deploy([], env);
    assert.equal(first.status, 0, first.out);
    const secrets = secretsOf(dir);
    const calls = readFileSync(log, 'utf8');
    const argv = calls.split('\n').filter((l) => l.startsWith('ARGV'));
    assert.deepEqual(argv.map((l) => l.split(' ')[1]), ['whoami', 'deploy']);
    for (const value of Object.values(secrets)) assert.ok(!argv.join('\n').includes(value), 'no secret on a command line');
    assert.match(calls, /^MODE 600$/m);
    for (const [name, value] of Object.entries(secrets)) assert.ok(calls.includes(`FILE ${name}=${value}`), `${name} goes up with the deploy`);
    assert.ok(!readFileSync(join(dir, 'secrets.env'), 'utf8').includes('\nFILE'));
    assert.match(first.out, /https:\/\/imgbed\.someone\.workers\.dev\/admin/);
    assert.ok(first.out.includes(secrets.UPLOAD_TOKENS) && first.out.includes(secrets.ADMIN_PASSWORD), 'shown once, in full');
    assert.equal(readFileSync(log, 'utf8').match(/FILE REPLICATE_API_TOKEN=r8_test_replicate_token_123/g)?.length, 1);

    writeFileSync(log, '');
    const again = await deploy([], { ...env, REPLICATE_API_TOKEN: '' });
    assert.equal(again.status, 0, again.out);
    assert.doesNotMatch(readFileSync(log, 'utf8'), /FILE|--secrets-file/, 'a second run uploads no secret');
    assert.ok(!again.out.includes(secrets.UPLOAD_TOKENS), 'and shows none');

    writeFileSync(log, '');
    const rotated = await deploy(['--rotate', 'ADMIN_PASSWORD'], { ...env, REPLICATE_API_TOKEN: '' });
    assert.equal(rotated.status, 0, rotated.out);
    const now = secretsOf(dir);
    assert.notEqual(now.ADMIN_PASSWORD, secrets.ADMIN_PASSWORD);
    assert.equal(now.UPLOAD_TOKENS, secrets.UPLOAD_TOKENS);
    const sent = readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('FILE'));
    assert.deepEqual(sent, [`FILE ADMIN_PASSWORD=${now.ADMIN_PASSWORD}`]);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('upload.')), [], 'the file of secrets to upload is gone');
  });
});
