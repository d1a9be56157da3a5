// Twirp wire helpers for the LiveKit API emulator: error codes, their HTTP
// statuses, and SIP-status errors shaped exactly like livekit-server sends
// them (so livekit-server-sdk turns them into a SipCallError).
//
// Wire facts this file encodes (checked against livekit-server, livekit/protocol
// and livekit-server-sdk 2.19.2):
// - Twirp errors are JSON `{"code","msg","meta"?}` with Content-Type exactly
//   `application/json`; the SDK only parses the body as JSON when the header is
//   that exact string.
// - A failed SIP dial carries `meta.sip_status_code` (decimal string) and
//   `meta.sip_status` (reason phrase) — livekit.SIPStatus.TwirpErrorMeta() —
//   plus `meta.error_details` (base64 google.rpc.Status). The SDK's
//   SipCallError reads `sip_status_code` / `sip_status` only.
// - The Twirp code follows SIPStatus.GRPCStatus(): 486/480/600/603/503/501 →
//   unavailable, 408/504 → deadline_exceeded, 400/404/484/485/420/421 →
//   invalid_argument, 401/403/407 → permission_denied, 487 → aborted, anything
//   else → internal.

import { randomBytes } from 'node:crypto';
import { SIPStatus, SIPStatusCode } from '@livekit/protocol';

export type TwirpCode =
  | 'canceled'
  | 'unknown'
  | 'invalid_argument'
  | 'malformed'
  | 'deadline_exceeded'
  | 'not_found'
  | 'bad_route'
  | 'already_exists'
  | 'permission_denied'
  | 'unauthenticated'
  | 'resource_exhausted'
  | 'failed_precondition'
  | 'aborted'
  | 'out_of_range'
  | 'unimplemented'
  | 'internal'
  | 'unavailable'
  | 'data_loss';

/** HTTP status Twirp uses for each error code (twirp spec, same as twirp-go). */
export const TWIRP_HTTP_STATUS: Readonly<Record<TwirpCode, number>> = {
  canceled: 408,
  unknown: 500,
  invalid_argument: 400,
  malformed: 400,
  deadline_exceeded: 408,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  resource_exhausted: 429,
  failed_precondition: 412,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  data_loss: 500,
};

export class TwirpError extends Error {
  readonly code: TwirpCode;
  readonly meta: Record<string, string>;

  constructor(code: TwirpCode, msg: string, meta: Record<string, string> = {}) {
    super(msg);
    this.name = 'TwirpError';
    this.code = code;
    this.meta = meta;
  }

  get httpStatus(): number {
    return TWIRP_HTTP_STATUS[this.code];
  }

  /** The JSON body twirp-go writes: `meta` is omitted when empty. */
  toBody(): { code: TwirpCode; msg: string; meta?: Record<string, string> } {
    const body: { code: TwirpCode; msg: string; meta?: Record<string, string> } = { code: this.code, msg: this.message };
    if (Object.keys(this.meta).length > 0) body.meta = { ...this.meta };
    return body;
  }
}

/** Reason phrases (RFC 3261 and friends) for the SIP codes a dial can end with. */
export const SIP_REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  183: 'Session Progress',
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  484: 'Address Incomplete',
  485: 'Ambiguous',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
};

export function sipReasonPhrase(code: number): string {
  return SIP_REASON_PHRASES[code] ?? SIPStatusCode[code] ?? `SIP ${code}`;
}

/** Twirp code livekit-server returns for a call that failed with this SIP status. */
export function twirpCodeForSipStatus(code: number): TwirpCode {
  switch (code) {
    case 487:
      return 'aborted';
    case 400:
    case 404:
    case 484:
    case 485:
    case 420:
    case 421:
      return 'invalid_argument';
    case 408:
    case 504:
      return 'deadline_exceeded';
    case 503:
    case 480:
    case 486:
    case 600:
    case 501:
    case 603:
      return 'unavailable';
    case 401:
    case 403:
    case 407:
      return 'permission_denied';
    default:
      return 'internal';
  }
}

/**
 * The error livekit-server returns when a SIP call (dial or transfer) fails
 * with a SIP final response.
 */
export function sipStatusError(code: number, reason?: string): TwirpError {
  const phrase = reason && reason.length > 0 ? reason : sipReasonPhrase(code);
  const twirpCode = twirpCodeForSipStatus(code);
  const message = `sip status ${code}: ${phrase}`;
  return new TwirpError(twirpCode, message, {
    sip_status_code: String(code),
    sip_status: phrase,
    error_details: encodeStatusDetails(grpcCodeFor(twirpCode), message, code, phrase),
  });
}

// --- google.rpc.Status{code, message, details:[Any(livekit.SIPStatus)]}, base64 ---
// Hand-encoded so the emulator does not need google.rpc protos; matches what
// xtwirp.WithDetailsFromStatus puts in meta.error_details.

const GRPC_CODES: Partial<Record<TwirpCode, number>> = {
  canceled: 1,
  unknown: 2,
  invalid_argument: 3,
  deadline_exceeded: 4,
  not_found: 5,
  already_exists: 6,
  permission_denied: 7,
  resource_exhausted: 8,
  failed_precondition: 9,
  aborted: 10,
  out_of_range: 11,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
  data_loss: 15,
  unauthenticated: 16,
};

function grpcCodeFor(code: TwirpCode): number {
  return GRPC_CODES[code] ?? 2;
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function lengthDelimited(field: number, bytes: Uint8Array): number[] {
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
}

function encodeStatusDetails(grpcCode: number, message: string, sipCode: number, phrase: string): string {
  const sipStatus = new SIPStatus({ code: sipCode as SIPStatusCode, status: phrase }).toBinary();
  const any = Uint8Array.from([
    ...lengthDelimited(1, new TextEncoder().encode('type.googleapis.com/livekit.SIPStatus')),
    ...lengthDelimited(2, sipStatus),
  ]);
  const status = Uint8Array.from([
    ...varint((1 << 3) | 0),
    ...varint(grpcCode),
    ...lengthDelimited(2, new TextEncoder().encode(message)),
    ...lengthDelimited(3, any),
  ]);
  return Buffer.from(status).toString('base64');
}

// --- ids ---

const ID_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** LiveKit-style id: `RM_`, `PA_`, `ST_`, `SDR_`, `AD_`, `SCL_` + 12 base57 chars. */
export function newId(prefix: string): string {
  const bytes = randomBytes(12);
  let out = prefix;
  for (const b of bytes) out += ID_ALPHABET[b % ID_ALPHABET.length];
  return out;
}
