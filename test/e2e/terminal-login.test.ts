/**
 * `npm run login` (dist/cli/login.js) in a real pseudo-terminal against the real service process and
 * the sandbox DC: phone → a wrong code → the code → the 2FA password (typed hidden: never echoed); the
 * QR code shown in the terminal, scanned through the DC's control; and what it says when no service
 * answers — with the data directory free, and held by a service listening elsewhere.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { uniquePhone } from '../helpers/sandbox-service.js';
import { REPO_ROOT, freePort, sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';
import { runInPty, type PtySession } from '../helpers/pty.js';

const LOGIN_SCRIPT = path.join(REPO_ROOT, 'dist', 'cli', 'login.js');
const sandbox = sandboxPerFile();
const sessions: PtySession[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) s.kill();
});

function login(svc: Pick<ServiceProcess, 'dataDir'>, args: string[], env: Record<string, string> = {}): PtySession {
  const session = runInPty([process.execPath, LOGIN_SCRIPT, ...args], {
    // Only what the tool reads: the data directory (for its token and lock) — nothing of the developer's shell.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: svc.dataDir, ...env },
    cwd: svc.dataDir,
  });
  sessions.push(session);
  return session;
}

describe('terminal login (pseudo-terminal, real process, sandbox DC)', () => {
  it('asks for the phone, the code (a wrong one said in words) and the 2FA password, typed hidden', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1591');
    dc.controls.createUser({ phone, firstName: 'Termi', password: 'pty-secret-pass', hint: 'pty hint' });
    const svc = await sandbox.service();
    try {
      const term = login(svc, ['--account', 'term', '--url', svc.baseUrl]);
      await term.waitFor('Created the account term.');
      await term.waitFor('Log in with a login [c]ode or a [q]r code?');
      term.typeLine('c');
      await term.waitFor('Phone number');
      term.typeLine(phone);
      await term.waitFor('Login code: ');
      const right = dc.controls.lastCode(phone)!;
      term.typeLine(right === '00000' ? '11111' : '00000');
      await term.waitFor('The login code is wrong');
      // The next prompt may have come in the same chunk as the message: look from the message on.
      const mark = term.output().indexOf('The login code is wrong');
      await term.waitFor('Login code: ', { from: mark });
      term.typeLine(right);
      await term.waitFor('2FA password (hint: pty hint): ');
      term.typeLine('pty-secret-pass');
      await term.waitFor(`Logged in as Termi (${phone}).`);
      expect(await term.exited).toBe(0);
      expect(term.output()).not.toContain('pty-secret-pass'); // hidden input: not echoed
      expect(term.output()).toContain(phone); // visible input: echoed by the terminal
      expect((await svc.request('GET', '/api/accounts/term/status')).body).toMatchObject({ state: 'authenticated', session: { loginMethod: 'code' } });

      const again = login(svc, ['--account', 'term', '--url', svc.baseUrl]);
      await again.waitFor('Already logged in as Termi');
      expect(await again.exited).toBe(0);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('shows the QR code in the terminal (--qr, HOST/PORT from the environment) and finishes when it is scanned', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1592');
    dc.controls.createUser({ phone, firstName: 'Quill' });
    const svc = await sandbox.service();
    try {
      const term = login(svc, ['--qr'], { HOST: '127.0.0.1', PORT: String(svc.port) });
      await term.waitFor('Scan this code with Telegram on your phone');
      await term.waitFor(/▀|▄|█/);
      await term.waitFor('Ctrl-C cancels');
      const { url } = (await svc.request('GET', '/api/telegram/auth/qr')).body;
      dc.controls.acceptLoginToken(phone, url);
      await term.waitFor(`Logged in as Quill (${phone}).`);
      expect(await term.exited).toBe(0);
      expect((await svc.request('GET', '/api/telegram/status')).body.session.loginMethod).toBe('qr');
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('says clearly when no service answers: none runs (start it), or one holds the data directory but listens elsewhere', async () => {
    const svc = await sandbox.service();
    const elsewhere = `http://127.0.0.1:${await freePort()}`;
    try {
      const held = login(svc, ['--url', elsewhere]);
      await held.waitFor(new RegExp(`telegram-service \\(pid ${svc.proc.pid} on .*\\) holds ${svc.dataDir} but does not answer at ${elsewhere}`));
      expect(await held.exited).toBe(1);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
    const none = login(svc, ['--url', elsewhere]);
    await none.waitFor(`No telegram-service answers at ${elsewhere}, and none holds ${svc.dataDir}. Start it (npm start)`);
    expect(await none.exited).toBe(1);
  });
});
