// The layer rule of src/lib.rs, checked: each room (a folder or top-level file of src/) may use
// only the rooms below it, and no two modules form a circle. The graph is read from `crate::…`
// paths in code (not comments, not tests). Run by scripts/test; `node scripts/layers.mjs -v`
// prints the graph's size too.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
// Lowest first: a room may use the rooms before it.
const ORDER = [
  'base', 'http', 'sniff', 'budget', 'config', 'transform', 'index', // pure
  'platform', // ports
  'app',
  'services', 'access', 'library', 'upload', // use cases
  'pages', 'serve', 'random', 'placeholder', 'gallery', 'clients', 'admin', // features
  'router',
  'adapters', // the ports' implementations
];
const RANK = new Map(ORDER.map((r, i) => [r, i]));
// Features do not use one another, except the two HTTP halves every page and image answer is
// made of: the pages' frame and serving an image.
const FEATURES = new Set(['pages', 'serve', 'random', 'placeholder', 'gallery', 'clients', 'admin']);
const SHARED = new Set(['pages', 'serve']);

/** Module path (`library::view`) → its code, tests and comments cut off. */
function modules(dir = SRC, out = new Map()) {
  for (const f of readdirSync(dir)) {
    const path = join(dir, f);
    if (statSync(path).isDirectory()) { modules(path, out); continue; }
    if (!f.endsWith('.rs') || path === join(SRC, 'lib.rs')) continue;
    const name = relative(SRC, path).replace(/(\/mod)?\.rs$/, '').split('/').join('::');
    out.set(name, readFileSync(path, 'utf8').split('#[cfg(test)]')[0].replace(/\/\/.*/g, ''));
  }
  return out;
}

const mods = modules();
const resolve = (path) => {
  const parts = path.split('::');
  for (let k = parts.length; k > 0; k--) if (mods.has(parts.slice(0, k).join('::'))) return parts.slice(0, k).join('::');
  return null;
};
const edges = new Map([...mods.keys()].map((m) => [m, new Set()]));
for (const [name, code] of mods) {
  const uses = [...code.matchAll(/crate::((?:[a-z_0-9]+::)*[a-z_0-9]+)/g)].map((m) => m[1]);
  for (const m of code.matchAll(/crate::((?:[a-z_0-9]+::)*)\{([^}]*)\}/g)) {
    for (const item of m[2].split(',').map((s) => s.trim()).filter((s) => s && s !== 'self')) uses.push(m[1] + item.split('::')[0]);
  }
  for (const u of uses) {
    const to = resolve(u);
    if (to && to !== name) edges.get(name).add(to);
  }
}

const problems = [];
const room = (m) => m.split('::')[0];
for (const r of new Set([...mods.keys()].map(room))) if (!RANK.has(r)) problems.push(`${r} has no layer: add it to ORDER in scripts/layers.mjs`);
for (const [from, tos] of edges) {
  for (const to of tos) {
    const [a, b] = [room(from), room(to)];
    if (a !== b && RANK.get(b) >= RANK.get(a)) problems.push(`upward import: ${from} uses ${to} (${b} is not below ${a}): move the code down a layer, or the caller up`);
    else if (a !== b && FEATURES.has(a) && FEATURES.has(b) && !SHARED.has(b)) problems.push(`feature uses feature: ${from} uses ${to}: move what both need into a use case`);
  }
}
// Circles between modules (Tarjan's strongly connected components).
let counter = 0;
const index = new Map(), low = new Map(), stack = [], on = new Set();
const visit = (v) => {
  index.set(v, counter); low.set(v, counter++); stack.push(v); on.add(v);
  for (const w of edges.get(v)) {
    if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); } else if (on.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) === index.get(v)) {
    const comp = [];
    let w;
    do { w = stack.pop(); on.delete(w); comp.push(w); } while (w !== v);
    if (comp.length > 1) problems.push(`circle: ${comp.sort().join(' <-> ')}`);
  }
};
for (const v of edges.keys()) if (!index.has(v)) visit(v);

if (process.argv.includes('-v')) console.log(`${mods.size} modules in ${new Set([...mods.keys()].map(room)).size} rooms, ${[...edges.values()].reduce((n, s) => n + s.size, 0)} imports`);
for (const p of problems) console.error(p);
process.exit(problems.length ? 1 : 0);
