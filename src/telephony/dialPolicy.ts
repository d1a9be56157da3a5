/**
 * Which numbers Switchboard may dial at all: never an emergency number, a premium-rate number, a
 * short code, or a country outside ALLOWED_COUNTRIES. Checked by the dispatcher's importer, by
 * `switchboard call`, by the worker just before it dials, and by transfers.
 *
 * Emergency and short-number data come from Google's libphonenumber (`google-libphonenumber`,
 * its ShortNumberInfo metadata): libphonenumber-js leaves emergency numbers and short codes out
 * on purpose (its README, "Emergency phone numbers like 911"). Premium rate is libphonenumber-js's
 * number type (full metadata).
 */
import libphonenumber from 'google-libphonenumber';
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { normalisePhone } from './phoneNumber.js';

const shortInfo = libphonenumber.ShortNumberInfo.getInstance();
const util = libphonenumber.PhoneNumberUtil.getInstance();
type Region = libphonenumber.RegionCode;

export type DialRefusalKind = 'emergency_number' | 'premium_rate' | 'short_code' | 'country_not_allowed' | 'invalid_number';

export type DialCheck =
  | { ok: true; e164: string; country: CountryCode | undefined; nationalNumber: string }
  | { ok: false; kind: DialRefusalKind; reason: string };

export interface DialPolicy {
  /** Region of numbers written without a country code. */
  defaultRegion: string;
  /** ISO 3166 codes we may call; empty means the default region only; `*` means any country. */
  allowedCountries: readonly string[];
}

export class DialRefused extends Error {
  constructor(
    readonly kind: DialRefusalKind,
    message: string,
  ) {
    super(message);
    this.name = 'DialRefused';
  }
}

const refuse = (kind: DialRefusalKind, reason: string): DialCheck => ({ ok: false, kind, reason });

/** The region a `+<code>…` number belongs to, for the short-number tables (which are per region). */
function regionOf(text: string, defaultRegion: string): { region: Region; national: string } | undefined {
  const digits = text.replace(/[\s().\-/]/g, '');
  if (!digits.startsWith('+')) return /^\d+$/.test(digits) ? { region: defaultRegion as Region, national: digits } : undefined;
  const parsed = parsePhoneNumberFromString(digits);
  if (!parsed) {
    // "+1911", "+44999": too short for libphonenumber-js to parse; split the calling code off ourselves.
    for (let len = 1; len <= 3; len++) {
      const code = Number(digits.slice(1, 1 + len));
      const region = util.getRegionCodeForCountryCode(code);
      if (region !== 'ZZ') return { region: region as Region, national: digits.slice(1 + len) };
    }
    return undefined;
  }
  const region = (parsed.country as Region | undefined) ?? util.getRegionCodeForCountryCode(Number(parsed.countryCallingCode));
  return region === 'ZZ' ? undefined : { region, national: parsed.nationalNumber };
}

function allowed(country: string | undefined, policy: DialPolicy): boolean {
  const list = policy.allowedCountries.length > 0 ? policy.allowedCountries : [policy.defaultRegion];
  return list.includes('*') || (country !== undefined && list.includes(country));
}

export interface CheckOptions {
  /**
   * Refuse numbers the numbering plan has no range for (default). False where the carrier is the
   * judge of that (the worker about to dial, transfers): only the dangerous kinds are refused, and
   * an unknown range counts as the main country of its calling code.
   */
  requireValid?: boolean;
}

/** Whether `raw` may be dialled, and its E.164 form if so; a refusal names why, in words an operator can act on. */
export function checkDialable(raw: string, policy: DialPolicy, options: CheckOptions = {}): DialCheck {
  const text = raw.trim();
  const full = normalisePhone(text, policy.defaultRegion);
  // A valid number already knows its region; only the rest is parsed again (the import's hot path).
  const where = full.ok && full.country ? { region: full.country as Region, national: full.nationalNumber } : regionOf(text, policy.defaultRegion);
  if (where && where.national !== '') {
    // A full, valid number is only compared exactly (emergency numbers are prefixes of some valid
    // numbers in some regions); anything shorter also counts if it would connect to one.
    const emergency = full.ok
      ? shortInfo.isEmergencyNumber(where.national, where.region)
      : shortInfo.connectsToEmergencyNumber(where.national, where.region);
    if (emergency) {
      return refuse('emergency_number', `${JSON.stringify(text)} is an emergency number (${where.region}); Switchboard never dials emergency services`);
    }
    if (!full.ok) {
      try {
        const short = util.parse(where.national, where.region);
        if (shortInfo.isValidShortNumberForRegion(short, where.region)) {
          return refuse('short_code', `${JSON.stringify(text)} is a short code (${where.region}), not a subscriber number; short codes are never dialled`);
        }
      } catch {
        // Not parseable as a short number either: fall through to the invalid-number reason.
      }
    }
  }
  let number: { e164: string; country: string | undefined; nationalNumber: string };
  if (full.ok) {
    if (full.type === 'PREMIUM_RATE') {
      return refuse('premium_rate', `${full.e164} is a premium-rate number; Switchboard never dials premium-rate numbers`);
    }
    number = full;
  } else {
    const loose = options.requireValid === false ? parsePhoneNumberFromString(text, policy.defaultRegion as CountryCode) : undefined;
    if (!loose?.isPossible() || !where) return refuse('invalid_number', full.reason);
    number = { e164: loose.number, country: loose.country ?? where.region, nationalNumber: loose.nationalNumber };
  }
  if (!allowed(number.country, policy)) {
    const list = policy.allowedCountries.length > 0 ? policy.allowedCountries.join(',') : `${policy.defaultRegion} (DEFAULT_REGION)`;
    return refuse('country_not_allowed', `${number.e164} is in ${number.country ?? 'no country'}, outside ALLOWED_COUNTRIES=${list}`);
  }
  return { ok: true, e164: number.e164, country: number.country as CountryCode | undefined, nationalNumber: number.nationalNumber };
}

/** `checkDialable`, throwing `DialRefused` instead; for paths that are about to dial. */
export function assertDialable(raw: string, policy: DialPolicy, options: CheckOptions = {}): string {
  const r = checkDialable(raw, policy, options);
  if (!r.ok) throw new DialRefused(r.kind, r.reason);
  return r.e164;
}

/**
 * The number a transfer destination dials: the number of `+…`/`tel:` entries, the user part of a
 * `sip:` URI when it is a number (`sip:911@carrier` reaches 911 just the same); else undefined.
 */
export function dialledNumberOf(destination: string): string | undefined {
  const d = destination.trim();
  const sip = /^sips?:([^@;]+)@/i.exec(d);
  const user = sip ? sip[1]! : /^sips?:/i.test(d) ? '' : d.replace(/^tel:/i, '');
  return /^\+?[\d\s().-]+$/.test(user) && /\d/.test(user) ? user : undefined;
}
