/**
 * A fresh login's events start at the login (src/telegram/login-horizon.ts), through the real process and a
 * sandbox DC over TCP: a message that arrives while the login's last answers are on their way is an event,
 * once; one from before the login is history only.
 */
import { describe, expect, it } from 'vitest';
import { type Event } from '../../dev/event-clients.js';
import { eventually, sandboxPerFile, sleep, uniquePhone, waitForStatus, type Body } from '../helpers/sandbox-service.js';

const sandbox = sandboxPerFile();

/** The DC holds every answer this long: the login's last answers, and the updates state asked for after it. */
const ANSWER_DELAY_MS = 600;

describe('events of a fresh login (real process, sandbox DC over TCP)', () => {
  it('a message that arrives during the login is an event, once; one from before the login is not', async () => {
    const svc = await sandbox.service();
    const dc = sandbox.dc;
    const tag = Math.random().toString(36).slice(2, 8);
    const [bob, carol] = [`bob_${tag}`, `carol_${tag}`];
    const bobPhone = uniquePhone();
    dc.controls.createUser({ phone: bobPhone, firstName: 'Bob', username: bob });
    dc.controls.createUser({ phone: uniquePhone(), firstName: 'Carol', username: carol });
    const polled = async (): Promise<Event[]> =>
      (await svc.request('GET', '/api/telegram/events?after=0&limit=100', undefined, { headers: { accept: 'application/json' } })).body.events;
    try {
      dc.controls.deliverMessage(carol, bob, 'before the login');
      // Dated whole seconds before the login: the horizon is the login's second less its round trip and a second.
      await sleep(3_500);
      const sent = await svc.request('POST', '/api/telegram/auth/send-code', { phone: bobPhone });
      expect(sent.status).toBe(200);

      dc.controls.setAnswerDelay(ANSWER_DELAY_MS);
      const verifying = svc.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(bobPhone) });
      // The DC has signed the key in and holds the answer: this message is the account's before the service knows it.
      await sleep(ANSWER_DELAY_MS / 2);
      dc.controls.deliverMessage(carol, bob, 'during the login');
      expect((await verifying).body.state).toBe('authenticated');
      // mtcute would now ask for the updates state (held as well): a message while that is on its way.
      await sleep(ANSWER_DELAY_MS / 2);
      dc.controls.deliverMessage(carol, bob, 'while the state is asked for');
      dc.controls.setAnswerDelay(0);
      dc.controls.deliverMessage(carol, bob, 'after the login');

      const texts = (events: Event[]) => events.filter((e) => e.type === 'message.new').map((e) => e.message.text);
      await eventually(async () => texts(await polled()).includes('after the login'), 'the message after the login as an event');
      await sleep(500); // anything late would be here by now
      expect(texts(await polled())).toEqual(['during the login', 'while the state is asked for', 'after the login']);
      // All four are the account's history.
      const history = await svc.request('GET', `/api/telegram/messages?peer=@${carol}&limit=10`);
      expect(history.body.messages.map((m: Body) => m.text)).toEqual(['after the login', 'while the state is asked for', 'during the login', 'before the login']);

      // A restart catches up from the journaled state: nothing comes twice, nothing from before the login.
      expect(await svc.stop()).toBe(0);
      dc.controls.deliverMessage(carol, bob, 'while stopped');
      const again = await sandbox.service({ dataDir: svc.dataDir });
      try {
        await eventually(async () => {
          const page = await again.request('GET', '/api/telegram/events?after=0&limit=100', undefined, { headers: { accept: 'application/json' } });
          return texts(page.body.events).includes('while stopped');
        }, 'the message sent while stopped');
        const page = await again.request('GET', '/api/telegram/events?after=0&limit=100', undefined, { headers: { accept: 'application/json' } });
        expect(texts(page.body.events)).toEqual(['during the login', 'while the state is asked for', 'after the login', 'while stopped']);
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
    const tag = Math.random().toString(36).slice(2, 8);
    const [dave, erin] = [`dave_${tag}`, `erin_${tag}`];
    const davePhone = uniquePhone();
    dc.controls.createUser({ phone: davePhone, firstName: 'Dave', username: dave, password: 'hunter2-but-longer' });
    dc.controls.createUser({ phone: uniquePhone(), firstName: 'Erin', username: erin });
    try {
      dc.controls.deliverMessage(erin, dave, 'before the login');
      await sleep(3_500);
      expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone: davePhone })).status).toBe(200);
      expect((await svc.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(davePhone) })).body.state).toBe('password_required');
      dc.controls.setAnswerDelay(ANSWER_DELAY_MS);
      const verifying = svc.request('POST', '/api/telegram/auth/verify-password', { password: 'hunter2-but-longer' });
      // account.getPassword answered (held), then auth.checkPassword taken at once and its answer held: between the two.
      await sleep(ANSWER_DELAY_MS * 1.6);
      dc.controls.deliverMessage(erin, dave, 'during the login');
      expect((await verifying).body.state).toBe('authenticated');
      dc.controls.setAnswerDelay(0);
      dc.controls.deliverMessage(erin, dave, 'after the login');
      const texts = async () =>
        ((await svc.request('GET', '/api/telegram/events?after=0&limit=100', undefined, { headers: { accept: 'application/json' } })).body.events as Event[])
          .filter((e) => e.type === 'message.new')
          .map((e) => e.message.text);
      await eventually(async () => (await texts()).includes('after the login'), 'the message after the login as an event');
      await sleep(500);
      expect(await texts()).toEqual(['during the login', 'after the login']);
    } finally {
      dc.controls.setAnswerDelay(0);
      await svc.stop();
    }
  }, 90_000);

  it('after a QR login (its own client makes the session), the account’s events start at the login', async () => {
    const svc = await sandbox.service();
    const dc = sandbox.dc;
    const tag = Math.random().toString(36).slice(2, 8);
    const [frank, gina] = [`frank_${tag}`, `gina_${tag}`];
    const frankPhone = uniquePhone();
    dc.controls.createUser({ phone: frankPhone, firstName: 'Frank', username: frank });
    dc.controls.createUser({ phone: uniquePhone(), firstName: 'Gina', username: gina });
    try {
      dc.controls.deliverMessage(gina, frank, 'before the login');
      await sleep(3_500);
      const qr = await svc.request('POST', '/api/telegram/auth/qr');
      expect(qr.body.state).toBe('qr_pending');
      dc.controls.acceptLoginToken(frankPhone, qr.body.url);
      // Logged in at the DC; the service learns it from its QR client, then starts the account's own client.
      dc.controls.deliverMessage(gina, frank, 'right after the scan');
      await waitForStatus(svc, (b) => b.state === 'authenticated', 'authenticated by QR');
      dc.controls.deliverMessage(gina, frank, 'after the login');
      const texts = async () =>
        ((await svc.request('GET', '/api/telegram/events?after=0&limit=100', undefined, { headers: { accept: 'application/json' } })).body.events as Event[])
          .filter((e) => e.type === 'message.new')
          .map((e) => e.message.text);
      await eventually(async () => (await texts()).includes('after the login'), 'the message after the login as an event');
      await sleep(500);
      expect(await texts()).toEqual(['right after the scan', 'after the login']);
    } finally {
      await svc.stop();
    }
  }, 90_000);
});

