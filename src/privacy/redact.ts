/**
 * REDACT_PII: card numbers, US social security numbers, dates of birth and email addresses are
 * masked in what a call leaves behind (transcript, tool calls, userdata, messages), so neither the
 * store, the logs we write, nor the end-of-call webhook (built from the call record) carries them.
 *
 * Dates of birth are told from appointment dates by the year: a date in a past year is taken for a
 * birth date (appointments are booked forward, never years back). Phone numbers are kept: a
 * callback needs one, and the record already has the caller's.
 */
const EMAIL = /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g;
const SSN = /\b\d{3}[- ]\d{2}[- ]\d{4}\b/g;
/** 13–19 digits, with spaces or dashes between groups; kept unless the Luhn check passes. */
const CARD = /\b\d(?:[ -]?\d){12,18}\b/g;
const MONTHS = 'jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?';
const NUMERIC_DATE = /\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b|\b(\d{4})-(\d{2})-(\d{2})\b/g;
const WORDY_DATE = new RegExp(`\\b(?:(?:${MONTHS})\\.? \\d{1,2}(?:st|nd|rd|th)?,? (\\d{4})|\\d{1,2}(?:st|nd|rd|th)? (?:of )?(?:${MONTHS}),? (\\d{4}))\\b`, 'gi');

export const REDACTED = {
  card: '[card number]',
  ssn: '[SSN]',
  dob: '[date of birth]',
  email: '[email]',
} as const;

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function redactText(text: string, now: Date = new Date()): string {
  const thisYear = now.getUTCFullYear();
  const past = (year: string | undefined) => year !== undefined && Number(year) < thisYear && Number(year) > 1880;
  return text
    .replace(EMAIL, REDACTED.email)
    .replace(SSN, REDACTED.ssn)
    .replace(CARD, (m) => (luhn(m.replace(/\D/g, '')) ? REDACTED.card : m))
    .replace(NUMERIC_DATE, (m, _d, _mo, y1, y2) => (past(y1 ?? y2) ? REDACTED.dob : m))
    .replace(WORDY_DATE, (m, y1, y2) => (past(y1 ?? y2) ? REDACTED.dob : m));
}

/** Every string inside a JSON-like value, redacted; the shape is kept. */
export function redactDeep<T>(value: T, now: Date = new Date()): T {
  if (typeof value === 'string') return redactText(value, now) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, now)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, now)])) as T;
  }
  return value;
}
