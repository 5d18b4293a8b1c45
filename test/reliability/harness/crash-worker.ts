/**
 * One data directory under kill -9: start the real service, (check what the restart reached), run one
 * operation and SIGKILL the process at a random moment measured from the request's start — during
 * start-up (restore), send-code, resend-code, verify-code, verify-password, an activity refresh of
 * auth_state.json's saved_at, /me, or logout. After every kill the files are judged on disk, and the next
 * start must reach the state the last completed operation promised (an answer that arrived before the
 * kill is a promise; an operation still in flight may have landed or not).
 *
 * Activity refresh is made observable without any test-only setting: while the service is down the
 * harness moves saved_at in auth_state.json an hour back (the throttle is 10 minutes), so the first API
 * request after the start rewrites it — and that request is the one killed.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { type HttpResult, readLogLines, type ServiceProcess, startService, TEST_ENV } from '../../helpers/service-process.js';
import { backdateAuthState, fileProblems, hasAuthKey, inspectDataDir, type DataDirSnapshot } from './data-dir.js';
import { sleep } from '../../helpers/sandbox-service.js';
import { LOG_MESSAGES } from '../../../src/logging/messages.js';

type LoginState = 'logged_out' | 'code_sent' | 'password_required' | 'authenticated' | 'expired' | 'revoked';
export type Moment = 'startup' | 'send-code' | 'resend-code' | 'verify-code' | 'verify-password' | 'refresh' | 'me' | 'logout';

export interface CrashStats {
  cycles: number;
  kills: number;
  httpRequests: number;
  /** Kills that landed after the killed operation's answer had arrived. */
  afterAnswer: number;
  sessionsLost: number;
  http5xx: number;
  crashes: number;
  byMoment: Record<Moment, number>;
  problems: string[];
}

export interface CrashWorkerOptions {
  dc: TestSandbox;
  dataDir: string;
  phone: string;
  /** The account's 2FA password, when it has one. */
  password?: string;
  random: () => number;
  name: string;
}

const ROUTES: Record<Exclude<Moment, 'startup'>, [string, string]> = {
  'send-code': ['POST', '/api/telegram/auth/send-code'],
  'resend-code': ['POST', '/api/telegram/auth/resend-code'],
  'verify-code': ['POST', '/api/telegram/auth/verify-code'],
  'verify-password': ['POST', '/api/telegram/auth/verify-password'],
  refresh: ['GET', '/api/telegram/status'],
  me: ['GET', '/api/telegram/me'],
  logout: ['POST', '/api/telegram/auth/logout'],
};

/** States an operation in flight at the kill may have reached (besides the state before it). */
const IN_FLIGHT_TARGETS: Record<Moment, LoginState[]> = {
  startup: [],
  'send-code': ['code_sent', 'authenticated'], // authenticated: a key authorized by an earlier, interrupted sign-in
  'resend-code': ['code_sent'],
  'verify-code': ['password_required', 'authenticated'],
  'verify-password': ['authenticated'],
  refresh: [],
  me: [],
  logout: ['logged_out'],
};

const HOUR_MS = 3_600_000;

export class CrashWorker {
  readonly stats: CrashStats = {
    cycles: 0,
    kills: 0,
    httpRequests: 0,
    afterAnswer: 0,
    sessionsLost: 0,
    http5xx: 0,
    crashes: 0,
    byMoment: { startup: 0, 'send-code': 0, 'resend-code': 0, 'verify-code': 0, 'verify-password': 0, refresh: 0, me: 0, logout: 0 },
    problems: [],
  };

  /** The state the files must restore to (from a completed answer or an observed restart). */
  private promised: LoginState = 'logged_out';
  /** Whether `promised` is a real promise (an answer or an observed restart), not a guess. */
  private acceptable = new Set<LoginState>(['logged_out']);
  /** A logout was in flight at a kill: its auth.logOut may have reached the DC, so the restored key may be dead. */
  private keyMaybeDead = false;
  private lastVerifyRefused = false;
  private readonly reportedCorrupt = new Set<string>();
  /** Typical durations (ms), learnt from answers; kill delays are drawn from 0 … 1.5 × these. */
  private readonly typicalMs: Record<Moment, number> = {
    startup: 900,
    'send-code': 1200,
    'resend-code': 300,
    'verify-code': 300,
    'verify-password': 400,
    refresh: 30,
    me: 30,
    logout: 200,
  };

  constructor(private readonly opts: CrashWorkerOptions) {}

