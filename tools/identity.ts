/**
 * The second factor (IDENTITY_CHECK): does the name a caller gives match the name on a
 * booking? Forgiving about how it was heard (case, accents, punctuation, a middle name said or
 * not), strict about the names themselves: every name on the booking must be in what they said.
 */
function words(name: string): string[] {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\s]/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

export function identityMatches(given: string, onBooking: string): boolean {
  const want = words(onBooking);
  const have = new Set(words(given));
  return want.length > 0 && want.every((w) => have.has(w));
}

/** Which second factor a deployment asks for (IDENTITY_CHECK). */
export type IdentityCheck = 'name' | 'dob' | 'off';

/** What a caller gave for verify_identity. */
export interface GivenFactor {
  name?: string;
  /** YYYY-MM-DD, as the model writes the date the caller said. */
  dateOfBirth?: string;
}

/**
 * Does what the caller gave prove the booking is theirs? With `dob`, a booking that holds a date
 * of birth is proved only by that date (a name is easy to learn, a birth date less so); one made
 * without it (before the clinic asked, or by staff) falls back to its name, so nobody is locked out
 * of their own appointment.
 */
export function factorMatches(booking: { name: string; dateOfBirth: string | null }, given: GivenFactor, check: IdentityCheck): boolean {
  if (check === 'dob' && booking.dateOfBirth !== null) {
    return given.dateOfBirth !== undefined && given.dateOfBirth === booking.dateOfBirth;
  }
  return given.name !== undefined && identityMatches(given.name, booking.name);
}

/**
 * A date of birth as the tools take it: a real calendar date, in the past, of someone alive. The
 * model turns "March fourth, nineteen eighty" into YYYY-MM-DD; this catches what it gets wrong
 * (February 30th, a year heard as 2080) before it is stored or compared.
 */
export function dateOfBirthProblem(value: string, now: Date): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return `date of birth "${value}" is not YYYY-MM-DD`;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) {
    return `date of birth ${value} is not a real date`;
  }
  if (date.getTime() > now.getTime()) return `date of birth ${value} is in the future`;
  if (now.getUTCFullYear() - y > 130) return `date of birth ${value} is more than 130 years ago`;
  return null;
}
