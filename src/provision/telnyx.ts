/**
 * `switchboard setup telnyx`: the Telnyx side of telephony, with the official `telnyx` SDK
 * (API v2). The resources LiveKit's Telnyx guide uses, each found BY NAME (SIP_TRUNK_NAME):
 *
 *   - outbound voice profile — Telnyx routes (and bills) outbound calls through it;
 *   - FQDN connection        — one SIP connection for both directions. Inbound: calls come to
 *                              LiveKit as +E.164 numbers (what the LiveKit inbound trunk matches),
 *                              with G.722 offered first when SIP_WIDEBAND is on. Outbound: LiveKit
 *                              authenticates with SIP_OUTBOUND_USERNAME/PASSWORD (TELNYX_AUTH=
 *                              credentials), or by its address (TELNYX_AUTH=ip, a self-hosted
 *                              livekit/sip with a fixed IP: LiveKit Cloud has none);
 *   - FQDN                   — the host of LIVEKIT_SIP_URI, where Telnyx sends inbound calls (a
 *                              credential connection would only reach a registered phone, and
 *                              LiveKit does not register: so an FQDN connection, as LiveKit's
 *                              guide has it);
 *   - phone numbers          — SIP_INBOUND_NUMBERS and SIP_OUTBOUND_NUMBERS (or CALLER_ID) assigned
 *                              to the connection (HD voice on when SIP_WIDEBAND).
 *
 * Every resource is read first and written only when it differs, so a second run sends nothing.
 * Telnyx does not return a connection's password, so an existing one is left alone unless
 * `updatePassword` is asked for. TELNYX_API_BASE_URL points the SDK elsewhere (the emulator).
 */
import { isIP } from 'node:net';
import Telnyx from 'telnyx';
import { type Config, ConfigError } from '../config.js';
import { type Explained, type ProvisionResult, type Step, StepInputError, runSteps } from './plan.js';
import { carrierNumbers, checkPair, normaliseSipUri } from './validate.js';

export type TelnyxConfig = Pick<
  Config,
  | 'DEFAULT_REGION'
  | 'CALLER_ID'
  | 'SIP_TRUNK_NAME'
  | 'LIVEKIT_SIP_URI'
  | 'SIP_INBOUND_NUMBERS'
  | 'SIP_OUTBOUND_NUMBERS'
  | 'SIP_OUTBOUND_USERNAME'
  | 'SIP_OUTBOUND_PASSWORD'
  | 'SIP_OUTBOUND_TRANSPORT'
  | 'SIP_OUTBOUND_ADDRESS'
  | 'SIP_WIDEBAND'
  | 'TELNYX_API_KEY'
  | 'TELNYX_AUTH'
  | 'TELNYX_API_BASE_URL'
>;

export interface SetupTelnyxOptions {
  dryRun?: boolean;
  /** Also set an existing connection's password from SIP_OUTBOUND_PASSWORD. */
  updatePassword?: boolean;
}

/** Telnyx's SIP proxy: the host LiveKit's outbound trunk dials (SIP_OUTBOUND_ADDRESS). */
export const TELNYX_SIP_HOST = 'sip.telnyx.com';
const API = 'https://api.telnyx.com/v2';
const PLACEHOLDER_CONNECTION = '<id of the connection created above>';
const PLACEHOLDER_PROFILE = '<id of the outbound voice profile created above>';

/** Codecs offered to LiveKit on inbound calls, in order (Telnyx's names). */
export function inboundCodecs(wideband: boolean): string[] {
  return wideband ? ['G722', 'G711U', 'G711A'] : ['G711U', 'G711A'];
}

type Auth = { kind: 'credentials'; username: string; password: string } | { kind: 'ip' };

interface DesiredTelnyx {
  apiKey: string;
  host: string;
  port: number;
  numbers: string[];
  transport: 'UDP' | 'TCP' | 'TLS';
  auth: Auth;
  wideband: boolean;
}