  async run(kills: number): Promise<void> {
    while (this.stats.kills < kills) {
      this.stats.cycles++;
      if (this.stats.cycles > kills * 3) {
        this.problem('too many cycles without kills (stuck)');
        break;
      }
      try {
        await this.cycle();
      } catch (err) {
        // The first lines carry the cause (e.g. the service's stderr when it did not start).
        this.problem(`cycle failed: ${(err as Error).message.split('\n').filter(Boolean).slice(0, 4).join(' | ')}`);
        if (this.stats.problems.length > 20) break;
      }
    }
    await this.finalCheck();
  }

  private problem(text: string): void {
    this.stats.problems.push(`${this.opts.name} cycle ${this.stats.cycles}: ${text}`);
  }

  private random(): number {
    return this.opts.random();
  }

  private learn(moment: Moment, ms: number): void {
    this.typicalMs[moment] = Math.max(5, 0.7 * this.typicalMs[moment] + 0.3 * ms);
  }

  private async start(noWait = false): Promise<ServiceProcess> {
    return startService({
      dataDir: this.opts.dataDir,
      env: TEST_ENV,
      dc: this.opts.dc,
      noWait,
    });
  }

  private async startOrCrash(): Promise<ServiceProcess> {
    const t0 = performance.now();
    try {
      const svc = await this.start();
      this.learn('startup', performance.now() - t0);
      return svc;
    } catch (err) {
      this.stats.crashes++;
      throw new Error(`the service did not start: ${(err as Error).message.slice(0, 2000)}`, { cause: err });
    }
  }

  private async cycle(): Promise<void> {
    if (this.random() < 0.2) return this.killDuringStartup();

    const refresh = this.promised === 'authenticated' && !this.keyMaybeDead && this.random() < 0.55;
    const backdatedTo = refresh ? backdateAuthState(this.opts.dataDir, HOUR_MS) : undefined;
    const svc = await this.startOrCrash();

    if (refresh) {
      // The first request after the start refreshes saved_at: kill somewhere around that write.
      const { answer } = await this.killDuring(svc, 'refresh');
      if (answer) this.checkRestartState(answer);
      const snap = this.checkFiles();
      if (snap.authState.kind === 'ok' && backdatedTo) {
        const savedAt = snap.authState.value.saved_at;
        if (savedAt !== backdatedTo && Date.parse(savedAt) < Date.parse(backdatedTo) + HOUR_MS - 60_000) {
          this.problem(`auth_state.json saved_at ${savedAt} is neither the old ${backdatedTo} nor a refresh`);
        }
      }
      if (this.promised === 'authenticated' && !hasAuthKey(snap)) this.sessionLost('session.json lost its key in a refresh');
      return;
    }

    const status = await this.request(svc, 'GET', '/api/telegram/status');
    this.checkRestartState(status);
    let state = status.body.state as LoginState;
    if (state === 'authenticated' && this.keyMaybeDead) state = await this.settleMaybeDeadKey(svc);

    // Some cycles first run login steps to their answers (no kill) up to a chosen step, so that kills land
    // in every step (a long send-code would otherwise absorb most of them) and in the moments only an
    // authenticated session has (refresh, /me, logout).
    if (state !== 'authenticated' && this.random() < 0.45) {
      const targets: LoginState[] = ['code_sent', 'authenticated', ...(this.opts.password ? (['password_required'] as const) : [])];
      state = await this.completeLogin(svc, state, targets[Math.floor(this.random() * targets.length)]!);
    }

    const moment = this.chooseMoment(state);
    const before = state;
    const { answer } = await this.killDuring(svc, moment);
    this.afterKill(moment, before, answer);
  }

  /** Kill while the process starts and restores (module loading, lock, store load, validation). */
  private async killDuringStartup(): Promise<void> {
    const svc = await this.start(true);
    const delay = (0.2 + 1.2 * this.random()) * this.typicalMs.startup;
    await sleep(delay);
    const exitedEarly = svc.proc.exitCode !== null;
    await svc.kill9();
    if (exitedEarly) {
      this.stats.crashes++;
      this.problem(`the service exited on its own during start-up: ${svc.output().stderr.slice(0, 500)}`);
    }
    this.stats.kills++;
    this.stats.byMoment.startup++;
    this.checkFiles();
  }

  /** Runs login steps to their answers (no kill) until `target` (or authenticated); returns the state reached. */
  private async completeLogin(svc: ServiceProcess, from: LoginState, target: LoginState): Promise<LoginState> {
    let state = from;
    for (let step = 0; step < 4 && state !== 'authenticated' && state !== target; step++) {
      const moment = this.chooseMoment(state);
      const [method, route] = ROUTES[moment];
      const answer = await this.request(svc, method, route, this.bodyFor(moment));
      this.lastVerifyRefused = answer.status >= 400 && (moment === 'verify-code' || moment === 'verify-password');
      const status = await this.request(svc, 'GET', '/api/telegram/status');
      state = status.body.state as LoginState;
      // Answered and observed: this is now what the files must hold.
      this.promised = state;
      this.acceptable = new Set([state]);
    }
    return state;
  }

