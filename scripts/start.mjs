// `npm start`: runs the compiled service (dist/src/main.js), compiling it first when dist/ is missing or
// older than the sources (scripts/dist.mjs), so `npm ci && npm start` needs nothing else. A type error
// stops it (the build is type-checked; `npm run dev` runs the sources through tsx without checking).
//
// The service runs in this same process (an import, not a child), so the signals npm passes on (SIGTERM,
// SIGINT) reach main.ts's own handlers, which stop the service gracefully and set the exit code. For the
// same reason package.json says `exec node scripts/start.mjs`: without exec, npm's `sh -c` (dash) stays
// between npm and node, and the SIGTERM npm passes on kills that shell and orphans the service, still
// listening (test/compiled-runtime.test.ts sends SIGTERM to npm alone).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, ensureBuilt } from './dist.mjs';

const main = join(ROOT, 'dist', 'src', 'main.js');
const r = ensureBuilt();
if (!r.ok) {
  // Installed without TypeScript (npm ci --omit=dev) next to an older build: that build is all there is.
  if (!(r.noCompiler && existsSync(main))) {
    process.stderr.write(`gatekeeper: cannot start: ${r.reason}\n`);
    process.exit(1);
  }
  process.stderr.write(`gatekeeper: ${r.reason}; starting the existing build in dist/, which is older than the sources\n`);
}
await import(pathToFileURL(main).href);
