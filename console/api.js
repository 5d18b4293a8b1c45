// The service's HTTP API as the console uses it: JSON in and out, the token only ever in the
// Authorization header (never in a URL, a cookie or a log), errors as ApiError with the API's code.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** One request; a network failure is ApiError NETWORK (an abort stays an AbortError). */
async function call(token, method, path, { body, accept = 'application/json', headers = {}, signal } = {}) {
  const all = { ...headers, Authorization: `Bearer ${token}`, Accept: accept };
  if (body !== undefined) all['Content-Type'] = 'application/json';
  try {
    return await fetch(path, {
      method,
      headers: all,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
      signal,
    });
  } catch (err) {
    if (signal && signal.aborted) throw err;
    throw new ApiError(0, 'NETWORK', 'The service cannot be reached. Is it still running?');
  }
}

/** The API's error answer ({"error": {"code", "message"}}) as an ApiError. */
export async function errorOf(response) {
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  const error = data && data.error ? data.error : {};
  return new ApiError(response.status, error.code || `HTTP_${response.status}`, error.message || `The service answered ${response.status}`);
}

export function createApi(token) {
  async function request(method, path, body) {
    const response = await call(token, method, path, { body });
    if (response.status === 204) return null;
    if (!response.ok) throw await errorOf(response);
    try {
      return await response.json();
    } catch {
      return null;
    }
  }
  return {
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body),
    /** A streaming GET (Server-Sent Events): the Response itself, ok or not. */
    stream: (path, { headers, signal }) => call(token, 'GET', path, { accept: 'text/event-stream', headers, signal }),
  };
}
