// `npm run build`: compiles src/, bots/ and migrations/ into dist/ with tsc (tsconfig.build.json), always
// (scripts/dist.mjs says how the old build is replaced). Exits non-zero with tsc's messages on a type error.
import { build } from './dist.mjs';

const r = build();
if (!r.ok) {
  process.stderr.write(`gatekeeper: build failed: ${r.reason}\n`);
  process.exit(1);
}
