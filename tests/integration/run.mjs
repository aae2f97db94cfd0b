// Runs every *.test.mjs in this folder in one process, so that all of them share the
// Worker instances the harness starts, and stops those instances at the end.
import { after } from 'node:test';
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopAll } from './harness.mjs';

after(stopAll);
const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
for (const f of readdirSync(here).filter((f) => f.endsWith('.test.mjs')).sort()) {
  if (only.length && !only.some((o) => f.includes(o))) continue;
  await import(`./${f}`);
}
