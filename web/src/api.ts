// SPDX-License-Identifier: AGPL-3.0-or-later
// The only place that talks to the API. Relative URLs: the panel is served by the API's origin.
import type { ErrorBody, UsageHistory, UsageSummary } from './types';

/** A failure in the API's standard envelope, or a network / unexpected-answer failure. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly requestId: string | null;
  /** Seconds to wait before retrying (Retry-After, else details.retry_after_seconds). */
  readonly retryAfterSeconds: number | null;
  /** When the answer arrived (ms since the epoch), to turn Retry-After into a clock time. */
  readonly receivedAt: number;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    details?: Record<string, unknown>;
    requestId?: string | null;
    retryAfterSeconds?: number | null;
  }) {
    super(init.message);
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.requestId = init.requestId ?? null;
    this.retryAfterSeconds = init.retryAfterSeconds ?? null;
    this.receivedAt = Date.now();
  }

  get isUnauthorized(): boolean {
    return this.status === 401;
  }
}

/** Codes this panel adds for failures that never reached the API's error envelope. */
export const NETWORK_ERROR = 'network_error';
export const UNEXPECTED_RESPONSE = 'unexpected_response';

function parseRetryAfter(header: string | null, details: Record<string, unknown>): number | null {
  if (header !== null && header.trim() !== '') {
    const secs = Number(header.trim());
    if (Number.isFinite(secs) && secs >= 0) return Math.ceil(secs);
    const when = Date.parse(header);
    if (!Number.isNaN(when)) return Math.max(0, Math.ceil((when - Date.now()) / 1000));
  }
  const fromDetails = details['retry_after_seconds'];
  if (typeof fromDetails === 'number' && Number.isFinite(fromDetails) && fromDetails >= 0) {
    return Math.ceil(fromDetails);
  }
  return null;
}

function isErrorBody(v: unknown): v is { error: ErrorBody } {
  if (typeof v !== 'object' || v === null) return false;
  const e = (v as { error?: unknown }).error;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as ErrorBody).code === 'string' &&
    typeof (e as ErrorBody).message === 'string'
  );
}

export async function apiGet<T>(path: string, apiKey: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: 'GET',
      headers: { 'X-API-Key': apiKey, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError({
      status: 0,
      code: NETWORK_ERROR,
      message: err instanceof Error ? err.message : String(err),
    });
  }

  const headerRequestId = res.headers.get('X-Request-Id');
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }

  if (!res.ok) {
    if (isErrorBody(body)) {
      const details =
        typeof body.error.details === 'object' && body.error.details !== null ? body.error.details : {};
      throw new ApiError({
        status: res.status,
        code: body.error.code,
        message: body.error.message,
        details,
        requestId: body.error.request_id ?? headerRequestId,
        retryAfterSeconds: parseRetryAfter(res.headers.get('Retry-After'), details),
      });
    }
    throw new ApiError({
      status: res.status,
      code: UNEXPECTED_RESPONSE,
      message: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`,
      requestId: headerRequestId,
      retryAfterSeconds: parseRetryAfter(res.headers.get('Retry-After'), {}),
    });
  }

  if (typeof body !== 'object' || body === null || !('data' in body)) {
    throw new ApiError({
      status: res.status,
      code: UNEXPECTED_RESPONSE,
      message: 'The answer is not in the expected format.',
      requestId: headerRequestId,
    });
  }
  return (body as { data: T }).data;
}

export function fetchSummary(apiKey: string, signal?: AbortSignal): Promise<UsageSummary> {
  return apiGet<UsageSummary>('/v1/b2b/usage/summary', apiKey, signal);
}

export function fetchHistory(
  apiKey: string,
  from: string,
  to: string,
  signal?: AbortSignal,
): Promise<UsageHistory> {
  const q = new URLSearchParams({ from, to });
  return apiGet<UsageHistory>(`/v1/b2b/usage/history?${q.toString()}`, apiKey, signal);
}
