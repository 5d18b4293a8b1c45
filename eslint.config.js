import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Import boundaries (ARCHITECTURE.md, "Rules that keep the shape"), enforced with eslint's own
 * no-restricted-imports: one `files` block per folder, each listing everything that folder may not import.
 * Patterns match the import as written (relative paths included), so each rule is a regular expression on
 * the path's folders. A later block replaces an earlier block's options for the same file, so every block
 * below carries the complete list for its files (`rules(...)` joins them).
 */
const forbid = (regex, message) => ({ regex, message });

/** Importing a workspace package's files instead of its name (`@telegram-service/…`). */
const packageFiles = forbid('(^|/)packages/', 'import the workspace packages by their package name (@telegram-service/…), never their files');
const testHelpers = forbid('(^|/)test/', 'bench/ must not import from test/: the bench measures what ships (shared tooling lives in dev/)');
const mtcute = forbid('^@mtcute/', 'http/ never touches mtcute: go through accounts/ and account/');
const fileSystem = forbid('^(node:)?fs(/promises)?$', 'http/ never touches the file system: files belong to store/');
const store = forbid('(^|/)store/', 'http/ never touches storage: go through accounts/ and account/');
const storeFiles = forbid('(^|/)store/files/', 'account/ and accounts/ reach storage only through src/store/types.ts (the backend is wired in main.ts)');
const aboveStore = forbid('(^|/)(account|accounts|http|events)/', 'store/ knows nothing of accounts, login flows, events or HTTP');
const aboveEvents = forbid('(^|/)(http|accounts|account|telegram)/|(^|/)store/files/', 'events/ sits below telegram/: it knows the store only through src/store/types.ts');
const mtcuteInEvents = forbid('^@mtcute/', 'events/ never touches mtcute: telegram/ turns updates into events');
const aboveBase = forbid(
  '(^|/)(http|accounts|account|telegram|events|store)/|(^|/)main(\\.js)?$',
  'config/, logging/ and timing/ are the bottom layer: they import nothing of the layers above',
);
const dcApiHalf = forbid('(^|/)(rpc|state|controls)/', "the DC's protocol core knows nothing about accounts: reach them through the interfaces in src/types.ts");
const dcServer = forbid('(^|/)server/', 'mtproto/ never imports server/: it sees a connection only as PeerConnection (src/types.ts)');
const otherPackages = forbid('^@telegram-service/', 'durable-files depends on nothing of ours');
const serviceOrDc = forbid('^@telegram-service/(?!durable-files$)', 'the sandbox DC depends only on @telegram-service/durable-files (it knows nothing of the service)');

function boundaries(files, ...patterns) {
  return { files, rules: { 'no-restricted-imports': ['error', { patterns }] } };
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // zod's `z` object defeats the bundle's tree-shaking: all of zod (0.55 MB more) in the start-up chunks.
      'no-restricted-syntax': [
        'error',
        { selector: "ImportDeclaration[source.value='zod'] > ImportSpecifier[imported.name='z']", message: "import * as z from 'zod' (its `z` object keeps all of zod in the start-up bundle)" },
      ],
    },
  },

  // The service (src/), its tests and its bench reach the workspace packages by name only; the bench
  // measures what ships and never leans on test helpers.
  boundaries(['src/**/*.ts', 'test/**/*.ts'], packageFiles),
  boundaries(['bench/**/*.ts', 'bench/**/*.mjs'], packageFiles, testHelpers),
  boundaries(['src/http/**/*.ts'], packageFiles, mtcute, fileSystem, store),
  boundaries(['src/account/**/*.ts', 'src/accounts/**/*.ts'], packageFiles, storeFiles),
  boundaries(['src/store/**/*.ts'], packageFiles, aboveStore),
  boundaries(['src/config/**/*.ts', 'src/logging/**/*.ts', 'src/timing/**/*.ts'], packageFiles, aboveBase),
  boundaries(['src/events/**/*.ts'], packageFiles, aboveEvents, mtcuteInEvents),

  // The workspace packages.
  boundaries(['packages/durable-files/**/*.ts'], otherPackages),
  boundaries(['packages/sandbox-dc/**/*.ts'], serviceOrDc),
  boundaries(
    ['packages/sandbox-dc/src/{server,transport,handshake}/**/*.ts'],
    serviceOrDc,
    dcApiHalf,
  ),
  boundaries(['packages/sandbox-dc/src/mtproto/**/*.ts'], serviceOrDc, dcApiHalf, dcServer),
  // The bundle's stand-ins for CommonJS modules (scripts/deferred/): CommonJS themselves, requiring the real one on first use.
  {
    files: ['scripts/deferred/*.cjs'],
    languageOptions: { globals: globals.node, sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // The web console: plain browser modules, served as they are.
  { files: ['console/**/*.js'], languageOptions: { globals: globals.browser, sourceType: 'module' } },
);