/** Validates the settings (all problems at once, as a ConfigError: exit code 2). */
export function desiredTelnyx(config: TelnyxConfig): DesiredTelnyx {
  const problems: string[] = [];
  if (!config.TELNYX_API_KEY) problems.push('TELNYX_API_KEY: not set — a Telnyx API v2 key (Telnyx portal → Account settings → Keys & credentials → API keys)');
  const uri = normaliseSipUri(config.LIVEKIT_SIP_URI, 'LIVEKIT_SIP_URI', problems);
  const hostPort = uri ? /^sips?:([^:;]+)(?::(\d+))?/i.exec(uri) : null;
  const host = hostPort?.[1] ?? '';
  if (hostPort && isIP(host)) {
    problems.push(
      `LIVEKIT_SIP_URI: ${JSON.stringify(config.LIVEKIT_SIP_URI)} is an IP address — a Telnyx FQDN connection sends calls to a domain name: give the SIP host a DNS name (an A record) and use that`,
    );
  }
  const numbers = carrierNumbers(config, 'Telnyx', 'assign to the connection', problems);
  let auth: Auth = { kind: 'ip' };
  if (config.TELNYX_AUTH === 'credentials') {
    checkPair(config.SIP_OUTBOUND_USERNAME, config.SIP_OUTBOUND_PASSWORD, 'SIP_OUTBOUND_USERNAME', 'SIP_OUTBOUND_PASSWORD', problems);
    if (!config.SIP_OUTBOUND_USERNAME && !config.SIP_OUTBOUND_PASSWORD) {
      problems.push('SIP_OUTBOUND_USERNAME: not set — with TELNYX_AUTH=credentials the connection needs the username and password LiveKit dials with (or set TELNYX_AUTH=ip)');
    }
    // Telnyx's rules for connection credentials (API reference, credential fields).
    if (config.SIP_OUTBOUND_USERNAME && !/^[A-Za-z0-9]{4,32}$/.test(config.SIP_OUTBOUND_USERNAME)) {
      problems.push('SIP_OUTBOUND_USERNAME: Telnyx takes 4-32 letters and digits only (no spaces or other characters)');
    }
    if (config.SIP_OUTBOUND_PASSWORD && (config.SIP_OUTBOUND_PASSWORD.length < 8 || config.SIP_OUTBOUND_PASSWORD.length > 128)) {
      problems.push('SIP_OUTBOUND_PASSWORD: Telnyx takes 8 to 128 characters — choose a longer password');
    }
    if (config.SIP_OUTBOUND_USERNAME && config.SIP_OUTBOUND_PASSWORD) {
      auth = { kind: 'credentials', username: config.SIP_OUTBOUND_USERNAME, password: config.SIP_OUTBOUND_PASSWORD };
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const transport = config.SIP_OUTBOUND_TRANSPORT === 'udp' ? 'UDP' : config.SIP_OUTBOUND_TRANSPORT === 'tls' ? 'TLS' : 'TCP';
  return { apiKey: config.TELNYX_API_KEY!, host, port: Number(hostPort?.[2] ?? (transport === 'TLS' ? 5061 : 5060)), numbers, transport, auth, wideband: config.SIP_WIDEBAND };
}

/** Why a Telnyx call failed, in terms of what the operator set. */
export function explainTelnyxError(err: unknown): Explained {
  if (err instanceof Telnyx.APIConnectionError) {
    return { badInput: false, message: `cannot reach Telnyx (${err.message}) — check the network (and TELNYX_API_BASE_URL, if set)` };
  }
  if (err instanceof Telnyx.APIError) {
    const body = err.error as { errors?: { code?: string; title?: string; detail?: string; source?: { pointer?: string } }[] } | undefined;
    const first = body?.errors?.[0];
    const why = first ? `${first.title ?? ''}${first.detail ? `: ${first.detail}` : ''}${first.source?.pointer ? ` (${first.source.pointer})` : ''}${first.code ? `, code ${first.code}` : ''}` : err.message;
    if (err.status === 401) return { badInput: true, message: `Telnyx rejected TELNYX_API_KEY (401 ${why}) — create an API v2 key in the Telnyx portal (Keys & credentials)` };
    if (err.status === 403) return { badInput: true, message: `Telnyx refused (403 ${why}) — the account may be a trial account (SIP connections need a paid account) or the key lacks permission` };
    if (err.status !== undefined && err.status >= 400 && err.status < 500) return { badInput: true, message: `Telnyx refused the request (${err.status} ${why})` };
    return { badInput: false, message: `Telnyx answered ${err.status ?? '?'}: ${why}` };
  }
  return { badInput: false, message: err instanceof Error ? err.message : String(err) };
}

type Obj = Record<string, unknown>;

/** Every item of a Telnyx list (the SDK pages through them). */
async function all<T>(pages: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of pages) out.push(x);
  return out;
}

/** The fields of `want` whose values differ in `have` (one level into inbound/outbound). */
function differing(have: Obj, want: Obj, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(want)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...differing((have[k] as Obj | undefined) ?? {}, v as Obj, `${k}.`));
    else if (JSON.stringify(have[k]) !== JSON.stringify(v)) out.push(`${prefix}${k}`);
  }
  return out;
}

/**
 * Creates or updates what differs on Telnyx so it matches `config`. Resolves with what was done;
 * throws ConfigError (bad settings, before any request) or ProvisionError (a request failed; its
 * result lists what was and was not done).
 */
