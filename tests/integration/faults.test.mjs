// Injected faults in the real Worker (TEST_FAULTS: R2, KV, the Durable Object, Telegram and
// Replicate fail, hang or answer garbage at chosen calls): each request gives a clear
// 502/503/504 with Retry-After and no internal text, and afterwards records, bytes, catalog and
// pools agree. Then the cron's self-repair mends staged leftovers and reports it.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { worker, corpus, unique, uploadOne, postFiles, bearer, audit, exportAll, ADMIN_TOKEN } from './harness.mjs';
import { startTelegram } from '../fakes/telegram.mjs';
import { startReplicate } from '../fakes/replicate.mjs';

const control = (url, body) => fetch(`${url}/__faults`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify(body) })
  .then((r) => assert.equal(r.status, 204, 'the fault switch is on'));
const admin = bearer(ADMIN_TOKEN);
const uploadTo = (url) => postFiles(url, '/upload', [['file', unique(corpus('small-320x211.jpg')), 'a.jpg']], { headers: bearer() });

async function expectClear(r, statuses, what) {
  const text = await r.text();
  assert.ok(statuses.includes(r.status), `${what}: ${r.status} ${text}`);
  assert.ok(r.headers.get('retry-after'), `${what}: no Retry-After`);
  assert.doesNotMatch(text, /injected|unreadable answer|SQL|at .*\.rs|bot\d+:/i, `${what}: internal text`);
}

describe('injected faults', () => {
  let tg; let rep;
  before(async () => {
    tg = await startTelegram({});
    rep = await startReplicate();
  });

  it('storage faults at every step give 502/503/504 and lose nothing', async () => {
    const url = await worker({ TEST_FAULTS: 'true', INSTANCE: 'faults-storage' });
    const { id } = await uploadOne(url, unique(corpus('small-320x211.jpg')));
    await uploadOne(url, unique(corpus('portrait-1600x2400.jpg')));
    const upload = () => uploadTo(url);
    const steps = {
      upload,
      delete: () => fetch(`${url}/api/admin/images/${id}`, { method: 'DELETE', headers: admin }),
      patch: () => fetch(`${url}/api/images/${id}`, { method: 'PATCH', headers: { ...admin, 'content-type': 'application/json' }, body: '{"album":"moved","status":"blocked"}' }),
      transform: () => fetch(`${url}/file/${id}.jpg?w=${40 + Math.floor(Math.random() * 400)}`),
      random: () => fetch(`${url}/random`),
    };
    const cases = [
      ['upload', { service: 'r2', op: 'put', mode: 'fail' }, [503]],
      ['upload', { service: 'kv', op: 'put', mode: 'hang' }, [504]],
      ['upload', { service: 'pool', op: 'index', mode: 'garbage' }, [503]],
      ['upload', { service: 'r2', op: 'head', mode: 'fail' }, [503]],
      ['delete', { service: 'kv', op: 'delete', mode: 'fail' }, [503]],
      ['delete', { service: 'pool', op: 'unindex', mode: 'hang' }, [504]],
      ['delete', { service: 'kv', op: 'get', mode: 'garbage' }, [502]],
      ['patch', { service: 'pool', op: 'index', mode: 'fail' }, [503]],
      ['patch', { service: 'kv', op: 'put', mode: 'hang' }, [504]],
      ['transform', { service: 'r2', op: 'get', mode: 'garbage' }, [502]],
      ['transform', { service: 'pool', op: 'reserve_variant', mode: 'fail' }, [503]],
      ['random', { service: 'pool', op: 'pick', mode: 'hang' }, [504]],
      ['random', { service: 'r2', op: 'get', mode: 'fail' }, [503]],
    ];
    for (const [step, rule, statuses] of cases) {
      const what = `${step} with ${rule.service} ${rule.op} ${rule.mode}`;
      await control(url, { rules: [rule] });
      await expectClear(await steps[step](), statuses, what);
      await control(url, {});
      const { problems } = await audit(url);
      assert.deepEqual(problems, [], what);
    }
    assert.equal((await fetch(`${url}/file/${id}.jpg`)).status, 200, 'the image outlived every failed delete');
  });

  it('Telegram and Replicate faults give 502/503/504 and store nothing', async () => {
    const url = await worker({
      TEST_FAULTS: 'true', STORAGE_CHANNEL: 'telegram', TELEGRAM_FALLBACK_R2: 'false', TELEGRAM_DEADLINE_S: '5',
      TELEGRAM_BOT_TOKEN: tg.bots.join(','), TELEGRAM_CHAT_ID: tg.chatId, TELEGRAM_API_BASE: tg.base,
      REPLICATE_API_TOKEN: 'r8_test', REPLICATE_API_BASE: rep.base, PLACEHOLDER_DEADLINE_S: '3',
    });
    const upload = () => uploadTo(url);
    const word = () => `/96x64/fault-${Date.now()}-${Math.floor(Math.random() * 1e6)}.png`;
    const cases = [
      [upload, { service: 'telegram', op: 'sendDocument', mode: 'fail' }, [503]],
      [upload, { service: 'telegram', op: 'sendDocument', mode: 'garbage' }, [502, 503]],
      [upload, { service: 'telegram', op: 'sendDocument', mode: 'hang' }, [503, 504]],
      [() => fetch(url + word()), { service: 'replicate', op: '*', mode: 'fail' }, [502, 503]],
      [() => fetch(url + word()), { service: 'replicate', op: '*', mode: 'garbage' }, [502]],
      [() => fetch(url + word()), { service: 'replicate', op: '*', mode: 'hang' }, [504]],
    ];
    for (const [send, rule, statuses] of cases) {
      const what = `${rule.service} ${rule.op} ${rule.mode}`;
      await control(url, { rules: [rule] });
      await expectClear(await send(), statuses, what);
      await control(url, {});
      const { records, problems } = await audit(url);
      assert.deepEqual(problems, [], what);
      assert.equal(records.length, 0, `${what}: nothing stored`);
    }
    assert.equal((await upload()).status, 200, 'works again once Telegram does');
  });
});

