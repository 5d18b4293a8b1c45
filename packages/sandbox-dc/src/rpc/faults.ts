/** Errors injected by the controls: the next `times` calls of a method fail with the given rpc_error. */
export interface InjectedError {
  code: number;
  message: string;
}

interface Injection extends InjectedError {
  remaining: number;
}

/** Method name that matches every method. */
export const ANY_METHOD = '*';

export class FaultInjector {
  private readonly byMethod = new Map<string, Injection[]>();

  inject(method: string, error: InjectedError, times = 1): void {
    if (!method) throw new Error('method is required (or "*" for any)');
    if (!Number.isInteger(error.code)) throw new Error('error code must be an integer');
    if (!/^[A-Z0-9_]+$/.test(error.message)) throw new Error('error message must match /^[A-Z0-9_]+$/');
    if (!(times > 0)) throw new Error('times must be positive');
    const list = this.byMethod.get(method) ?? [];
    list.push({ ...error, remaining: Math.floor(times) });
    this.byMethod.set(method, list);
  }

  /** Consumes and returns the injected error for this call, if any (method-specific ones first). */
  take(method: string): InjectedError | undefined {
    for (const key of [method, ANY_METHOD]) {
      const list = this.byMethod.get(key);
      const next = list?.[0];
      if (!list || !next) continue;
      next.remaining--;
      if (next.remaining <= 0) list.shift();
      if (list.length === 0) this.byMethod.delete(key);
      return { code: next.code, message: next.message };
    }
    return undefined;
  }

  clear(): void {
    this.byMethod.clear();
  }

  pending(): { method: string; code: number; message: string; remaining: number }[] {
    return [...this.byMethod].flatMap(([method, list]) => list.map((i) => ({ method, ...i })));
  }
}