export async function setupTelnyx(config: TelnyxConfig, options: SetupTelnyxOptions = {}): Promise<ProvisionResult> {
  const want = desiredTelnyx(config);
  const dryRun = options.dryRun ?? false;
  const client = new Telnyx({ apiKey: want.apiKey, ...(config.TELNYX_API_BASE_URL ? { baseURL: config.TELNYX_API_BASE_URL } : {}) });
  const name = config.SIP_TRUNK_NAME;
  // Telnyx's name filters need three characters; shorter names are matched on the whole list.
  const nameFilter = name.length >= 3 ? { contains: name } : undefined;
  const state: { profileId?: string; connectionId?: string } = {};
  const steps: Step[] = [];

  steps.push({
    step: 'outbound voice profile',
    name,
    run: async (ctx) => {
      const found = (await all(client.outboundVoiceProfiles.list(nameFilter ? { filter: { name: nameFilter } } : {}))).filter((p) => p.name === name);
      if (found.length > 1) throw new Error(`${found.length} outbound voice profiles are named ${JSON.stringify(name)} (${found.map((p) => p.id).join(', ')}) — delete all but one in the Telnyx portal`);
      if (found[0]?.id) {
        state.profileId = found[0].id;
        return { status: 'unchanged', id: found[0].id };
      }
      ctx.plan(`POST ${API}/outbound_voice_profiles`, { name });
      if (ctx.dryRun) return { status: 'would create' };
      const created = await client.outboundVoiceProfiles.create({ name });
      state.profileId = created.data?.id;
      return { status: 'created', ...(state.profileId ? { id: state.profileId } : {}) };
    },
  });

  steps.push({
    step: 'FQDN connection',
    name,
    run: async (ctx) => {
      const profileId = state.profileId ?? PLACEHOLDER_PROFILE;
      const fields: Obj = {
        active: true,
        transport_protocol: want.transport,
        inbound: { ani_number_format: '+E.164', dnis_number_format: '+e164', codecs: inboundCodecs(want.wideband) },
        outbound: {
          outbound_voice_profile_id: profileId,
          ip_authentication_method: want.auth.kind === 'credentials' ? 'credential-authentication' : 'ip-authentication',
        },
        ...(want.auth.kind === 'credentials' ? { user_name: want.auth.username } : {}),
      };
      const note = `${want.transport}; codecs ${inboundCodecs(want.wideband).join(', ')}; outbound by ${want.auth.kind === 'credentials' ? `credentials (${want.auth.username})` : 'IP address'}`;
      const found = (await all(client.fqdnConnections.list(nameFilter ? { filter: { connection_name: nameFilter } } : {}))).filter((c) => c.connection_name === name);
      if (found.length > 1) throw new Error(`${found.length} FQDN connections are named ${JSON.stringify(name)} (${found.map((c) => c.id).join(', ')}) — delete all but one in the Telnyx portal, or set SIP_TRUNK_NAME to a unique name`);
      const existing = found[0];
      if (!existing?.id) {
        const body = { connection_name: name, ...fields, ...(want.auth.kind === 'credentials' ? { password: want.auth.password } : {}) };
        ctx.plan(`POST ${API}/fqdn_connections`, body);
        if (ctx.dryRun) return { status: 'would create', note };
        const created = await client.fqdnConnections.create(body as unknown as Parameters<typeof client.fqdnConnections.create>[0]);
        state.connectionId = created.data?.id;
        return { status: 'created', ...(state.connectionId ? { id: state.connectionId } : {}), note };
      }
      state.connectionId = existing.id;
      const changes = differing(existing as unknown as Obj, fields);
      const patch: Obj = {};
      for (const c of changes) {
        const top = c.split('.')[0]!;
        patch[top] = fields[top];
      }
      if (options.updatePassword && want.auth.kind === 'credentials') {
        patch.password = want.auth.password;
        changes.push('password');
      }
      const passwordNote = want.auth.kind === 'credentials' && !options.updatePassword ? '; Telnyx does not return passwords, so it was not compared (--update-password sets it)' : '';
      if (changes.length === 0) return { status: 'unchanged', id: existing.id, note: note + passwordNote };
      ctx.plan(`PATCH ${API}/fqdn_connections/${existing.id}`, patch);
      if (ctx.dryRun) return { status: 'would update', id: existing.id, changes, note };
      await client.fqdnConnections.update(existing.id, patch as Parameters<typeof client.fqdnConnections.update>[1]);
      return { status: 'updated', id: existing.id, changes, note: note + passwordNote };
    },
  });

  steps.push({
    step: 'FQDN',
    name: `${want.host}:${want.port}`,
    run: async (ctx) => {
      const connectionId = state.connectionId;
      const fqdns = connectionId ? await all(client.fqdns.list({ filter: { connection_id: connectionId } })) : [];
      const mine = fqdns.find((f) => f.fqdn?.toLowerCase() === want.host.toLowerCase() && Number(f.port ?? 5060) === want.port);
      const others = fqdns.filter((f) => f !== mine).map((f) => `${f.fqdn}:${f.port ?? ''}`);
      const note = others.length > 0 ? `the connection also sends calls to ${others.join(', ')} (left as they are)` : 'Telnyx sends inbound calls here';
      if (mine?.id) return { status: 'unchanged', id: mine.id, note };
      const body = { connection_id: connectionId ?? PLACEHOLDER_CONNECTION, fqdn: want.host, port: want.port, dns_record_type: 'a' };
      ctx.plan(`POST ${API}/fqdns`, body);
      if (ctx.dryRun || !connectionId) return { status: 'would create', note };
      const created = await client.fqdns.create(body);
      return { status: 'created', ...(created.data?.id ? { id: created.data.id } : {}), note };
    },
  });

  for (const number of want.numbers) {
    steps.push({
      step: 'phone number',
      name: number,
      run: async (ctx) => {
        const connectionId = state.connectionId;
        const owned = (await all(client.phoneNumbers.list({ filter: { phone_number: number } }))).find((p) => p.phone_number === number);
        if (!owned?.id) {
          throw new StepInputError(`${number} is not a number on this Telnyx account — buy or port it first, or correct SIP_INBOUND_NUMBERS / SIP_OUTBOUND_NUMBERS / CALLER_ID`);
        }
        if (owned.connection_id && owned.connection_id !== connectionId) {
          throw new StepInputError(`${number} is assigned to another connection (${owned.connection_id}) — unassign it there first, or set SIP_TRUNK_NAME to that connection's name`);
        }
        const patch: { connection_id?: string; hd_voice_enabled?: boolean } = {};
        if (owned.connection_id !== connectionId || !connectionId) patch.connection_id = connectionId ?? PLACEHOLDER_CONNECTION;
        if (want.wideband && owned.hd_voice_enabled !== true) patch.hd_voice_enabled = true;
        const changes = Object.keys(patch);
        if (changes.length === 0) return { status: 'unchanged', id: owned.id };
        ctx.plan(`PATCH ${API}/phone_numbers/${owned.id}`, patch);
        const isNew = patch.connection_id !== undefined && !owned.connection_id;
        if (ctx.dryRun || !connectionId) return { status: isNew ? 'would create' : 'would update', id: owned.id, ...(isNew ? {} : { changes }) };
        await client.phoneNumbers.update(owned.id, patch);
        return { status: isNew ? 'created' : 'updated', id: owned.id, ...(isNew ? { note: 'assigned: its calls now go to LiveKit' } : { changes }) };
      },
    });
  }

  const result = await runSteps(steps, {
    provider: 'telnyx',
    target: config.TELNYX_API_BASE_URL ?? API,
    dryRun,
    secrets: [want.apiKey, want.auth.kind === 'credentials' ? want.auth.password : ''],
    explain: explainTelnyxError,
  });

  if (state.connectionId) result.outputs.connectionId = state.connectionId;
  result.outputs.SIP_OUTBOUND_ADDRESS = TELNYX_SIP_HOST;
  result.outputs.SIP_OUTBOUND_TRANSPORT = want.transport.toLowerCase();
  if (dryRun) result.next.push('Dry run: nothing was changed. Run again without --dry-run to apply these requests.');
  result.next.push(`Telnyx sends calls to ${want.numbers.join(', ')} to ${want.host}:${want.port}; \`switchboard setup sip\` creates the LiveKit inbound trunk and dispatch rule that answer them.`);
  const address = config.SIP_OUTBOUND_ADDRESS === TELNYX_SIP_HOST ? ' (already set)' : config.SIP_OUTBOUND_ADDRESS ? ` (it is ${config.SIP_OUTBOUND_ADDRESS} now)` : '';
  result.next.push(
    want.auth.kind === 'credentials'
      ? `For outbound calls set SIP_OUTBOUND_ADDRESS=${TELNYX_SIP_HOST}${address} and SIP_OUTBOUND_TRANSPORT=${want.transport.toLowerCase()}, keep SIP_OUTBOUND_USERNAME/PASSWORD, and run \`switchboard setup sip\`.`
      : `For outbound calls set SIP_OUTBOUND_ADDRESS=${TELNYX_SIP_HOST}${address} and SIP_OUTBOUND_TRANSPORT=${want.transport.toLowerCase()}, leave SIP_OUTBOUND_USERNAME/PASSWORD unset (Telnyx accepts ${want.host}'s addresses), and run \`switchboard setup sip\`.`,
  );
  if (want.wideband) result.next.push('SIP_WIDEBAND=true: the worker runs phone calls at 16 kHz; LiveKit SIP picks G.722 whenever Telnyx offers it.');
  return result;
}
