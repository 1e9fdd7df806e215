// Links this package's own `gatekeeper` bin into node_modules/.bin after install, so `npx gatekeeper`
// inside a checkout runs this project's CLI (npm links only dependencies' bins).
import { chmodSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const binDir = join(root, 'node_modules', '.bin');
const target = join(root, 'bin', 'gatekeeper.js');
mkdirSync(binDir, { recursive: true });
const link = join(binDir, 'gatekeeper');
rmSync(link, { force: true });
symlinkSync(relative(binDir, target), link);
chmodSync(target, 0o755);
