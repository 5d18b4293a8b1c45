/**
 * The web console in a real browser: Playwright (playwright-core) driving Debian's Chromium against the
 * real service process and the sandbox DC over TCP. Logs in by phone → wrong code (the error shown in
 * words) → code → 2FA password, and by QR code (the image replaced as the code rotates, scanned through
 * the DC's control), logs out; on a desktop and on a phone-sized screen. Watches incoming events: a message
 * the DC delivers appears at the top, as text (markup in it stays text), with no duplicate after a reload,
 * a hidden page or a restart of the service (the stream resumes with Last-Event-ID); the stream stops when
 * the page hides, the account logs out or another is opened. The page must have no console errors and no
 * CSP violations, send the token only in the Authorization header, and refuse framing.
 * Screenshots: test-artifacts/console/ (gitignored).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { eventually, uniquePhone } from '../helpers/sandbox-service.js';
import { REPO_ROOT, sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts', 'console');
const sandbox = sandboxPerFile();
let svc: ServiceProcess;

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  svc = await sandbox.service();
});
afterAll(async () => {
  expect(await svc?.stop()).toBe(0);
});

interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors and CSP violations, as text. */
  problems: string[];
  /** Every request the page made to the API: its URL, whether it carried the token in Authorization, its Last-Event-ID. */
  apiRequests: { url: string; authorized: boolean; lastEventId: string | undefined }[];
  /** API requests that ended without an answer read in full (e.g. an event stream the page stopped): URL and why. */
  failedRequests: { url: string; error: string }[];
  close(): Promise<void>;
}

async function openBrowser(viewport: { width: number; height: number }): Promise<Browser> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgsvc-chromium-'));
  // launchPersistentContext: a fresh --user-data-dir of our own, as the test's rules ask.
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport,
  });
  // Reported as console errors too, but said in our own words so a failure names the directive.
  await context.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));",
  );
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  const apiRequests: Browser['apiRequests'] = [];
  const failedRequests: Browser['failedRequests'] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.startsWith('/api/')) {
      const headers = request.headers();
      apiRequests.push({ url: request.url(), authorized: headers.authorization === `Bearer ${svc.token}`, lastEventId: headers['last-event-id'] });
    }
  });
  page.on('requestfailed', (request) => {
    if (new URL(request.url()).pathname.startsWith('/api/')) failedRequests.push({ url: request.url(), error: request.failure()?.errorText ?? '' });
  });
  return {
    context,
    page,
    problems,
    apiRequests,
    failedRequests,
    close: async () => {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Browser-side expressions are strings: this project's TypeScript has no DOM library. */
const inPage = <T>(page: Page, expression: string): Promise<T> => page.evaluate<T>(expression);
/** Polls `expression` from here (a waitForFunction would evaluate a string in the page: the CSP forbids that). */
async function until(page: Page, expression: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await inPage<boolean>(page, expression))) {
    if (Date.now() > deadline) throw new Error(`never true in the page: ${expression}`);
    await page.waitForTimeout(100);
  }
}
const imageRendered = (page: Page) => until(page, "document.getElementById('qr-image').naturalWidth > 0");
const noHorizontalScroll = (page: Page) => inPage<boolean>(page, 'document.documentElement.scrollWidth <= window.innerWidth');

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

async function signIn(page: Page): Promise<void> {
  const answer = await page.goto(svc.baseUrl + '/');
  const headers = answer!.headers();
  expect(headers['content-security-policy']).toContain("script-src 'self'");
  expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(headers['content-security-policy']).not.toContain('unsafe-inline');
  expect(headers['x-frame-options']).toBe('DENY');
  await page.getByLabel('API token').fill(svc.token);
  await page.getByLabel('API token').press('Enter');
  await page.getByRole('heading', { name: 'Accounts' }).waitFor();
}

async function createAccount(page: Page, id: string): Promise<void> {
  await page.getByLabel('New account id').fill(id);
  await page.getByLabel('New account id').press('Enter');
  await page.getByRole('heading', { name: `Account ${id}` }).waitFor();
  await expectState(page, 'Logged out');
}

const expectState = (page: Page, text: string) => page.locator('#status-state', { hasText: text }).waitFor({ timeout: 20_000 });

/** Logs the shown account in by phone and code through the page. */
async function logInByCode(page: Page, phone: string): Promise<void> {
  await page.getByLabel('Phone number').fill(phone);
  await page.getByLabel('Phone number').press('Enter');
  await expectState(page, 'Waiting for the login code');
  await page.getByLabel('Login code').fill(sandbox.dc.controls.lastCode(phone)!);
  await page.getByLabel('Login code').press('Enter');
  await expectState(page, 'Logged in');
}

