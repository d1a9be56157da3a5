/**
 * Campaign limits from config, with command-line overrides: the one place that turns
 * CAMPAIGN_* / CALLING_* / RETRY_* variables into dispatcher options.
 */
import type { Config } from '../config.js';
import type { OutcomeKind } from '../store/index.js';
import { CallingWindow } from './callingWindow.js';
import type { RetryPolicy } from './retry.js';

export interface CampaignSettings {
  maxConcurrent: number;
  cps: number;
  window: CallingWindow;
  retry: RetryPolicy;
  callTimeoutMs: number;
}

export interface SettingsOverrides {
  maxConcurrent?: number;
  cps?: number;
  window?: string;
  maxAttempts?: number;
}

export type CampaignConfig = Pick<
  Config,
  | 'CAMPAIGN_MAX_CONCURRENT'
  | 'CAMPAIGN_CPS'
  | 'CALLING_WINDOW'
  | 'CALLING_DAYS'
  | 'RETRY_MAX_ATTEMPTS'
  | 'RETRY_BACKOFF_SECONDS'
  | 'RETRY_OUTCOMES'
  | 'CAMPAIGN_CALL_TIMEOUT_SECONDS'
>;

export function campaignSettings(config: CampaignConfig, o: SettingsOverrides = {}): CampaignSettings {
  return {
    maxConcurrent: o.maxConcurrent ?? config.CAMPAIGN_MAX_CONCURRENT,
    cps: o.cps ?? config.CAMPAIGN_CPS,
    window: CallingWindow.parse(o.window ?? config.CALLING_WINDOW, config.CALLING_DAYS),
    retry: {
      maxAttempts: o.maxAttempts ?? config.RETRY_MAX_ATTEMPTS,
      backoffMs: config.RETRY_BACKOFF_SECONDS * 1000,
      retryOn: new Set<OutcomeKind>(config.RETRY_OUTCOMES),
    },
    callTimeoutMs: config.CAMPAIGN_CALL_TIMEOUT_SECONDS * 1000,
  };
}
