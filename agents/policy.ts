/**
 * What this deployment asks of its agents on a public line (the clinic template's safeguards, and
 * the business's fixed lines), read once from config. Passed in, so agents and tools stay testable
 * without a config.
 */
import type { CountryCode } from 'libphonenumber-js';
import { type BusinessConfig, type Config, shippedBusiness } from '../src/config.js';
import type { EmergencyPolicy } from '../tools/emergency.js';
import type { IdentityCheck } from '../tools/identity.js';

export interface AgentPolicy {
  /** Second factor before an existing appointment is read out or changed. */
  identityCheck: IdentityCheck;
  emergency: EmergencyPolicy;
  /** Where numbers a caller dictates without a country code are. */
  region: CountryCode;
  /** REDACT_PII: messages are stored masked, as the call record is. */
  redactPii: boolean;
  /** What the agents and their tools say word for word (business.yaml's `lines`). */
  lines: AgentLines;
}

export type AgentLines = BusinessConfig['lines'];

export function agentPolicy(config: Config): AgentPolicy {
  return {
    identityCheck: config.IDENTITY_CHECK,
    emergency: {
      number: config.EMERGENCY_NUMBER,
      action: config.EMERGENCY_ACTION,
      ...(config.EMERGENCY_TRANSFER_TO ? { transferTo: config.EMERGENCY_TRANSFER_TO } : {}),
    },
    region: config.DEFAULT_REGION as CountryCode,
    redactPii: config.REDACT_PII,
    lines: config.business.lines,
  };
}

/**
 * The clinic defaults and the shipped template's lines, for agents built without a config (tests,
 * prompt versions). The lines are read when first asked for, not on import: where the package's
 * template is also the deployment's (the image's, mounted over), a mistake in it must reach
 * loadConfig's report, not stop every entry point as it is imported.
 */
export const CLINIC_POLICY: AgentPolicy = {
  identityCheck: 'name',
  emergency: { number: '911', action: 'end' },
  region: 'US',
  redactPii: true,
  get lines() {
    return shippedBusiness().business.lines;
  },
};
