/** The parts of a call record that carry what people said, as REDACT_PII wants them stored. */
import type { Config } from '../config.js';
import { redactDeep } from '../privacy/redact.js';

export function personalData<T extends object>(config: Pick<Config, 'REDACT_PII'>, data: T): T {
  return config.REDACT_PII ? redactDeep(data) : data;
}
