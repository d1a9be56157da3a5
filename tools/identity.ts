/**
 * The second factor (IDENTITY_CHECK=name): does the name a caller gives match the name on a
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
