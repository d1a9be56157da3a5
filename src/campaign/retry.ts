/**
 * What happens after an attempt: dial again later, or stop. By default only `busy` and `no_answer`
 * are retried (RETRY_OUTCOMES), up to RETRY_MAX_ATTEMPTS attempts in all, waiting
 * RETRY_BACKOFF_SECONDS × 2^(attempt−1) after attempt n. Everything else — completed, voicemail,
 * rejected, invalid_number, errors — is final unless configured.
 */
import type { OutcomeKind } from '../store/index.js';

export interface RetryPolicy {
  maxAttempts: number;
  backoffMs: number;
  retryOn: ReadonlySet<OutcomeKind | string>;
}

export type RetryDecision = { retry: true; at: number } | { retry: false };

export function decideRetry(policy: RetryPolicy, kind: OutcomeKind, attempt: number, now: number): RetryDecision {
  if (!policy.retryOn.has(kind) || attempt >= policy.maxAttempts) return { retry: false };
  return { retry: true, at: now + policy.backoffMs * 2 ** (attempt - 1) };
}
