/**
 * The web console in a real browser: Playwright (playwright-core) driving Debian's Chromium against the
 * real service process and the sandbox DC over TCP. Logs in by phone → wrong code (the error shown in
 * words) → code → 2FA password, and by QR code (the image replaced as the code rotates, scanned through
 * the DC's control), logs out; on a desktop and on a phone-sized screen. The page must have no console
 * errors and no CSP violations, send the token only in the Authorization header, and refuse framing.
 * Screenshots: test-artifacts/console/ (gitignored).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { uniquePhone } from '../helpers/sandbox-service.js';
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
  /** Every request the page made to the API: its URL and whether it carried the token in Authorization. */
  apiRequests: { url: string; authorized: boolean }[];
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
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.startsWith('/api/')) {
      apiRequests.push({ url: request.url(), authorized: request.headers().authorization === `Bearer ${svc.token}` });
    }
  });
  return {
    context,
    page,
    problems,
    apiRequests,
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
