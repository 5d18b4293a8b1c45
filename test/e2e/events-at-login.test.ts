/**
 * A fresh login's events start at the login (src/telegram/login-horizon.ts), through the real process and a
 * sandbox DC over TCP: a message that arrives while the login's last answers are on their way is an event,
 * once; one from before the login is history only. By code, with 2FA, and by QR code.
 */
import { describe, expect, it } from 'vitest';
import { type Event } from '../../dev/event-clients.js';
import { eventually, sleep, uniquePhone, waitForStatus, type Body } from '../helpers/sandbox-service.js';
import { sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';

const sandbox = sandboxPerFile();

/** The DC holds every answer this long: the login's last answers, and the updates state asked for after it. */
const ANSWER_DELAY_MS = 600;
/** Dated whole seconds before the login: the horizon is the login's second less its round trip and a second. */
const BEFORE_THE_LOGIN_MS = 3_500;

/** A user to log in and one who writes to them; the first message, from before the login, already sent. */
async function twoUsers(password?: string): Promise<{ phone: string; to: string; from: string; say(text: string): void }> {
  const dc = sandbox.dc;
  const tag = Math.random().toString(36).slice(2, 8);
  const [to, from] = [`to_${tag}`, `from_${tag}`];
  const phone = uniquePhone();
  dc.controls.createUser({ phone, firstName: 'To', username: to, ...(password ? { password } : {}) });
  dc.controls.createUser({ phone: uniquePhone(), firstName: 'From', username: from });
  const say = (text: string) => void dc.controls.deliverMessage(from, to, text);
  say('before the login');
  await sleep(BEFORE_THE_LOGIN_MS);
  return { phone, to, from, say };
}

/** The texts of the `default` account's message events, from the journal. */
async function eventTexts(svc: ServiceProcess): Promise<string[]> {
  const page = await svc.request('GET', '/api/telegram/events?after=0&limit=100', undefined, { headers: { accept: 'application/json' } });
  return (page.body.events as Event[]).filter((e) => e.type === 'message.new').map((e) => e.message.text);
}

/** Waits for `last` as an event, and a little more (anything late would be there by then). */
async function settledEventTexts(svc: ServiceProcess, last: string): Promise<string[]> {
  await eventually(async () => (await eventTexts(svc)).includes(last), `"${last}" as an event`);
  await sleep(500);
  return eventTexts(svc);
}

describe('events of a fresh login (real process, sandbox DC over TCP)', () => {
  it('a message that arrives during the login is an event, once; one from before the login is not', async () => {
    const svc = await sandbox.service();
    const dc = sandbox.dc;
    const { phone, from, say } = await twoUsers();
    try {
      expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone })).status).toBe(200);
      dc.controls.setAnswerDelay(ANSWER_DELAY_MS);
      const verifying = svc.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) });
      // The DC has signed the key in and holds the answer: this message is the account's before the service knows it.
      await sleep(ANSWER_DELAY_MS / 2);
      say('during the login');
      expect((await verifying).body.state).toBe('authenticated');
      // mtcute would now ask for the updates state (held as well): a message while that is on its way.
      await sleep(ANSWER_DELAY_MS / 2);
      say('while the state is asked for');
      dc.controls.setAnswerDelay(0);
      say('after the login');

      expect(await settledEventTexts(svc, 'after the login')).toEqual(['during the login', 'while the state is asked for', 'after the login']);
      // All four are the account's history.
      const history = await svc.request('GET', `/api/telegram/messages?peer=@${from}&limit=10`);
      expect(history.body.messages.map((m: Body) => m.text)).toEqual(['after the login', 'while the state is asked for', 'during the login', 'before the login']);

      // A restart catches up from the journaled state: nothing comes twice, nothing from before the login.
      expect(await svc.stop()).toBe(0);
      say('while stopped');
      const again = await sandbox.service({ dataDir: svc.dataDir });
      try {
        expect(await settledEventTexts(again, 'while stopped')).toEqual(['during the login', 'while the state is asked for', 'after the login', 'while stopped']);
      } finally {
        expect(await again.stop()).toBe(0);
      }
    } finally {
      dc.controls.setAnswerDelay(0);
      await svc.stop();
    }
  }, 90_000);

  it('a 2FA login starts its events at the login as well', async () => {
    const svc = await sandbox.service();
    const dc = sandbox.dc;
    const password = 'hunter2-but-longer';
    const { phone, say } = await twoUsers(password);
    try {
      expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone })).status).toBe(200);
      expect((await svc.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) })).body.state).toBe('password_required');
      dc.controls.setAnswerDelay(ANSWER_DELAY_MS);
      const verifying = svc.request('POST', '/api/telegram/auth/verify-password', { password });
      // account.getPassword answered (held), then auth.checkPassword taken at once and its answer held: between the two.
      await sleep(ANSWER_DELAY_MS * 1.6);
      say('during the login');
      expect((await verifying).body.state).toBe('authenticated');
      dc.controls.setAnswerDelay(0);
      say('after the login');
      expect(await settledEventTexts(svc, 'after the login')).toEqual(['during the login', 'after the login']);
    } finally {
      dc.controls.setAnswerDelay(0);
      await svc.stop();
    }
  }, 90_000);

  it('after a QR login (its own client makes the session), the account’s events start at the login', async () => {
    const svc = await sandbox.service();
    const { phone, say } = await twoUsers();
    try {
      const qr = await svc.request('POST', '/api/telegram/auth/qr');
      expect(qr.body.state).toBe('qr_pending');
      sandbox.dc.controls.acceptLoginToken(phone, qr.body.url);
      // Logged in at the DC; the service learns it from its QR client, then starts the account's own client.
      say('right after the scan');
      await waitForStatus(svc, (b) => b.state === 'authenticated', 'authenticated by QR');
      say('after the login');
      expect(await settledEventTexts(svc, 'after the login')).toEqual(['right after the scan', 'after the login']);
    } finally {
      await svc.stop();
    }
  }, 90_000);
});
