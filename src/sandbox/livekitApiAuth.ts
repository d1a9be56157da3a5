// Request authentication and grant checks for the LiveKit API emulator,
// modelled on livekit-server's pkg/service/auth.go:
//
// - No Authorization header (and no `access_token` query parameter): the
//   request goes on with no grants, and every RPC then fails its grant check.
// - A header that does not start with "Bearer ", an undecodable token, an
//   unknown API key (the JWT `iss`), a bad signature or an expired token: the
//   auth middleware answers HTTP 401 with a plain-text body (not Twirp JSON),
//   so the SDK's ServerError has status 401 and no `code`.
// - A valid token that lacks the grant an RPC needs: Twirp `unauthenticated`
//   (HTTP 401) with msg "permissions denied" — livekit-server wraps grant
//   failures with twirpAuthError, not permission_denied.
//
// `authErrors: 'twirp'` switches to the stricter, idealised shape some specs
// describe (401 `unauthenticated` JSON for bad tokens, 403 `permission_denied`
// for missing grants).

import { TokenVerifier } from 'livekit-server-sdk';
import { TwirpError } from './livekitApiTwirp.js';

export type AuthErrorStyle = 'livekit' | 'twirp';

export interface VideoGrantClaims {
  roomCreate?: boolean;
  roomList?: boolean;
  roomAdmin?: boolean;
  roomJoin?: boolean;
  roomRecord?: boolean;
  ingressAdmin?: boolean;
  room?: string;
  destinationRoom?: string;
  [key: string]: unknown;
}

export interface SipGrantClaims {
  admin?: boolean;
  call?: boolean;
  [key: string]: unknown;
}

/** What the emulator keeps of a verified token (never the token itself). */
export interface AuthSummary {
  apiKey: string;
  identity: string;
  video?: VideoGrantClaims;
  sip?: SipGrantClaims;
  /** Token expiry, seconds since epoch. */
  exp?: number;
}

export type AuthOutcome =
  | { ok: true; auth: AuthSummary | null }
  | { ok: false; status: 401; message: string };

const BEARER = 'Bearer ';

function decodePayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const json: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return json && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function asObject<T>(value: unknown): T | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as T) : undefined;
}

/**
 * Verifies the request's token against the known API keys, the way
 * livekit-server's APIKeyAuthMiddleware does. `keys` maps API key → secret.
 */
export async function authenticate(
  authorization: string | undefined,
  queryToken: string | null,
  keys: ReadonlyMap<string, string>,
): Promise<AuthOutcome> {
  let token: string;
  if (authorization !== undefined && authorization !== '') {
    if (!authorization.startsWith(BEARER)) {
      return { ok: false, status: 401, message: `invalid authorization header. Must start with ${BEARER}` };
    }
    token = authorization.slice(BEARER.length);
  } else {
    token = queryToken ?? '';
  }
  if (token === '') return { ok: true, auth: null };

  const unverified = decodePayload(token);
  if (!unverified) return { ok: false, status: 401, message: 'invalid authorization token' };
  const apiKey = typeof unverified.iss === 'string' ? unverified.iss : '';
  const secret = keys.get(apiKey);
  if (secret === undefined) return { ok: false, status: 401, message: `invalid API key: ${apiKey}` };

  let payload: Record<string, unknown>;
  try {
    payload = (await new TokenVerifier(apiKey, secret).verify(token)) as Record<string, unknown>;
  } catch (err) {
    // livekit-server echoes the token here; the emulator never repeats it.
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, status: 401, message: `invalid token: <redacted>, error: ${reason}` };
  }
  const auth: AuthSummary = {
    apiKey,
    identity: typeof payload.sub === 'string' ? payload.sub : '',
  };
  const video = asObject<VideoGrantClaims>(payload.video);
  const sip = asObject<SipGrantClaims>(payload.sip);
  if (video) auth.video = { ...video };
  if (sip) auth.sip = { ...sip };
  if (typeof payload.exp === 'number') auth.exp = payload.exp;
  return { ok: true, auth };
}

/** Grant checks, one per livekit-server Ensure*Permission helper. */
export class GrantChecker {
  readonly #auth: AuthSummary | null;
  readonly #style: AuthErrorStyle;

  constructor(auth: AuthSummary | null, style: AuthErrorStyle) {
    this.#auth = auth;
    this.#style = style;
  }

  #deny(need: string): never {
    if (this.#style === 'twirp') {
      throw new TwirpError('permission_denied', `permissions denied: token lacks ${need}`);
    }
    throw new TwirpError('unauthenticated', 'permissions denied');
  }

  /** video.roomCreate — CreateRoom, DeleteRoom. */
  create(): void {
    if (!this.#auth?.video?.roomCreate) this.#deny('video.roomCreate');
  }

  /** video.roomList — ListRooms. */
  list(): void {
    if (!this.#auth?.video?.roomList) this.#deny('video.roomList');
  }

  /** video.roomAdmin with video.room equal to the room — participant and dispatch calls. */
  admin(room: string): void {
    const video = this.#auth?.video;
    if (!video?.roomAdmin || (video.room ?? '') !== room) this.#deny(`video.roomAdmin for room "${room}"`);
  }

  /** sip.admin — trunk and dispatch-rule management. */
  sipAdmin(): void {
    if (!this.#auth?.sip?.admin) this.#deny('sip.admin');
  }

  /** sip.call — CreateSIPParticipant, TransferSIPParticipant. */
  sipCall(): void {
    if (!this.#auth?.sip?.call) this.#deny('sip.call');
  }
}
