/**
 * Input checks shared by the setup commands. Every problem names the variable and says what to
 * write instead; callers collect them all and throw one ConfigError (exit code 2), so an
 * operator fixes everything in one pass.
 */
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';

/**
 * Checks that every entry is a valid E.164 number ("+" country code, digits, nothing else).
 * A number written some other way is not guessed at: the problem shows the E.164 form it would
 * be in `region`, for the operator to confirm.
 */
export function checkE164(field: string, numbers: readonly string[], region: string, problems: string[]): void {
  for (const raw of numbers) {
    const parsed = parsePhoneNumberFromString(raw);
    if (parsed && parsed.number === raw && parsed.isValid()) continue;
    if (parsed && parsed.number === raw) {
      problems.push(
        `${field}: ${JSON.stringify(raw)} is not a valid phone number (no such number range for +${parsed.countryCallingCode}) — check the digits`,
      );
      continue;
    }
    const guess = parsePhoneNumberFromString(raw, region as CountryCode);
    const hint =
      guess && guess.isValid()
        ? `write it as ${guess.number} (that is how it reads with DEFAULT_REGION=${region})`
        : 'write it as + country code and number, digits only, e.g. +15105550100';
    problems.push(`${field}: ${JSON.stringify(raw)} is not an E.164 number — ${hint}`);
  }
}

/** A username and password must come as a pair. */
export function checkPair(user: string | undefined, pass: string | undefined, userVar: string, passVar: string, problems: string[]): void {
  if (user && !pass) problems.push(`${passVar}: not set, but ${userVar} is — set both, or neither`);
  if (pass && !user) problems.push(`${userVar}: not set, but ${passVar} is — set both, or neither`);
}

/**
 * The LiveKit SIP endpoint as a SIP URI. Accepts "sip:host[:port]", "sips:…" or a bare
 * "host[:port]" (given "sip:" in front). Returns undefined and records a problem otherwise.
 */
export function normaliseSipUri(raw: string | undefined, field: string, problems: string[]): string | undefined {
  const why =
    `the LiveKit SIP endpoint your carrier sends calls to: sip:<project-id>.sip.livekit.cloud for LiveKit Cloud ` +
    `(Project settings), or sip:<public-ip-or-host>:5060 for a self-hosted livekit/sip`;
  if (!raw || raw.trim() === '') {
    problems.push(`${field}: not set — ${why}`);
    return undefined;
  }
  const value = raw.trim();
  const withScheme = /^sips?:/i.test(value) ? value : `sip:${value}`;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || !/^sips?:[A-Za-z0-9.-]+(:\d{1,5})?(;[^\s]*)?$/i.test(withScheme)) {
    problems.push(`${field}: ${JSON.stringify(value)} is not a SIP URI — ${why}`);
    return undefined;
  }
  return withScheme;
}

/** An outbound trunk address is a host[:port], not a URI. */
export function checkSipHost(raw: string, field: string, problems: string[]): void {
  if (/^sips?:/i.test(raw) || raw.includes('@') || raw.includes(';') || raw.includes('/')) {
    problems.push(
      `${field}: ${JSON.stringify(raw)} must be a host name (optionally :port) without sip:, user@ or ;params — e.g. example.pstn.twilio.com or sip.telnyx.com`,
    );
  } else if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(raw)) {
    problems.push(`${field}: ${JSON.stringify(raw)} is not a host name — e.g. example.pstn.twilio.com or sip.telnyx.com`);
  }
}

/** The settings a carrier's numbers come from. */
export interface CarrierNumberSettings {
  DEFAULT_REGION: string;
  CALLER_ID?: string | undefined;
  SIP_INBOUND_NUMBERS: readonly string[];
  SIP_OUTBOUND_NUMBERS: readonly string[];
}

/**
 * The numbers a carrier trunk must carry: SIP_INBOUND_NUMBERS, and SIP_OUTBOUND_NUMBERS (or
 * CALLER_ID when that is unset), each once. Records a problem for a malformed number or for none
 * at all; `carrier` and `attach` ("attach to the trunk") word that problem.
 */
export function carrierNumbers(config: CarrierNumberSettings, carrier: string, attach: string, problems: string[]): string[] {
  checkE164('SIP_INBOUND_NUMBERS', config.SIP_INBOUND_NUMBERS, config.DEFAULT_REGION, problems);
  checkE164('SIP_OUTBOUND_NUMBERS', config.SIP_OUTBOUND_NUMBERS, config.DEFAULT_REGION, problems);
  const outbound = config.SIP_OUTBOUND_NUMBERS.length > 0 ? config.SIP_OUTBOUND_NUMBERS : config.CALLER_ID ? [config.CALLER_ID] : [];
  const numbers = [...new Set([...config.SIP_INBOUND_NUMBERS, ...outbound])];
  if (numbers.length === 0) {
    problems.push(`SIP_INBOUND_NUMBERS: not set — the ${carrier} numbers (E.164, e.g. +15105550100) to ${attach}; SIP_OUTBOUND_NUMBERS and CALLER_ID are included too`);
  }
  return numbers;
}
