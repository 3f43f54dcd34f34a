// SPDX-License-Identifier: AGPL-3.0-or-later
import { QueryClient, type Query } from '@tanstack/react-query';
import { ApiError } from './api';

export const REFRESH_MS = 30_000;

/** Every 30 s; after a 429, not before Retry-After; never after a 401 (the panel signs out). */
export function refetchInterval(query: Query<unknown, Error, unknown, readonly unknown[]>): number | false {
  const e = query.state.error;
  if (e instanceof ApiError) {
    if (e.isUnauthorized) return false;
    if (e.status === 429 && e.retryAfterSeconds !== null) {
      return Math.max(1_000, e.retryAfterSeconds * 1_000);
    }
  }
  return REFRESH_MS;
}

/** 4xx answers are final; one retry for a network failure or a 5xx. */
export function shouldRetry(failureCount: number, error: Error): boolean {
  if (error instanceof ApiError && error.status >= 400 && error.status < 500) return false;
  return failureCount < 1;
}

export function createQueryClient(opts: { retry?: boolean } = {}): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        retry: opts.retry === false ? false : shouldRetry,
        refetchInterval,
        refetchOnWindowFocus: true,
      },
    },
  });
}