  private chooseMoment(state: LoginState): Exclude<Moment, 'startup' | 'refresh'> {
    switch (state) {
      case 'code_sent':
        if (this.lastVerifyRefused) return 'send-code';
        return this.random() < 0.15 ? 'resend-code' : 'verify-code';
      case 'password_required':
        return 'verify-password';
      case 'authenticated':
        return this.random() < 0.35 ? 'me' : 'logout';
      default:
        return 'send-code';
    }
  }

  private bodyFor(moment: Moment): unknown {
    switch (moment) {
      case 'send-code':
        return { phone: this.opts.phone };
      case 'verify-code':
        return { code: this.opts.dc.controls.lastCode(this.opts.phone) ?? '00000' };
      case 'verify-password':
        return { password: this.opts.password ?? 'no-password-set' };
      default:
        return undefined;
    }
  }

  private async request(svc: ServiceProcess, method: string, route: string, body?: unknown): Promise<HttpResult> {
    this.stats.httpRequests++;
    const res = await svc.request(method, route, body);
    if (res.status >= 500) {
      this.stats.http5xx++;
      this.problem(`${method} ${route} → ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res;
  }

  /** Sends the moment's request and SIGKILLs the process after a random delay from the request's start. */
  private async killDuring(svc: ServiceProcess, moment: Exclude<Moment, 'startup'>): Promise<{ answer?: HttpResult }> {
    const [method, route] = ROUTES[moment];
    const body = this.bodyFor(moment);
    const delay = 1.5 * this.random() * this.typicalMs[moment];
    this.stats.httpRequests++;
    let answer: HttpResult | undefined;
    const t0 = performance.now();
    const inFlight = svc.request(method, route, body).then(
      (res) => {
        answer = res;
        this.learn(moment, performance.now() - t0);
      },
      () => undefined, // the connection died with the process
    );
    await sleep(delay);
    const answered = answer;
    const exitedEarly = svc.proc.exitCode !== null;
    await svc.kill9();
    await inFlight;
    this.stats.kills++;
    this.stats.byMoment[moment]++;
    if (exitedEarly) {
      this.stats.crashes++;
      this.problem(`the service exited on its own during ${moment}`);
    }
    if (answered) {
      this.stats.afterAnswer++;
      if (answered.status >= 500) {
        this.stats.http5xx++;
        this.problem(`${method} ${route} → ${answered.status} ${JSON.stringify(answered.body)}`);
      }
    }
    return { answer: answered };
  }

  /** What the restart reached, against what the last completed operation promised. */
  private checkRestartState(status: HttpResult): void {
    if (status.status !== 200) {
      this.problem(`status after restart → ${status.status}`);
      return;
    }
    const state = status.body.state as LoginState;
    if (!this.acceptable.has(state)) {
      if (this.promised === 'authenticated' && state !== 'authenticated' && !this.keyMaybeDead) {
        this.sessionLost(`restart reached ${state} (reason ${status.body.reason ?? '-'})`);
      } else {
        this.problem(`restart reached ${state}; expected one of ${[...this.acceptable].join(', ')} (reason ${status.body.reason ?? '-'})`);
      }
    }
    // keyMaybeDead (set by an interrupted logout) stays until validation proves the restored key alive.
    if (state !== 'authenticated') this.keyMaybeDead = false;
    this.promised = state;
    this.acceptable = new Set([state]);
  }

  /** After an interrupted logout restored `authenticated`: wait for validation to tell whether the key lives. */
  private async settleMaybeDeadKey(svc: ServiceProcess): Promise<LoginState> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const status = await this.request(svc, 'GET', '/api/telegram/status');
      const state = status.body.state as LoginState;
      if (state !== 'authenticated' || status.body.session?.validation === 'valid') {
        this.keyMaybeDead = false;
        this.promised = state;
        this.acceptable = new Set([state]);
        return state;
      }
      if (Date.now() > deadline) {
        this.problem('validation of a restored session did not settle within 15 s');
        return state;
      }
      await sleep(50);
    }
  }

  private afterKill(moment: Moment, before: LoginState, answer: HttpResult | undefined): void {
    const snap = this.checkFiles();
    if (!answer) {
      this.acceptable = new Set([before, ...IN_FLIGHT_TARGETS[moment]]);
      if (moment === 'logout' && before === 'authenticated') this.keyMaybeDead = true;
      // A verify in flight may have used the code up at the DC.
      if (moment === 'verify-code') this.lastVerifyRefused = true;
      return;
    }
    if (answer.status >= 400) {
      // Refused: state unchanged — except a send-code that found its key already authorized (409).
      this.acceptable = new Set([before, ...(moment === 'send-code' ? (['authenticated'] as const) : [])]);
      if (moment === 'verify-code' || moment === 'verify-password') this.lastVerifyRefused = true;
      if (moment === 'me' && before === 'authenticated' && answer.status === 401) {
        this.sessionLost(`/me after a restore → 401 ${JSON.stringify(answer.body)}`);
      }
      return;
    }
    this.lastVerifyRefused = false;
    const next: LoginState = moment === 'logout' ? 'logged_out' : moment === 'me' || moment === 'refresh' ? before : answer.body.state;
    this.promised = next;
    this.acceptable = new Set([next]);
    if (moment === 'logout') this.keyMaybeDead = false;
    this.checkPromiseOnDisk(moment, next, snap);
  }

  /** The answer arrived before the kill: what it promised must already be on disk. */
  private checkPromiseOnDisk(moment: Moment, next: LoginState, snap: DataDirSnapshot): void {
    const pending = snap.session.kind === 'ok' ? snap.session.value.pendingLogin : undefined;
    switch (next) {
      case 'authenticated':
        if (snap.authState.kind !== 'ok' || !hasAuthKey(snap)) this.sessionLost(`${moment} answered authenticated but the files do not hold the session`);
        break;
      case 'logged_out':
        if (snap.session.kind !== 'absent' || snap.authState.kind !== 'absent' || snap.backup.kind !== 'absent') {
          this.problem(`logout answered but files remain: session ${snap.session.kind}, auth ${snap.authState.kind}, bak ${snap.backup.kind}`);
        }
        break;
      case 'code_sent':
        if (pending?.phone !== this.opts.phone || pending.passwordRequired) this.problem(`${moment} answered code_sent but session.json has no such login in progress`);
        break;
      case 'password_required':
        if (!pending?.passwordRequired) this.problem(`${moment} answered password_required but session.json does not say so`);
        break;
      default:
        break;
    }
  }

  private sessionLost(detail: string): void {
    this.stats.sessionsLost++;
    this.problem(`SESSION LOST: ${detail}`);
  }

  private checkFiles(): DataDirSnapshot {
    const snap = inspectDataDir(this.opts.dataDir);
    for (const p of fileProblems({ ...snap, corruptFiles: [] })) this.problem(p);
    for (const name of snap.corruptFiles) {
      if (this.reportedCorrupt.has(name)) continue;
      this.reportedCorrupt.add(name);
      this.problem(`moved aside as corrupt: ${name}`);
    }
    return snap;
  }

  /** A clean start after the last kill: the promised state, a working session, no moved-aside file, exit 0 on SIGTERM. */
  private async finalCheck(): Promise<void> {
    let svc: ServiceProcess;
    try {
      svc = await this.startOrCrash();
    } catch (err) {
      this.problem((err as Error).message);
      return;
    }
    try {
      const status = await this.request(svc, 'GET', '/api/telegram/status');
      this.checkRestartState(status);
      let state = status.body.state as LoginState;
      if (state === 'authenticated' && this.keyMaybeDead) state = await this.settleMaybeDeadKey(svc);
      if (state === 'authenticated') {
        const me = await this.request(svc, 'GET', '/api/telegram/me');
        if (me.status !== 200) this.sessionLost(`/me at the end → ${me.status} ${JSON.stringify(me.body)}`);
      }
      // A write in flight has a temp file for a moment (session.json.bak follows beside the store's queue):
      // only one that stays is a leftover.
      let snap = this.checkFiles();
      for (let waited = 0; snap.tempFiles.length > 0 && waited < 5_000; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        snap = inspectDataDir(this.opts.dataDir);
      }
      if (snap.tempFiles.length > 0) this.problem(`temp files left after a start: ${snap.tempFiles.join(', ')}`);
    } finally {
      const code = await svc.stop();
      if (code !== 0) this.problem(`SIGTERM exit code ${code}`);
    }
    const lines = readLogLines(path.join(this.opts.dataDir, 'telegram_service.log'));
    for (const line of lines) {
      const msg = String(line.msg ?? '');
      const movedAside = line.movedTo !== undefined; // every line about a file moved aside names where to
      const died = msg.startsWith(LOG_MESSAGES.startupFailed('')) || msg === LOG_MESSAGES.uncaughtException || msg === LOG_MESSAGES.unhandledRejection;
      if (movedAside || died) {
        this.problem(`log: ${msg.slice(0, 300)}`);
      }
    }
  }
}
