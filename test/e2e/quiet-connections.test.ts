/**
 * Many accounts with updates on hold their connections quietly (the real process, sandbox DC over TCP): after
 * logging in and catching up, 25 idle accounts make no reconnects at all over a window longer than the ~7 s
 * after which mtcute 0.30's idle connections were closed (src/telegram/idle-ping.ts); and each account still
 * receives what is sent to it afterwards. `npm run bench` measures 1, 100 and 1,000 accounts.
 */
import { describe, expect, it } from 'vitest';
import { loginThrough, sleep } from '../helpers/sandbox-service.js';
import { sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';

const sandbox = sandboxPerFile();
const ACCOUNTS = 25;
const IDLE_MS = 12_000;

async function reconnects(svc: ServiceProcess): Promise<number> {
  const metrics = await svc.request('GET', '/metrics');
  return Number(/^telegram_service_reconnects_total (\d+)/m.exec(String(metrics.body))?.[1] ?? NaN);
}

describe('idle accounts with updates on', () => {
  it(`${ACCOUNTS} logged-in accounts make no reconnects over ${IDLE_MS / 1000} s of idling, and still get their messages`, async () => {
    const svc = await sandbox.service();
    try {
      const phones: string[] = [];
      for (let i = 0; i < ACCOUNTS; i++) {
        const phone = `+99966290${String(i).padStart(2, '0')}`; // test numbers: created at first sign-in, code 22222
        phones.push(phone);
        expect((await svc.request('POST', '/api/accounts', { id: `quiet-${i}` })).status).toBe(201);
        await loginThrough(svc, sandbox.dc, phone, undefined, `quiet-${i}`);
      }
      await sleep(2_000); // the updates loops start and catch up
      const before = await reconnects(svc);
      expect(before).toBeGreaterThanOrEqual(ACCOUNTS); // one connection each at least: the counter counts
      await sleep(IDLE_MS);
      expect((await reconnects(svc)) - before).toBe(0);

      sandbox.dc.controls.createUser({ phone: '+9996629999', firstName: 'Writer' });
      for (const phone of phones) sandbox.dc.controls.deliverMessage('+9996629999', phone, 'after idling');
      for (let i = 0; i < ACCOUNTS; i++) {
        const deadline = Date.now() + 15_000;
        for (;;) {
          const page = await svc.request('GET', `/api/accounts/quiet-${i}/events`, undefined, { headers: { accept: 'application/json' } });
          if (page.body.events.some((e: { message?: { text: string } }) => e.message?.text === 'after idling')) break;
          if (Date.now() > deadline) throw new Error(`quiet-${i} did not get the message`);
          await sleep(100);
        }
      }
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  }, 90_000);
});