/** What every page must hold to: no errors but those the test caused, the token only in the header. */
function expectClean(browser: Browser, allowed: RegExp[] = []): void {
  const unexpected = browser.problems.filter((p) => !allowed.some((a) => a.test(p)));
  expect(unexpected).toEqual([]);
  expect(browser.apiRequests.length).toBeGreaterThan(0);
  for (const request of browser.apiRequests) {
    expect(request.authorized, request.url).toBe(true);
    expect(request.url).not.toContain(svc.token);
  }
  expect(browser.page.url()).not.toContain(svc.token);
}

describe('web console (Chromium, real process, sandbox DC)', () => {
  it('logs in by phone → wrong code (shown in words) → code → 2FA password, keyboard only; then logs out', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1581');
    dc.controls.createUser({ phone, firstName: 'Webby', password: 'web-pass', hint: 'the web one' });
    const browser = await openBrowser({ width: 1280, height: 900 });
    const { page } = browser;
    try {
      await signIn(page);
      expect(await inPage(page, 'sessionStorage.length')).toBe(1); // the token, in this tab only
      await createAccount(page, 'web');
      // Every field has a label a screen reader announces.
      expect(await inPage(page, "[...document.querySelectorAll('input')].every((i) => i.labels.length > 0)")).toBe(true);
      await shot(page, '01-logged-out');

      await page.getByLabel('Phone number').fill(phone);
      await page.getByLabel('Phone number').press('Enter');
      await expectState(page, 'Waiting for the login code');
      expect(await inPage(page, 'document.activeElement.id')).toBe('code-input'); // focus moved to the next step

      const right = dc.controls.lastCode(phone)!;
      const wrong = right === '00000' ? '11111' : '00000';
      await page.keyboard.type(wrong);
      await page.keyboard.press('Enter');
      const alert = page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toBe('The login code is wrong (PHONE_CODE_INVALID)');
      await shot(page, '02-wrong-code');

      await page.getByLabel('Login code').fill(right);
      await page.getByLabel('Login code').press('Enter');
      await expectState(page, 'Waiting for the 2FA password');
      expect(await alert.isHidden()).toBe(true);
      expect(await page.locator('#password-hint').textContent()).toBe('Hint: the web one');
      await page.getByLabel('2FA password').fill('web-pass');
      await shot(page, '03-password');
      await page.getByLabel('2FA password').press('Enter');
      await expectState(page, 'Logged in');
      expect(await page.locator('#status-user').textContent()).toContain('Webby');
      expect(await page.locator('#status-session').textContent()).toContain('logged in with a login code');
      await shot(page, '04-logged-in');
      expect((await svc.request('GET', '/api/accounts/web/status')).body.state).toBe('authenticated');

      await page.getByRole('button', { name: 'Log out' }).click();
      await expectState(page, 'Logged out');
      expect((await svc.request('GET', '/api/accounts/web/status')).body.state).toBe('logged_out');
      // The one error the test caused: the browser's own line for the 400 of the wrong code.
      expectClean(browser, [/^Failed to load resource: the server responded with a status of 400/]);
      expect(browser.problems.length).toBe(1);
    } finally {
      await browser.close();
    }
  });

  it('on a phone-sized screen: logs in by QR code (the image follows the rotating code), scanned through the control; logs out', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1582');
    dc.controls.createUser({ phone, firstName: 'Qwerty' });
    dc.controls.setLoginTokenLifetime(4000);
    const browser = await openBrowser({ width: 390, height: 844 });
    const { page } = browser;
    try {
      await signIn(page);
      await createAccount(page, 'webqr');
      await page.getByRole('button', { name: 'Log in with a QR code' }).click();
      await expectState(page, 'Waiting for the QR code to be scanned');
      const image = page.getByRole('img', { name: /QR code to scan with Telegram/ });
      await image.waitFor();
      await imageRendered(page);
      const first = await image.getAttribute('data-url');
      expect(first).toMatch(/^tg:\/\/login\?token=/);
      // Nothing wider than the screen.
      expect(await noHorizontalScroll(page)).toBe(true);
      await shot(page, '05-qr-phone');

      // The code rotates: the page shows the new one, the one the service holds now.
      await until(page, `document.getElementById('qr-image').dataset.url !== ${JSON.stringify(first)}`);
      const shown = await image.getAttribute('data-url');
      expect(shown).toBe((await svc.request('GET', '/api/accounts/webqr/auth/qr')).body.url);
      await imageRendered(page);

      dc.controls.acceptLoginToken(phone, shown!);
      await expectState(page, 'Logged in');
      expect(await page.locator('#status-session').textContent()).toContain('logged in with a QR code');
      expect(await noHorizontalScroll(page)).toBe(true);
      await shot(page, '06-qr-logged-in-phone');
      await page.getByRole('button', { name: 'Log out' }).click();
      await expectState(page, 'Logged out');
      expectClean(browser);
    } finally {
      dc.controls.setLoginTokenLifetime(30_000);
      await browser.close();
    }
  });

  it('watches incoming events on a phone-sized screen: newest first, text as text, resumed without duplicates after a hidden page, a reload and a restart', async () => {
    const dc = sandbox.dc;
    const [phone, friend] = [uniquePhone('1583'), uniquePhone('1584')];
    dc.controls.createUser({ phone, firstName: 'Evie' });
    dc.controls.createUser({ phone: friend, firstName: 'Friend' });
    const friendId = dc.controls.getUser(friend)!.id;
    const browser = await openBrowser({ width: 390, height: 844 });
    const { page } = browser;
    const feed = page.getByRole('list', { name: 'Incoming events' });
    const rows = feed.getByRole('listitem');
    const live = () => page.locator('#events-state', { hasText: 'Live' }).waitFor({ timeout: 30_000 });
    const streams = () => browser.apiRequests.filter((r) => new URL(r.url).pathname === '/api/accounts/webev/events');
    /** The page ended an event stream of its own (an aborted request) after `since` failed requests. */
    const streamStopped = (since: number, why: string) =>
      eventually(() => browser.failedRequests.slice(since).some((r) => new URL(r.url).pathname === '/api/accounts/webev/events'), why);
    /** The row ids shown, top to bottom; never one twice. */
    const shownIds = async (): Promise<number[]> => {
      const ids = await inPage<string[]>(page, "[...document.querySelectorAll('#events li')].map((li) => li.dataset.id)");
      expect(new Set(ids).size).toBe(ids.length);
      return ids.map(Number);
    };
    try {
      await signIn(page);
      await createAccount(page, 'webev');
      await logInByCode(page, phone);
      await live();

      // Markup in a message is its text: no element comes of it, no handler runs (the CSP would also say so).
      const hostile = 'hi <img src=x onerror="window.__pwned = 1"> & <b>bold</b>';
      dc.controls.deliverMessage(friend, phone, hostile);
      const first = rows.filter({ hasText: hostile });
      await first.waitFor({ timeout: 20_000 });
      expect(await first.textContent()).toContain(`New message from ${friendId} in chat ${friendId}`);
      expect(await inPage(page, "document.querySelectorAll('#events img, #events b').length")).toBe(0);
      expect(await inPage(page, "typeof window.__pwned")).toBe('undefined');
      expect(await inPage(page, "document.querySelector('#events time').dateTime")).toMatch(/^\d{4}-\d\d-\d\dT/);

      dc.controls.deliverMessage(friend, phone, 'the second one');
      await rows.filter({ hasText: 'the second one' }).waitFor({ timeout: 20_000 });
      expect(await rows.first().textContent()).toContain('the second one'); // newest at the top
      expect(await noHorizontalScroll(page)).toBe(true);
      await shot(page, '07-events-phone');
      const [second, firstId] = await shownIds();
      expect(second).toBeGreaterThan(firstId!);

      // The page's list module (the same file, in this page): bounded (the oldest rows go), newest first, every
      // event type in words, an unknown one as its fields — all of it as text.
      const bounded = await inPage<{ max: number; ids: string[]; texts: string[]; tags: number }>(
        page,
        `import('/console/event-list.js').then(({ createEventList, MAX_ROWS }) => {
          const list = document.createElement('ol');
          const rows = createEventList(list, { max: 4 });
          const at = new Date().toISOString();
          const message = (id) => ({ id, peer: 5, from: 5, date: at, text: 'm' + id, replyTo: null, out: false });
          for (let id = 1; id <= 3; id++) rows.add({ id, type: 'message.new', at, account: 'x', message: message(id) });
          rows.add({ id: 4, type: 'message.delete', at, account: 'x', peer: null, messageIds: [1, 2] });
          rows.add({ id: 5, type: 'message.read', at, account: 'x', peer: 5, maxId: 3, direction: 'outbox' });
          rows.add({ id: 6, type: 'chat.somethingNew', at, account: 'x', detail: '<i>raw</i>' });
          return { max: MAX_ROWS, ids: [...list.children].map((li) => li.dataset.id), texts: [...list.children].map((li) => li.textContent), tags: list.querySelectorAll('i').length };
        })`,
      );
      expect(bounded).toMatchObject({ max: 200, ids: ['6', '5', '4', '3'], tags: 0 });
      expect(bounded.texts[0]).toContain('chat.somethingNew');
      expect(bounded.texts[0]).toContain('{"detail":"<i>raw</i>"}');
      expect(bounded.texts[1]).toContain('Read chat 5 up to #3 by the other side');
      expect(bounded.texts[2]).toContain('Deleted messages 1, 2 in a chat');

      // A hidden page holds no stream open; visible again, it resumes after the newest row.
      let failed = browser.failedRequests.length;
      await inPage(page, "Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }), document.dispatchEvent(new Event('visibilitychange'))");
      await streamStopped(failed, 'the stream stopped while hidden');
      await inPage(page, "delete document.visibilityState, document.dispatchEvent(new Event('visibilitychange'))");
      await live();
      expect(streams().at(-1)!.lastEventId).toBe(String(second));

      // A reload: the same rows once each (read again from the journal), then live again.
      await page.reload();
      await expectState(page, 'Logged in');
      await live();
      await until(page, "document.querySelectorAll('#events li').length === 2");
      expect(await shownIds()).toEqual([second, firstId]);
      expect(await rows.filter({ hasText: hostile }).count()).toBe(1);

      // The service restarts on the same port: the stream drops, the page reconnects after the newest id it
      // has (Last-Event-ID) and shows what arrives next, once.
      const { port, dataDir } = svc;
      expect(await svc.stop()).toBe(0);
      // Said in words while the service is away.
      await page.locator('#events-state', { hasText: /^(The event stream ended|The service cannot be reached\. Is it still running\?) — reconnecting in \d+ s…$/ }).waitFor({ timeout: 20_000 });
      svc = await sandbox.service({ dataDir, env: { PORT: String(port) } });
      await live();
      expect(streams().at(-1)!.lastEventId).toBe(String(second));
      dc.controls.deliverMessage(friend, phone, 'after the restart');
      await rows.filter({ hasText: 'after the restart' }).waitFor({ timeout: 20_000 });
      const ids = await shownIds();
      expect(ids.slice(1)).toEqual([second, firstId]);
      for (const text of [hostile, 'the second one', 'after the restart']) expect(await rows.filter({ hasText: text }).count()).toBe(1);
      await shot(page, '08-events-after-restart');

      // Leaving the account for the list stops the stream; back on it, it watches again; logging out stops it.
      failed = browser.failedRequests.length;
      await page.getByRole('button', { name: 'All accounts' }).click();
      await page.getByRole('heading', { name: 'Accounts' }).waitFor();
      await streamStopped(failed, 'the stream stopped when the account was left');
      await page.getByRole('button', { name: /^webev/ }).click();
      await live();
      failed = browser.failedRequests.length;
      await page.getByRole('button', { name: 'Log out' }).click();
      await expectState(page, 'Logged out');
      await streamStopped(failed, 'the stream stopped at logout');
      expect(await feed.isHidden()).toBe(true);
      // What the restart cost: the page's requests while the service was down.
      expectClean(browser, [/net::ERR_CONNECTION_REFUSED/, /net::ERR_INCOMPLETE_CHUNKED_ENCODING/]);
    } finally {
      await browser.close();
    }
  });

  it('cannot be framed by another page (frame-ancestors / X-Frame-Options); an unknown token is refused in words', async () => {
    const browser = await openBrowser({ width: 1024, height: 768 });
    const { page } = browser;
    try {
      await page.goto(`${svc.baseUrl}/healthz`);
      // Another origin (localhost vs 127.0.0.1) tries to frame the console.
      const other = svc.baseUrl.replace('127.0.0.1', 'localhost');
      await page.goto(`${other}/healthz`);
      await inPage(page, `document.body.append(Object.assign(document.createElement('iframe'), { src: ${JSON.stringify(svc.baseUrl + '/')} }))`);
      await page.waitForTimeout(1500);
      const framed = page.frames().find((f) => f.url().startsWith(svc.baseUrl));
      const loaded = framed ? await framed.evaluate<boolean>("!!document.getElementById('token-input')").catch(() => false) : false;
      expect(loaded).toBe(false);
      expect(browser.problems.some((p) => /frame-ancestors|X-Frame-Options|refused to connect/i.test(p))).toBe(true);

      browser.problems.length = 0;
      await page.goto(`${svc.baseUrl}/`);
      await page.getByLabel('API token').fill('not-the-token-0123456789');
      await page.getByRole('button', { name: 'Continue' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toBe('This token was not accepted; check it and try again (UNAUTHORIZED)');
      expect(await inPage(page, 'sessionStorage.length')).toBe(0);
      expect(browser.problems.filter((p) => !/status of 401/.test(p))).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
