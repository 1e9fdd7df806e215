// The layer rules in eslint.config.js must actually fail on a violation: each case lints a planted
// import as if it stood in that folder, and a clean import in the same place passes.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('import boundaries (eslint.config.js)', () => {
  it.each([
    ['src/domain/planted.ts', "import { sql } from 'kysely';\nexport const x = sql;\n"],
    ['src/domain/planted.ts', "import { LANES } from '../app/ports.ts';\nexport const x = LANES;\n"],
    ['src/app/planted.ts', "import Fastify from 'fastify';\nexport const x = Fastify;\n"],
    ['src/app/planted.ts', "import { Telegraf } from 'telegraf';\nexport const x = Telegraf;\n"],
    ['src/app/planted.ts', "import { createStore } from '../store/kysely-store.ts';\nexport const x = createStore;\n"],
    ['src/app/planted.ts', "import { buildApp } from '../http/app.ts';\nexport const x = buildApp;\n"],
    ['src/app/planted.ts', "import * as bots from '../../bots/telegram/context.ts';\nexport const x = bots;\n"],
    ['src/app/planted.ts', "import * as p from '../payments/registry.ts';\nexport const x = p;\n"],
    ['src/app/planted.ts', "import type { TelegramRepo } from '../../bots/telegram/store-port.ts';\nexport type R = TelegramRepo;\n"],
    ['src/app/ports/planted.ts', "import type { WechatRepo } from '../../../bots/wechat/store-port.ts';\nexport type R = WechatRepo;\n"],
    ['src/app/ports/planted.ts', "import { createStore } from '../../store/kysely-store.ts';\nexport const x = createStore;\n"],
    ['src/conversation/planted.ts', "import { WechatyBuilder } from 'wechaty';\nexport const x = WechatyBuilder;\n"],
    ['src/conversation/planted.ts', "import * as t from '../../bots/telegram/context.ts';\nexport const x = t;\n"],
  ])('%s: %s is refused', async (filePath, code) => {
    expect(await boundaryErrors(filePath, code)).toHaveLength(1);
  });

  it.each([
    ['src/domain/planted.ts', "import { randomBytes } from 'node:crypto';\nimport { invalid } from './errors.ts';\nexport const x = [randomBytes, invalid];\n"],
    [
      'src/app/planted.ts',
      "import { invalid } from '../domain/errors.ts';\nimport type { Store } from './ports.ts';\nexport const x = invalid;\nexport type S = Store;\n",
    ],
    ['src/conversation/planted.ts', "import type { Store } from '../app/ports.ts';\nexport type S = Store;\n"],
    ['src/http/planted.ts', "import Fastify from 'fastify';\nimport { invalid } from '../domain/errors.ts';\nexport const x = [Fastify, invalid];\n"],
  ])('%s: allowed imports pass', async (filePath, code) => {
    expect(await boundaryErrors(filePath, code)).toEqual([]);
  });
});
