/**
 * Phone numbers in, E.164 out: the one place numbers are parsed, for the worker (caller ID), the
 * campaign importer, the do-not-call list and `switchboard call`. libphonenumber-js with full
 * metadata, so a number must be valid for its country, not just the right length; numbers written
 * without a country code are read in the configured DEFAULT_REGION.
 */
import {
  type CountryCode,
  type NumberType,
  parsePhoneNumberFromString,
  validatePhoneNumberLength,
} from 'libphonenumber-js/max';

export type { CountryCode };

export type Normalised =
  | { ok: true; e164: string; country: CountryCode | undefined; nationalNumber: string; type: NumberType }
  | { ok: false; reason: string };

const LENGTH_REASONS: Record<string, string> = {
  NOT_A_NUMBER: 'not a phone number',
  INVALID_COUNTRY: 'no country code and no default region',
  TOO_SHORT: 'too short',
  TOO_LONG: 'too long',
  INVALID_LENGTH: 'wrong length',
};

export function normalisePhone(raw: string, defaultRegion: string): Normalised {
  const text = raw.trim();
  if (text === '') return { ok: false, reason: 'missing phone number' };
  const region = defaultRegion as CountryCode;
  const parsed = parsePhoneNumberFromString(text, region);
  if (!parsed) {
    const why = validatePhoneNumberLength(text, region);
    return { ok: false, reason: `invalid phone number ${JSON.stringify(text)}: ${LENGTH_REASONS[why ?? ''] ?? 'not a phone number'}` };
  }
  if (!parsed.isValid()) {
    const why = validatePhoneNumberLength(text, region);
    const detail = why ? LENGTH_REASONS[why] ?? why : `not a valid ${parsed.country ?? `+${parsed.countryCallingCode}`} number`;
    return { ok: false, reason: `invalid phone number ${JSON.stringify(text)}: ${detail}` };
  }
  return { ok: true, e164: parsed.number, country: parsed.country, nationalNumber: parsed.nationalNumber, type: parsed.getType() };
}

/**
 * The caller's number as the carrier presented it (LiveKit's `sip.phoneNumber` attribute), or
 * null. Withheld caller ID arrives as words ("anonymous", "Restricted", "unknown") or nothing;
 * those, and anything else that is not a phone number, are null: a caller without a number must
 * never share an identity with every other such caller. A number with the right length is kept
 * even where the numbering plan has no such range (carriers and test trunks present those).
 */
export function callerIdNumber(raw: string | undefined, defaultRegion: string): string | null {
  if (!raw || !/\d/.test(raw)) return null;
  const parsed = parsePhoneNumberFromString(raw.trim(), defaultRegion as CountryCode);
  return parsed?.isPossible() ? parsed.number : null;
}

/** An E.164 string that identifies one line: what a stored phone must look like to own anything by it. */
export function isE164(value: string | null | undefined): value is string {
  return typeof value === 'string' && /^\+[1-9]\d{6,14}$/.test(value);
}