describe('self-repair (cron)', () => {
  it('deletes old orphan bytes, drops records whose bytes are gone, fixes the index, and reports it', async () => {
    const url = await worker({ TEST_FAULTS: 'true', INSTANCE: 'repair' });
    const keep = await uploadOne(url, unique(corpus('small-320x211.jpg')));
    const lost = await uploadOne(url, unique(corpus('portrait-1600x2400.jpg')));
    const gone = await uploadOne(url, unique(corpus('exif-orientation6-gps.jpg')));
    const lostKey = (await exportAll(url)).find((m) => m.id === lost.id).location;
    // An upload whose record write failed and whose clean-up failed too: bytes, no record.
    await control(url, { rules: [{ service: 'kv', op: 'put', mode: 'fail' }, { service: 'r2', op: 'delete', mode: 'fail' }] });
    assert.equal((await uploadTo(url)).status, 503);
    // Bytes lost behind a record's back, and a record lost behind the catalog's back.
    await control(url, { drop_objects: [lostKey], drop_records: [gone.id] });
    const before = await audit(url);
    assert.ok(before.problems.length >= 2, `the leftovers show: ${before.problems}`);

    const cron = async () => assert.equal((await fetch(`${url}/cdn-cgi/handler/scheduled`)).status, 200);
    await cron();
    let stats = await (await fetch(`${url}/api/admin/stats`, { headers: admin })).json();
    assert.equal(stats.repair.last.records_without_bytes, 1);
    assert.equal(stats.repair.last.stale_entries_removed, 1);
    assert.equal(stats.repair.last.orphans_deleted, 0, 'orphans younger than an hour stay');

    await control(url, { clock_offset_ms: 2 * 3600 * 1000 });
    await cron();
    stats = await (await fetch(`${url}/api/admin/stats`, { headers: admin })).json();
    assert.equal(stats.repair.last.orphans_deleted, 2, 'the failed upload\'s bytes and the lost record\'s bytes');
    assert.equal(stats.repair.total.records_without_bytes, 1);
    assert.ok(stats.repair.last_run > 0);
    await control(url, {});
    const after = await audit(url);
    assert.deepEqual(after.problems, []);
    assert.deepEqual(after.records.map((m) => m.id), [keep.id]);
    assert.equal((await fetch(`${url}/file/${lost.id}.jpg`)).status, 404);
  });
});

describe('pools that lag their records', () => {
  it('/random never serves an image whose record is not active (an unblock that failed half way)', async () => {
    const url = await worker({ TEST_FAULTS: 'true', INSTANCE: 'lagging-pool' });
    const album = `lag${Date.now()}`;
    const { id } = await uploadOne(url, unique(corpus('small-320x211.jpg')), 'a.jpg', `?album=${album}`);
    const patch = (status) => fetch(`${url}/api/images/${id}`, { method: 'PATCH', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ status }) });
    assert.equal((await patch('blocked')).status, 200);
    // Unblock: the pools take the image back, the record write fails, and so does the undo of
    // the pools: pools ahead of the record.
    await control(url, { rules: [{ service: 'kv', op: 'put', mode: 'fail', times: 1 }, { service: 'pool', op: 'index', mode: 'fail', skip: 1, times: 1 }] });
    assert.equal((await patch('active')).status, 503);
    await control(url, {});
    assert.equal((await fetch(`${url}/random/count?album=${album}&format=text`).then((r) => r.text())), '1', 'the premise: the pool lists the blocked image');
    for (const q of ['', '&w=50']) {
      const r = await fetch(`${url}/random?album=${album}${q}`);
      assert.equal(r.status, 404, `a blocked image was served${q}`);
      assert.equal((await r.json()).error.code, 'no_images');
    }
    assert.equal((await fetch(`${url}/file/${id}.jpg`)).status, 451);
  });
});
