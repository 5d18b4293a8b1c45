/**
 * Terminal login: `npm run login -- [--account ID] [--qr | --code] [--url URL]`.
 *
 * It talks to the running service's API — the service owns the data directory (one process per data
 * directory: a second one on the same auth keys is how accounts get AUTH_KEY_DUPLICATED), so this tool
 * never opens the account files itself. It reads the same settings as the service (environment and
 * `.env`: HOST, PORT, DATA_DIR, API_TOKEN — or the token in DATA_DIR/api_token) to find the service and
 * its token. When nothing answers, the data-dir lock tells which case it is: a service holds the
 * directory but listens elsewhere (say which process; use --url), or no service runs (start it).
 *
 * It asks for the phone number, the login code and the 2FA password (hidden), or shows the QR code in the
 * terminal and waits for the scan; a login already under way is taken up where it stands.
 */
import { parseArgs } from 'node:util';
import { dataDirLockHolder } from '@telegram-service/durable-files';
import { read } from 'read';
import { renderUnicodeCompact } from 'uqr';
import { ConfigError, CONFIG_ERROR_EXIT_CODE, existingApiToken, loadConfig, mergeEnv, readDotEnv } from '../config/index.js';
import { ServiceApi, ServiceApiError, type Body } from './service-api.js';

const USAGE = `Usage: npm run login -- [--account ID] [--qr | --code] [--url URL]

Logs a Telegram account of the running telegram-service in, from this terminal.
  --account ID   the account (default: the account \`default\`, /api/telegram); created when missing
  --qr           log in by QR code (scan it with Telegram on your phone)
  --code         log in by phone number and login code
  --url URL      where the service listens (default: http://HOST:PORT from the environment or .env)
The API token is API_TOKEN, or the one in DATA_DIR/api_token.`;

const POLL_MS = 1000;
const EXIT_INTERRUPTED = 130;

class Stop extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const say = (text: string): void => void process.stdout.write(`${text}\n`);

async function ask(prompt: string, silent = false): Promise<string> {
  try {
    return (await read({ prompt, silent, replace: silent ? '' : undefined })).trim();
  } catch {
    throw new Stop('\nStopped. The login stays where it is: run this again to go on, or log out to cancel it.', EXIT_INTERRUPTED);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      account: { type: 'string' },
      url: { type: 'string' },
      qr: { type: 'boolean' },
      code: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    say(USAGE);
    return 0;
  }
  if (values.qr && values.code) throw new Stop('Choose one of --qr and --code');
  const cwd = process.cwd();
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(mergeEnv(readDotEnv(cwd), process.env), cwd);
  } catch (err) {
    if (err instanceof ConfigError) throw new Stop(err.message, CONFIG_ERROR_EXIT_CODE);
    throw err;
  }
  const url = values.url ?? `http://${reachableHost(config.host)}:${config.port}`;
  const token = config.apiToken ?? existingApiToken(config.dataDir);
  if (!token) {
    throw new Stop(`No API token: set API_TOKEN, or start the service once so that it writes ${config.dataDir}/api_token`);
  }
  const api = new ServiceApi(url, token);
  if (!(await api.reachable())) throw new Stop(await whyUnreachable(url, config.dataDir));

  const base = await accountBase(api, values.account);
  let status = await api.get(`${base}/status`);
  if (status.state === 'authenticated') {
    say(`Already logged in as ${describeUser(status.user)}. Log out first to log in again.`);
    return 0;
  }
  if (status.state === 'code_sent' || status.state === 'password_required' || status.state === 'qr_pending') {
    say(`A login is under way (${status.state}); going on from there.`);
  } else {
    const method = values.qr ? 'qr' : values.code ? 'code' : await chooseMethod();
    status = method === 'qr' ? await api.post(`${base}/auth/qr`) : await sendCode(api, base);
  }
  const user = await finish(api, base, status);
  say(`Logged in as ${describeUser(user)}.`);
  return 0;
}

/** 0.0.0.0 and :: are where the service listens, not an address to call. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

async function whyUnreachable(url: string, dataDir: string): Promise<string> {
  const holder = await dataDirLockHolder(dataDir);
  if (holder) {
    return (
      `telegram-service (pid ${holder.pid} on ${holder.hostname}, since ${holder.acquiredAt}) holds ${dataDir} but does not answer at ${url}. ` +
      'Pass --url with the address it listens on (its log says "HTTP API listening"), or set HOST and PORT as it has them.'
    );
  }
  return (
    `No telegram-service answers at ${url}, and none holds ${dataDir}. Start it (npm start) and run this again: ` +
    'the login goes through the running service, which owns the data directory.'
  );
}

/** The account's routes; an account that does not exist yet is created (with the admin token). */
async function accountBase(api: ServiceApi, account: string | undefined): Promise<string> {
  if (account === undefined) return '/api/telegram';
  const base = `/api/accounts/${encodeURIComponent(account)}`;
  try {
    await api.get(`${base}/status`);
  } catch (err) {
    if (!(err instanceof ServiceApiError) || err.code !== 'ACCOUNT_NOT_FOUND') throw err;
    await api.post('/api/accounts', { id: account });
    say(`Created the account ${account}.`);
  }
  return base;
}

