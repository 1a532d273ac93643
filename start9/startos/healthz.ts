// The daemon's health check: GET /healthz must answer 200 with {"ok":true}. The SDK's checkWebUrl
// passes on any HTTP answer, a 503 from a server whose database is down included, so it is not used.

export interface HealthResult {
  result: 'success' | 'failure';
  message: string;
}

export async function checkHealthz(url: string, opts: { fetch?: typeof fetch; timeoutMs?: number } = {}): Promise<HealthResult> {
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 5000;
  let res: Response;
  try {
    res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const reason = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'not reachable';
    return { result: 'failure', message: `The API is ${reason} (${url})` };
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (res.status === 200 && body !== null && typeof body === 'object' && (body as { ok?: unknown }).ok === true) {
    return { result: 'success', message: 'The API is answering and its database is reachable' };
  }
  return { result: 'failure', message: `The API answered ${res.status} on /healthz: its database may be unreachable` };
}
