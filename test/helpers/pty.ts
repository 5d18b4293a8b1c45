/**
 * A program run in a real pseudo-terminal, driven like a person at the keyboard: util-linux `script`
 * allocates the pty (the program sees a terminal on stdin and stdout: hidden input, line editing),
 * and what is written to script's stdin is typed into it. Output is kept as the terminal showed it.
 */
import { spawn } from 'node:child_process';

export interface PtySession {
  /** Everything the terminal showed so far. */
  output(): string;
  /** Resolves once the output (after `from`) matches; rejects after the timeout with the output. */
  waitFor(match: string | RegExp, opts?: { timeoutMs?: number; from?: number }): Promise<void>;
  /** Types `text` and Enter. */
  typeLine(text: string): void;
  /** Sends Ctrl-C. */
  interrupt(): void;
  /** The program's exit code. */
  exited: Promise<number | null>;
  kill(): void;
}

const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;

export function runInPty(argv: string[], opts: { env: Record<string, string | undefined>; cwd?: string }): PtySession {
  const child = spawn('script', ['--quiet', '--return', '--flush', '--command', argv.map(quote).join(' '), '/dev/null'], {
    env: { ...opts.env, TERM: 'xterm-256color' },
    cwd: opts.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let shown = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    shown += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    output: () => shown,
    waitFor(match, { timeoutMs = 30_000, from = 0 } = {}) {
      const test = (): boolean => (typeof match === 'string' ? shown.indexOf(match, from) >= 0 : match.test(shown.slice(from)));
      return new Promise((resolve, reject) => {
        if (test()) return resolve();
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`the terminal never showed ${String(match)}; it showed:\n${shown}`));
        }, timeoutMs);
        const check = (): void => {
          if (!test()) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        };
        listeners.add(check);
        void exited.then(() => setTimeout(check, 50));
      });
    },
    typeLine(text) {
      child.stdin.write(`${text}\r`);
    },
    interrupt() {
      child.stdin.write('\x03');
    },
    exited,
    kill() {
      child.kill('SIGKILL');
    },
  };
}
