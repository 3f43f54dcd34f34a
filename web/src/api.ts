// SPDX-License-Identifier: AGPL-3.0-or-later
// The only place that talks to the API. Relative URLs: the panel is served by the API's origin.
// A customer is identified by an API key (X-API-Key), an operator by the admin token (Bearer);
// either is sent as a header only, never in a URL, and with credentials: 'omit'.
import type {
  Account,
  AccountStatus,
  AuditEvent,
  AuditVerification,
  Contract,
  ContractInput,
  Credential,
  ErrorBody,
  IssuedCredential,
  Page,
  Plan,
  PlanInput,
  PlanPatch,
  UsageAlerts,
  UsageHistory,
  UsageSummary,
} from './types';

/** Who is calling: the two roles never share a request, a cache entry or a stored secret. */
export type Caller = { role: 'customer'; apiKey: string } | { role: 'operator'; token: string };

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

  /** 422 validation_error: each field the server refused and why (its English). */
  get fields(): { field: string; issue: string }[] {
    const f = this.details['fields'];
    if (!Array.isArray(f)) return [];
    return f.filter(
      (x): x is { field: string; issue: string } =>
        typeof x === 'object' && x !== null && typeof x.field === 'string' && typeof x.issue === 'string',
    );
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

function authHeaders(caller: Caller): Record<string, string> {
  return caller.role === 'customer' ? { 'X-API-Key': caller.apiKey } : { Authorization: `Bearer ${caller.token}` };
}

/** The ApiError of an answer that is not 2xx: its envelope, or unexpected_response. */
function failure(res: Response, body: unknown): ApiError {
  const headerRequestId = res.headers.get('X-Request-Id');
  if (isErrorBody(body)) {
    const details = typeof body.error.details === 'object' && body.error.details !== null ? body.error.details : {};
    return new ApiError({
      status: res.status,
      code: body.error.code,
      message: body.error.message,
      details,
      requestId: body.error.request_id ?? headerRequestId,
      retryAfterSeconds: parseRetryAfter(res.headers.get('Retry-After'), details),
    });
  }
  return new ApiError({
    status: res.status,
    code: UNEXPECTED_RESPONSE,
    message: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`,
    requestId: headerRequestId,
    retryAfterSeconds: parseRetryAfter(res.headers.get('Retry-After'), {}),
  });
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
}

/** One call; resolves with the envelope's `data`, rejects with an ApiError (or an AbortError). */
export async function apiRequest<T>(caller: Caller, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders(caller), Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      cache: 'no-store',
      credentials: 'omit',
      signal: opts.signal,
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

  if (!res.ok) throw failure(res, body);

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

function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Every page of a list, in the API's order. */
export async function fetchAllPages<T>(page: (cursor: string | null) => Promise<Page<T>>): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | null = null;
  for (;;) {
    const p: Page<T> = await page(cursor);
    all.push(...p.items);
    if (p.next_cursor === null || p.items.length === 0) return all;
    cursor = p.next_cursor;
  }
}

/** The largest page the admin API gives. */
export const PAGE_MAX = 200;

// ---- usage: a customer asks about their own account, an operator about any ----

/** `account` is the operator's target; a customer's calls always concern their own account. */
export type UsageTarget = number | 'self';

function usagePath(caller: Caller, account: UsageTarget): string {
  if (caller.role === 'customer' || account === 'self') return '/v1/b2b/usage';
  return `/v1/admin/accounts/${account}/usage`;
}

export function fetchSummary(caller: Caller, account: UsageTarget = 'self', signal?: AbortSignal): Promise<UsageSummary> {
  const base = usagePath(caller, account);
  return apiRequest<UsageSummary>(caller, caller.role === 'customer' ? `${base}/summary` : base, { signal });
}

export function fetchHistory(
  caller: Caller,
  range: { from: string; to: string },
  account: UsageTarget = 'self',
  signal?: AbortSignal,
): Promise<UsageHistory> {
  const q = new URLSearchParams({ from: range.from, to: range.to });
  return apiRequest<UsageHistory>(caller, `${usagePath(caller, account)}/history?${q.toString()}`, { signal });
}

/** The usage alerts (usage.threshold) of the current and previous day and month. */
export function fetchAlerts(caller: Caller, account: UsageTarget = 'self', signal?: AbortSignal): Promise<UsageAlerts> {
  return apiRequest<UsageAlerts>(caller, `${usagePath(caller, account)}/alerts`, { signal });
}

/** A file the API sent, with the name it suggested. */
export interface DownloadedFile {
  blob: Blob;
  filename: string;
}

/** The file name of `Content-Disposition: attachment; filename="..."`, or null. */
export function dispositionFilename(header: string | null): string | null {
  const m = header ? /filename="([^"]+)"/i.exec(header) : null;
  // Only a plain name: nothing that could point into another folder.
  return m && !/[/\\]/.test(m[1]!) ? m[1]! : null;
}

/**
 * The customer's usage of `range` as a CSV file (GET /v1/b2b/usage/export). A link cannot carry
 * the X-API-Key header, so the panel fetches the file itself and hands the browser a Blob.
 */
export async function fetchUsageExport(
  caller: Caller,
  range: { from: string; to: string },
  signal?: AbortSignal,
): Promise<DownloadedFile> {
  const q = new URLSearchParams({ from: range.from, to: range.to, format: 'csv' });
  let res: Response;
  try {
    res = await fetch(`/v1/b2b/usage/export?${q.toString()}`, {
      headers: { ...authHeaders(caller), Accept: 'text/csv' },
      cache: 'no-store',
      credentials: 'omit',
      signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError({ status: 0, code: NETWORK_ERROR, message: err instanceof Error ? err.message : String(err) });
  }
  if (!res.ok) {
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    throw failure(res, body);
  }
  let blob: Blob;
  try {
    blob = await res.blob();
  } catch (err) {
    // The body broke off mid-transfer (the server ends a failed export that way): no file.
    throw new ApiError({ status: 0, code: NETWORK_ERROR, message: err instanceof Error ? err.message : String(err) });
  }
  const filename =
    dispositionFilename(res.headers.get('Content-Disposition')) ?? `starmeter-usage-${range.from}-${range.to}.csv`;
  return { blob, filename };
}

/** Saves a file through a temporary object URL and a download link. */
export function saveFile(file: DownloadedFile): void {
  const url = URL.createObjectURL(file.blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = file.filename;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Revoked after the click has been handled: some browsers read the URL asynchronously.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

// ---- the admin API (operator only) ----

export function listAccounts(
  caller: Caller,
  p: { status?: AccountStatus | null; cursor?: string | null; limit?: number },
  signal?: AbortSignal,
): Promise<Page<Account>> {
  return apiRequest(caller, `/v1/admin/accounts${query({ status: p.status, cursor: p.cursor, limit: p.limit })}`, {
    signal,
  });
}

export function getAccount(caller: Caller, id: number, signal?: AbortSignal): Promise<Account> {
  return apiRequest(caller, `/v1/admin/accounts/${id}`, { signal });
}

export function createAccount(caller: Caller, name: string): Promise<Account> {
  return apiRequest(caller, '/v1/admin/accounts', { method: 'POST', body: { name } });
}

export function setAccountStatus(caller: Caller, id: number, status: AccountStatus): Promise<Account> {
  return apiRequest(caller, `/v1/admin/accounts/${id}`, { method: 'PATCH', body: { status } });
}

export function getContract(caller: Caller, id: number, signal?: AbortSignal): Promise<Contract> {
  return apiRequest(caller, `/v1/admin/accounts/${id}/contract`, { signal });
}

export function putContract(caller: Caller, id: number, contract: ContractInput): Promise<Contract> {
  return apiRequest(caller, `/v1/admin/accounts/${id}/contract`, { method: 'PUT', body: contract });
}

export async function listCredentials(caller: Caller, id: number, signal?: AbortSignal): Promise<Credential[]> {
  const r = await apiRequest<{ items: Credential[] }>(caller, `/v1/admin/accounts/${id}/credentials`, { signal });
  return r.items;
}

export function issueCredential(caller: Caller, id: number, label: string): Promise<IssuedCredential> {
  // The API refuses an empty label: none is sent then.
  return apiRequest(caller, `/v1/admin/accounts/${id}/credentials`, { method: 'POST', body: label ? { label } : {} });
}

export function rotateCredential(caller: Caller, keyId: string, graceSeconds: number): Promise<IssuedCredential> {
  return apiRequest(caller, `/v1/admin/credentials/${encodeURIComponent(keyId)}/rotate`, {
    method: 'POST',
    body: { grace_seconds: graceSeconds },
  });
}

export function revokeCredential(caller: Caller, keyId: string): Promise<Credential> {
  return apiRequest(caller, `/v1/admin/credentials/${encodeURIComponent(keyId)}`, { method: 'DELETE' });
}

export function listAllPlans(caller: Caller, signal?: AbortSignal): Promise<Plan[]> {
  return fetchAllPages((cursor) =>
    apiRequest<Page<Plan>>(caller, `/v1/admin/plans${query({ cursor, limit: PAGE_MAX })}`, { signal }),
  );
}

export function createPlan(caller: Caller, plan: PlanInput): Promise<Plan> {
  return apiRequest(caller, '/v1/admin/plans', { method: 'POST', body: plan });
}

export function patchPlan(caller: Caller, code: string, patch: PlanPatch): Promise<Plan> {
  return apiRequest(caller, `/v1/admin/plans/${encodeURIComponent(code)}`, { method: 'PATCH', body: patch });
}

export interface AuditFilter {
  accountId?: number | null;
  action?: string | null;
}

/** The whole trail (or the part the filter keeps), oldest first as the API lists it. */
export function listAllAudit(caller: Caller, f: AuditFilter, signal?: AbortSignal): Promise<AuditEvent[]> {
  return fetchAllPages((cursor) =>
    apiRequest<Page<AuditEvent>>(
      caller,
      `/v1/admin/audit${query({ account_id: f.accountId, action: f.action, cursor, limit: PAGE_MAX })}`,
      { signal },
    ),
  );
}

/** The server recomputes every event's hash from the first on (GET /v1/admin/audit/verify). */
export function verifyAudit(caller: Caller, signal?: AbortSignal): Promise<AuditVerification> {
  return apiRequest(caller, '/v1/admin/audit/verify', { signal });
}