async function chooseMethod(): Promise<'code' | 'qr'> {
  for (;;) {
    const answer = (await ask('Log in with a login [c]ode or a [q]r code? [c] ')).toLowerCase();
    if (answer === '' || answer === 'c' || answer === 'code') return 'code';
    if (answer === 'q' || answer === 'qr') return 'qr';
    say('Type c or q.');
  }
}

async function sendCode(api: ServiceApi, base: string): Promise<Body> {
  for (;;) {
    const phone = await ask('Phone number (international, e.g. +15551231111): ');
    try {
      const answer = await api.post(`${base}/auth/send-code`, { phone });
      if (answer.state === 'code_sent') say(`A code was sent to ${answer.phone} (${answer.codeType}).`);
      else if (answer.loginMethod === 'future_auth_token') say('Telegram logged you in without a code (a token kept from an earlier login).');
      return answer;
    } catch (err) {
      if (!(err instanceof ServiceApiError) || !err.code.startsWith('PHONE_NUMBER_')) throw err;
      say(err.message);
    }
  }
}

/** Takes the login from `status` to the end, step by step; returns the user. */
async function finish(api: ServiceApi, base: string, status: Body): Promise<Body> {
  for (;;) {
    switch (status.state) {
      case 'authenticated':
        // A login step's answer names the user in full; a status body masks the phone: ask /me.
        return status.loginMethod && status.user ? status.user : await api.get(`${base}/me`);
      case 'code_sent':
        status = await step(api, base, 'verify-code', { code: await ask('Login code: ') });
        break;
      case 'password_required': {
        const hint = status.hint ? ` (hint: ${status.hint})` : '';
        status = await step(api, base, 'verify-password', { password: await ask(`2FA password${hint}: `, true) });
        break;
      }
      case 'qr_pending':
        status = await waitForScan(api, base);
        break;
      default:
        throw new Stop(`The login ended: ${status.state}${status.reason ? ` (${status.reason})` : ''}.`);
    }
  }
}

/** One answer to a prompt; a refused one is said, and the login goes on from where it stands. */
async function step(api: ServiceApi, base: string, route: 'verify-code' | 'verify-password', body: object): Promise<Body> {
  try {
    return await api.post(`${base}/auth/${route}`, body);
  } catch (err) {
    if (!(err instanceof ServiceApiError) || err.status >= 500 || err.status === 401) throw err;
    say(err.message);
    return api.get(`${base}/status`);
  }
}

/** Shows the QR code (again whenever it rotates) until it is scanned. Ctrl-C cancels the QR login. */
async function waitForScan(api: ServiceApi, base: string): Promise<Body> {
  let shown: string | undefined;
  let interrupted = false;
  const onInterrupt = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', onInterrupt);
  try {
    for (;;) {
      if (interrupted) {
        await api.post(`${base}/auth/logout`).catch(() => undefined);
        throw new Stop('\nQR login cancelled.', EXIT_INTERRUPTED);
      }
      const status = await api.get(`${base}/status`);
      if (status.state !== 'qr_pending') return status;
      if (status.qr && status.qr.url !== shown) {
        say(shown ? '\nThe code was renewed; scan this one:' : 'Scan this code with Telegram on your phone (Settings → Devices → Link Desktop Device):');
        say(renderUnicodeCompact(status.qr.url, { border: 2 }));
        say(`(valid until ${new Date(status.qr.expiresAt).toLocaleTimeString()}; a new one follows by itself — Ctrl-C cancels)`);
        shown = status.qr.url;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

function describeUser(user: Body): string {
  if (!user) return 'the account';
  const name = [user.firstName, user.lastName].filter(Boolean).join(' ');
  return `${name || 'user'} (${user.phone ?? `id ${user.id}`})`;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof Stop) {
      process.stderr.write(`${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`login: ${err instanceof ServiceApiError ? `${err.message} (${err.code})` : (err as Error).message}\n`);
    process.exit(1);
  },
);
