#!/usr/bin/env node
// `gatekeeper` command: runs the compiled CLI (dist/src/cli.js), compiling dist/ first when it is missing
// or older than the sources (scripts/dist.mjs). When it cannot be compiled (TypeScript not installed, or a
// type error in a source being edited) the command still works: it runs the sources through tsx when tsx
// is installed (a development checkout), else the existing build with a warning.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, ensureBuilt } from '../scripts/dist.mjs';

const compiled = join(ROOT, 'dist', 'src', 'cli.js');
const r = ensureBuilt();
if (r.ok) {
  await import(pathToFileURL(compiled).href);
} else {
  const tsx = await import('tsx/esm/api').catch(() => null);
  if (tsx) {
    process.stderr.write(`gatekeeper: ${r.reason}; running the sources through tsx instead\n`);
    tsx.register();
    await import('../src/cli.ts');
  } else if (existsSync(compiled)) {
    process.stderr.write(`gatekeeper: ${r.reason}; running the existing build in dist/, which is older than the sources\n`);
    await import(pathToFileURL(compiled).href);
  } else {
    process.stderr.write(`gatekeeper: cannot run: ${r.reason}\n`);
    process.exit(1);
  }
}
