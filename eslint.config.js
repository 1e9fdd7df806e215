// ESLint, configured once for the whole repository: typescript-eslint's recommended rules plus the
// import boundaries DESIGN.md draws (dependencies point one way: adapters → app → domain). The
// boundaries use ESLint's own `no-restricted-imports`, so each layer's rule is readable right here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Packages that talk to the outside world or frame the process: never imported by domain/ or app/. */
const FRAMEWORKS = '^(fastify|@fastify/|kysely|better-sqlite3|pg($|/)|telegraf|wechaty|file-box|node-cron|pino|prom-client|stripe|alipay-sdk|axios)';
/** Chat platform SDKs: only bots/ and the composition root import them. */
const PLATFORMS = '^(telegraf|wechaty|file-box)';

const restrict = (message, regex) => ({ regex, message });

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'dist.*/**', 'data/**', 'test-results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        AbortController: 'readonly',
        fetch: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-fallthrough': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // Migrations are frozen and typed against no schema, as kysely's own examples write them.
    files: ['migrations/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [restrict('domain/ imports only domain/ (and node: built-ins): it is pure logic.', '^(?!\\./|node:)')] }],
    },
  },
  {
    files: ['src/app/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            restrict('app/ imports no framework, database library or platform SDK: it talks to the outside only through ports.', FRAMEWORKS),
            restrict(
              'app/ depends on domain/ only; adapters (store/, http/, payments/, jobs/, bots/, conversation/) depend on app/, not the other way.',
              '^(\\.\\./)+(store|http|payments|jobs|conversation)/|^(\\.\\./)+(service|main|cli|config)\\.ts$',
            ),
            // The chat adapters' own tables and ports (bots/*/store-port.ts) are theirs alone: app/ never sees them.
            restrict('app/ never imports bots/: the chat adapters and their store ports depend on app/, not the other way.', '(^|/)bots(/|$)'),
          ],
        },
      ],
    },
  },
  {
    files: ['src/conversation/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            restrict('conversation/ is platform-neutral: no chat platform SDK.', PLATFORMS),
            restrict('conversation/ is platform-neutral: it never imports an adapter.', '(^|/)(bots|http|store|payments|jobs)/'),
          ],
        },
      ],
    },
  },
);
