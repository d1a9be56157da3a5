/**
 * Settings that load but are probably a mistake: said once at start-up (worker, `campaign run`),
 * never fatal, because each has a legitimate use somewhere.
 *
 * - A calling window that runs overnight, or outside 08:00–21:00 (the US TCPA's calling hours,
 *   47 CFR 64.1200(c)(1), and a sane limit elsewhere): campaigns would ring people in bed.
 * - TRANSFER_ALLOWLIST entries that transfers will refuse anyway (premium-rate, emergency, short
 *   codes, countries outside ALLOWED_COUNTRIES): the agent would offer a person it cannot reach.
 */
import type { Config } from './config.js';
import { checkDialable, dialledNumberOf } from './telephony/dialPolicy.js';

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

export function configWarnings(
  config: Pick<Config, 'CALLING_WINDOW' | 'TRANSFER_ALLOWLIST' | 'DEFAULT_REGION' | 'ALLOWED_COUNTRIES'>,
): string[] {
  const warnings: string[] = [];
  const [from, to] = config.CALLING_WINDOW.split('-') as [string, string];
  const start = minutes(from);
  const end = minutes(to);
  if (end < start) {
    warnings.push(`CALLING_WINDOW=${config.CALLING_WINDOW} runs overnight (it ends before it starts): campaigns will call people through the night`);
  } else if (start < 8 * 60 || end > 21 * 60) {
    warnings.push(`CALLING_WINDOW=${config.CALLING_WINDOW} calls before 08:00 or after 21:00 in the contact's local time (US law allows 08:00-21:00)`);
  }
  for (const entry of config.TRANSFER_ALLOWLIST) {
    const number = dialledNumberOf(entry);
    if (number === undefined) continue;
    const check = checkDialable(number, { defaultRegion: config.DEFAULT_REGION, allowedCountries: config.ALLOWED_COUNTRIES });
    if (!check.ok) warnings.push(`TRANSFER_ALLOWLIST: ${entry} will be refused: ${check.reason}`);
  }
  return warnings;
}
