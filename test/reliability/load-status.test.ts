/**
 * Issue 4 item 9: 200 concurrent clients on GET /api/telegram/status for 30 s (120 s in soak) while logins
 * with 2FA run through the same service (send-code → verify-code → verify-password, then logout, again and
 * again): 0 errors, 0 non-2xx, every status body well-formed, every login step answered. Latency (p50, p99)
 * is measured and printed, never asserted.
 */
import autocannon from 'autocannon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { type HttpResult, startService } from '../helpers/service-process.js';
import { percentile, uniquePhone } from './network-harness.js';
import { recordTotals, size, SOAK } from './totals.js';

const CONNECTIONS = 200;
const DURATION_S = size(30, 120);
const PASSWORD = 'load test 2fa password';
const STATES = new Set(['logged_out', 'code_sent', 'password_required', 'authenticated', 'expired', 'revoked']);

let dc: TestSandbox;
beforeAll(async () => {
  dc = await startTestSandbox();
});
afterAll(async () => {
  await dc?.dispose();
});

describe(`load: ${CONNECTIONS} clients on status for ${DURATION_S} s while logins run`, () => {
  it(
    '0 errors, 0 non-2xx, well-formed status bodies; logins complete; p99 reported',
    async () => {
      const phone = uniquePhone('1556');
      const user = dc.controls.createUser({ phone, firstName: 'Load', password: PASSWORD, hint: 'the usual', homeDc: 2 });
      const svc = await startService({ dc, env: { LOGIN_RATE_LIMIT: '0', CLIENT_READY_TIMEOUT: '15s' } });

      // Status bodies are checked as they arrive: a 200 with a broken body is an error too.
      const badBodies: string[] = [];
      const statesSeen = new Set<string>();
      const checkBody = (status: number, body: string): void => {
        if (status !== 200) return; // counted by autocannon as non-2xx
        try {
          const parsed = JSON.parse(body) as { state?: string; authenticated?: boolean };
          if (!parsed.state || !STATES.has(parsed.state) || parsed.authenticated !== (parsed.state === 'authenticated')) {
            if (badBodies.length < 5) badBodies.push(body);
          } else {
            statesSeen.add(parsed.state);
          }
        } catch {
          if (badBodies.length < 5) badBodies.push(body);
        }
      };

      // Without a callback autocannon answers with a promise of its result.
      const loadDone: Promise<autocannon.Result> = autocannon({
        url: svc.baseUrl,
        connections: CONNECTIONS,
        duration: DURATION_S,
        headers: { authorization: `Bearer ${svc.token}` },
        requests: [{ method: 'GET', path: '/api/telegram/status', onResponse: checkBody }],
      });
      const deadline = Date.now() + DURATION_S * 1000;

      // Logins under load: send-code → verify-code → verify-password → logout, until the load ends.
      const loginProblems: string[] = [];
      const stepMs: Record<string, number[]> = { 'send-code': [], 'verify-code': [], 'verify-password': [], logout: [] };
      let loginRequests = 0;
      let login5xx = 0;
      let logins = 0;
      const step = async (name: keyof typeof stepMs, method: string, url: string, body?: unknown): Promise<HttpResult> => {
        const began = performance.now();
        loginRequests++;
        const res = await svc.request(method, url, body);
        stepMs[name]!.push(performance.now() - began);
        if (res.status >= 500) login5xx++;
        return res;
      };
      await new Promise((r) => setTimeout(r, 1000)); // the load is running before the first login starts
      // Each round ends logged in when the load is about to end, so the final status must be authenticated.
      while (loginProblems.length === 0) {
        const sent = await step('send-code', 'POST', '/api/telegram/auth/send-code', { phone });
        if (sent.status !== 200 || sent.body.state !== 'code_sent') loginProblems.push(`send-code → ${sent.status} ${JSON.stringify(sent.body)}`);
        const code = await step('verify-code', 'POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) });
        if (code.status !== 200 || code.body.state !== 'password_required') loginProblems.push(`verify-code → ${code.status} ${JSON.stringify(code.body)}`);
        const done = await step('verify-password', 'POST', '/api/telegram/auth/verify-password', { password: PASSWORD });
        if (done.status !== 200 || done.body.state !== 'authenticated' || done.body.user?.id !== user.id) {
          loginProblems.push(`verify-password → ${done.status} ${JSON.stringify(done.body)}`);
        } else {
          logins++;
        }
        if (Date.now() >= deadline - 1000) break; // end logged in
        const out = await step('logout', 'POST', '/api/telegram/auth/logout');
        if (out.status !== 200 || out.body.state !== 'logged_out') loginProblems.push(`logout → ${out.status} ${JSON.stringify(out.body)}`);
      }
      const result = await loadDone;

      const finalStatus = await svc.request('GET', '/api/telegram/status');
      expect(await svc.stop()).toBe(0);

      const stepSummary = Object.entries(stepMs)
        .filter(([, ms]) => ms.length > 0)
        .map(([name, ms]) => {
          const sorted = [...ms].sort((a, b) => a - b);
          return `${name} p50 ${percentile(sorted, 50).toFixed(0)} ms max ${sorted.at(-1)!.toFixed(0)} ms`;
        })
        .join(', ');
      console.log(
        [
          `load: ${CONNECTIONS} connections × ${result.duration} s on GET /api/telegram/status: ${result.requests.total} requests ` +
            `(${Math.round(result.requests.average)}/s), latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms; ` +
            `errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}, 5xx ${result['5xx']}`,
          `  meanwhile ${logins} logins with 2FA (${loginRequests} requests): ${stepSummary}; states seen in status: ${[...statesSeen].join(', ')}`,
        ].join('\n'),
      );
      recordTotals('load (status under 200 clients)', {
        casesTried: 1,
        httpRequests: result.requests.total + loginRequests,
        http5xx: result['5xx'] + login5xx,
        crashes: finalStatus.status === 200 ? 0 : 1,
      });

      expect(result.errors).toBe(0);
      expect(result.timeouts).toBe(0);
      expect(result.non2xx).toBe(0);
      expect(result.requests.total).toBeGreaterThan(0);
      expect(badBodies).toEqual([]);
      expect(loginProblems).toEqual([]);
      expect(login5xx).toBe(0);
      expect(logins).toBeGreaterThan(0);
      expect(finalStatus.body).toMatchObject({ state: 'authenticated', authenticated: true });
    },
    (DURATION_S + (SOAK ? 120 : 60)) * 1000,
  );
});
