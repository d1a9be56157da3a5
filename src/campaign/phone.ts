/**
 * Phone numbers in, E.164 out: libphonenumber-js with full metadata (so a number must be valid
 * for its country, not just the right length), written numbers without a country code read in the
 * configured DEFAULT_REGION.
 */
import {
  type CountryCode,
  parsePhoneNumberFromString,
  validatePhoneNumberLength,
} from 'libphonenumber-js/max';

export type Normalised =
  | { ok: true; e164: string; country: CountryCode | undefined; nationalNumber: string }
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
  return { ok: true, e164: parsed.number, country: parsed.country, nationalNumber: parsed.nationalNumber };
}
