/**
 * Where a call may be transferred (TRANSFER_ALLOWLIST), and how an entry is dialled: the transfer
 * desk's (transfer.ts) side of a destination. The model only ever sees the entries as strings
 * (TransferControl.destinations); matching what it asks for, and turning an entry into what
 * LiveKit dials, happens here, beside the desk that does the dialling.
 */

/**
 * The destinations a call may be transferred to. Entries are E.164 numbers, `tel:` or `sip:` URIs
 * (config checks the syntax); a request matches an entry whatever spacing or `tel:` prefix it has.
 */
export class TransferAllowList {
  readonly entries: readonly string[];

  constructor(entries: readonly string[]) {
    this.entries = [...new Set(entries)];
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }

  /** The allowed entry a request names, or undefined. No request means the first entry. */
  match(requested: string | undefined): string | undefined {
    if (requested === undefined || requested.trim() === '') return this.entries[0];
    const want = canonical(requested);
    return this.entries.find((e) => canonical(e) === want);
  }
}

/** One spelling per destination: `tel:+1555…` and `+1 (555) …` are the same; SIP URIs compare case-insensitively. */
function canonical(dest: string): string {
  const d = dest.trim();
  if (/^sips?:/i.test(d)) return d.toLowerCase();
  const digits = d.replace(/^tel:/i, '').replace(/[\s().-]/g, '');
  return `tel:${digits}`;
}

/** What LiveKit's TransferSIPParticipant wants in `transfer_to`: a `tel:` or `sip:` URI. */
export function transferUri(entry: string): string {
  return /^(sips?|tel):/i.test(entry) ? entry : `tel:${entry}`;
}

/** The E.164 number of an entry, for dialling a person (warm transfer); undefined for SIP URIs. */
export function transferNumber(entry: string): string | undefined {
  const n = entry.replace(/^tel:/i, '');
  return /^\+[1-9]\d{6,14}$/.test(n) ? n : undefined;
}
