/** The running service's HTTP API for command-line tools: JSON, the bearer token, errors with their code. */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read field by field, as the API documents them
export type Body = any;

export class ServiceApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ServiceApiError';
  }
}

const TIMEOUT_MS = 60_000;

export class ServiceApi {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  /** Whether the service answers GET /healthz. */
  async reachable(): Promise<boolean> {
    try {
      const res = await fetch(new URL('/healthz', this.baseUrl), { signal: AbortSignal.timeout(5000) });
      return res.ok;
    } catch {
      return false;
    }
  }

  get(path: string): Promise<Body> {
    return this.request('GET', path);
  }

  post(path: string, body?: object): Promise<Body> {
    return this.request('POST', path, body);
  }

  private async request(method: string, path: string, body?: object): Promise<Body> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new ServiceApiError(0, 'UNREACHABLE', `The service did not answer (${(err as Error).message})`);
    }
    const text = await res.text();
    let data: Body = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      const error = data?.error ?? {};
      throw new ServiceApiError(res.status, error.code ?? `HTTP_${res.status}`, error.message ?? `The service answered ${res.status}`);
    }
    return data;
  }
}
