/**
 * `switchboard setup sip`: the LiveKit side of telephony, made to match the configuration.
 *
 * Three resources, each found BY NAME so running it again changes nothing:
 *   1. inbound trunk  "<SIP_TRUNK_NAME>-inbound"  — which numbers / addresses / credentials may call in;
 *   2. outbound trunk "<SIP_TRUNK_NAME>-outbound" — where and how LiveKit dials out (its id is
 *      what SIP_OUTBOUND_TRUNK_ID must be);
 *   3. dispatch rule  "<SIP_TRUNK_NAME>-dispatch" — one new room per caller ("<ROOM_PREFIX>_<caller>_<random>")
 *      with `roomConfig.agents` dispatching AGENT_NAME, for the inbound trunk only.
 *
 * Updates replace the whole resource (the SDK's "replace" action) starting from what the server
 * holds, so fields this command does not manage (headers, Krisp, …) are kept.
 *
 * Passwords: a server may not return them (LiveKit Cloud need not), so each trunk's metadata
 * carries an HMAC of username+password keyed with the API secret. A changed password changes
 * the HMAC, which is how a re-run notices it; the HMAC says nothing to anyone without the secret,
 * who could read the trunk anyway.
 */
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import {
  CreateSIPDispatchRuleRequest,
  CreateSIPInboundTrunkRequest,
  CreateSIPOutboundTrunkRequest,
  RoomAgentDispatch,
  RoomConfiguration,
  SIPDispatchRule,
  SIPDispatchRuleIndividual,
  SIPDispatchRuleInfo,
  SIPInboundTrunkInfo,
  SIPOutboundTrunkInfo,
  SIPTransport,
  UpdateSIPDispatchRuleRequest,
  UpdateSIPInboundTrunkRequest,
  UpdateSIPOutboundTrunkRequest,
} from '@livekit/protocol';
import { ServerError, SipClient } from 'livekit-server-sdk';
import { type Config, ConfigError } from '../config.js';
import { apiUrl } from '../livekit/roomApi.js';
import { type Explained, type ProvisionResult, type Step, type StepContext, runSteps, sameSet } from './plan.js';
import { checkE164, checkPair, checkSipHost } from './validate.js';

export type LiveKitSipConfig = Pick<
  Config,
  | 'LIVEKIT_URL'
  | 'LIVEKIT_API_KEY'
  | 'LIVEKIT_API_SECRET'
  | 'AGENT_NAME'
  | 'DEFAULT_REGION'
  | 'CALLER_ID'
  | 'SIP_OUTBOUND_TRUNK_ID'
  | 'SIP_TRUNK_NAME'
  | 'ROOM_PREFIX'
  | 'LIVEKIT_SIP_URI'
  | 'SIP_INBOUND_NUMBERS'
  | 'SIP_INBOUND_ALLOWED_ADDRESSES'
  | 'SIP_INBOUND_USERNAME'
  | 'SIP_INBOUND_PASSWORD'
  | 'SIP_OUTBOUND_ADDRESS'
  | 'SIP_OUTBOUND_NUMBERS'
  | 'SIP_OUTBOUND_TRANSPORT'
  | 'SIP_OUTBOUND_USERNAME'
  | 'SIP_OUTBOUND_PASSWORD'
>;

export interface SetupSipOptions {
  dryRun?: boolean;
}

/** Marks resources this command manages (trunk metadata). */
export const MANAGED_BY = 'switchboard setup sip';

const TRANSPORTS: Record<LiveKitSipConfig['SIP_OUTBOUND_TRANSPORT'], SIPTransport> = {
  auto: SIPTransport.SIP_TRANSPORT_AUTO,
  udp: SIPTransport.SIP_TRANSPORT_UDP,
  tcp: SIPTransport.SIP_TRANSPORT_TCP,
  tls: SIPTransport.SIP_TRANSPORT_TLS,
};

/** The names setup gives (and finds) the resources by. */
export function resourceNames(trunkName: string): { inbound: string; outbound: string; rule: string } {
  return { inbound: `${trunkName}-inbound`, outbound: `${trunkName}-outbound`, rule: `${trunkName}-dispatch` };
}

interface Desired {
  inbound?: { numbers: string[]; allowedAddresses: string[]; authUsername: string; authPassword: string };
  outbound?: { address: string; numbers: string[]; transport: SIPTransport; authUsername: string; authPassword: string };
}

/** Validates the settings (all problems at once, as a ConfigError: exit code 2) and says what should exist. */
export function desiredSip(config: LiveKitSipConfig): Desired {
  const problems: string[] = [];
  const out: Desired = {};

  const inNumbers = config.SIP_INBOUND_NUMBERS;
  const allowed = config.SIP_INBOUND_ALLOWED_ADDRESSES;
  checkE164('SIP_INBOUND_NUMBERS', inNumbers, config.DEFAULT_REGION, problems);
  for (const a of allowed) {
    const [ip, bits, extra] = a.split('/');
    const family = isIP(ip ?? '');
    const maxBits = family === 6 ? 128 : 32;
    const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits);
    if (family === 0 || !bitsOk || extra !== undefined) {
      problems.push(
        `SIP_INBOUND_ALLOWED_ADDRESSES: ${JSON.stringify(a)} is not an IP address or CIDR — list your carrier's signalling addresses, e.g. 192.0.2.10,198.51.100.0/24`,
      );
    }
  }
  checkPair(config.SIP_INBOUND_USERNAME, config.SIP_INBOUND_PASSWORD, 'SIP_INBOUND_USERNAME', 'SIP_INBOUND_PASSWORD', problems);
  if (inNumbers.length > 0 || allowed.length > 0 || config.SIP_INBOUND_USERNAME || config.SIP_INBOUND_PASSWORD) {
    out.inbound = {
      numbers: inNumbers,
      allowedAddresses: allowed,
      authUsername: config.SIP_INBOUND_USERNAME ?? '',
      authPassword: config.SIP_INBOUND_PASSWORD ?? '',
    };
  }

  const address = config.SIP_OUTBOUND_ADDRESS;
  const outNumbers = config.SIP_OUTBOUND_NUMBERS.length > 0 ? config.SIP_OUTBOUND_NUMBERS : config.CALLER_ID ? [config.CALLER_ID] : [];
  checkPair(config.SIP_OUTBOUND_USERNAME, config.SIP_OUTBOUND_PASSWORD, 'SIP_OUTBOUND_USERNAME', 'SIP_OUTBOUND_PASSWORD', problems);
  if (address) {
    checkSipHost(address, 'SIP_OUTBOUND_ADDRESS', problems);
    if (outNumbers.length === 0) {
      problems.push(
        'SIP_OUTBOUND_NUMBERS: not set — the carrier numbers outbound calls may show, e.g. +15105550100 (CALLER_ID is used when this is unset, and it is unset too)',
      );
    }
    checkE164('SIP_OUTBOUND_NUMBERS', config.SIP_OUTBOUND_NUMBERS, config.DEFAULT_REGION, problems);
    out.outbound = {
      address,
      numbers: outNumbers,
      transport: TRANSPORTS[config.SIP_OUTBOUND_TRANSPORT],
      authUsername: config.SIP_OUTBOUND_USERNAME ?? '',
      authPassword: config.SIP_OUTBOUND_PASSWORD ?? '',
    };
  } else if (config.SIP_OUTBOUND_NUMBERS.length > 0 || config.SIP_OUTBOUND_USERNAME) {
    problems.push(
      'SIP_OUTBOUND_ADDRESS: not set, but other SIP_OUTBOUND_* settings are — set it to your carrier\'s termination host, e.g. <name>.pstn.twilio.com or sip.telnyx.com',
    );
  }

  if (!out.inbound && !out.outbound && problems.length === 0) {
    problems.push(
      'nothing to set up: set SIP_INBOUND_NUMBERS to receive calls, and/or SIP_OUTBOUND_ADDRESS and SIP_OUTBOUND_NUMBERS to place them (see .env.example)',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}

/** Trunk metadata: who manages it, and a keyed fingerprint of its credentials. */
export function trunkMetadata(apiSecret: string, username: string, password: string): string {
  const meta: Record<string, string> = { managedBy: MANAGED_BY };
  if (username || password) {
    meta.auth = createHmac('sha256', apiSecret).update(`${username}\u0000${password}`).digest('base64url').slice(0, 22);
  }
  return JSON.stringify(meta);
}

function inboundChanges(cur: SIPInboundTrunkInfo, want: SIPInboundTrunkInfo): string[] {
  const changes: string[] = [];
  if (!sameSet(cur.numbers, want.numbers)) changes.push('numbers');
  if (!sameSet(cur.allowedAddresses, want.allowedAddresses)) changes.push('allowedAddresses');
  return [...changes, ...credentialChanges(cur, want)];
}

function outboundChanges(cur: SIPOutboundTrunkInfo, want: SIPOutboundTrunkInfo): string[] {
  const changes: string[] = [];
  if (cur.address !== want.address) changes.push('address');
  if (!sameSet(cur.numbers, want.numbers)) changes.push('numbers');
  if (cur.transport !== want.transport) changes.push('transport');
  return [...changes, ...credentialChanges(cur, want)];
}

/**
 * Both kinds of trunk: the username, and the password through the metadata's HMAC (a server may
 * not return the password; when it does, it is compared too).
 */
function credentialChanges(cur: Trunk, want: Trunk): string[] {
  const changes: string[] = [];
  if (cur.authUsername !== want.authUsername) changes.push('authUsername');
  if (cur.metadata !== want.metadata || (cur.authPassword !== '' && cur.authPassword !== want.authPassword)) changes.push('auth/metadata');
  return changes;
}

function ruleChanges(cur: SIPDispatchRuleInfo, want: SIPDispatchRuleInfo): string[] {
  const changes: string[] = [];
  const c = cur.rule?.rule;
  const w = want.rule?.rule;
  if (c?.case !== w?.case || (c?.case === 'dispatchRuleIndividual' && w?.case === 'dispatchRuleIndividual' && (c.value.roomPrefix !== w.value.roomPrefix || c.value.pin !== w.value.pin))) {
    changes.push('rule');
  }
  if (!sameSet(cur.trunkIds, want.trunkIds)) changes.push('trunkIds');
  const agents = (i: SIPDispatchRuleInfo) => (i.roomConfig?.agents ?? []).map((a) => `${a.agentName}\u0000${a.metadata}`);
  if (!sameSet(agents(cur), agents(want)) || agents(cur).length !== agents(want).length) changes.push('roomConfig.agents');
  if (cur.hidePhoneNumber !== want.hidePhoneNumber) changes.push('hidePhoneNumber');
  return changes;
}

function single<T extends { name: string }>(items: T[], name: string, kind: string, id: (t: T) => string): T | undefined {
  const found = items.filter((t) => t.name === name);
  if (found.length > 1) {
    throw new Error(
      `${found.length} ${kind}s are named ${JSON.stringify(name)} (${found.map(id).join(', ')}) — setup finds resources by name, so delete all but one (lk sip … delete <id>) and run it again`,
    );
  }
  return found[0];
}

/** Why a LiveKit API call failed, in terms of what the operator set. */
export function explainLiveKitError(err: unknown, url: string): Explained {
  if (err instanceof ServerError) {
    const status = err.status;
    if (status === 401) {
      return {
        badInput: true,
        message:
          `LiveKit at ${url} rejected the credentials (401: ${err.message}) — LIVEKIT_API_KEY and LIVEKIT_API_SECRET must be a key pair that server knows ` +
          `(livekit.yaml "keys:" for a self-hosted server, the project's API keys for LiveKit Cloud)`,
      };
    }
    if (status === 403) {
      return { badInput: true, message: `LiveKit refused (403: ${err.message}) — the API key needs the SIP admin permission` };
    }
    if (status === 404 && err.code !== 'not_found') {
      return {
        badInput: true,
        message: `LiveKit at ${url} does not serve the SIP API (404) — check LIVEKIT_URL points at a LiveKit server (ws(s)://host:7880 or the Cloud URL)`,
      };
    }
    if (status === 400 || err.code === 'invalid_argument') {
      return { badInput: true, message: `LiveKit refused the request: ${err.message}` };
    }
    return { badInput: false, message: `LiveKit answered ${status}${err.code ? ` ${err.code}` : ''}: ${err.message}` };
  }
  if (err instanceof Error && err.name === 'TimeoutError') {
    return { badInput: false, message: `LiveKit at ${url} did not answer in time — is LIVEKIT_URL right, and the server healthy?` };
  }
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (err instanceof TypeError && cause) {
    return {
      badInput: false,
      message: `cannot reach LiveKit at ${url} (${cause.code ?? cause.message ?? err.message}) — is the server running, and is LIVEKIT_URL right?`,
    };
  }
  return { badInput: false, message: err instanceof Error ? err.message : String(err) };
}

/**
 * Creates or updates the trunks and the dispatch rule so they match `config`. Resolves with what
 * was done; throws ConfigError (bad settings, before any request) or ProvisionError (a request
 * failed; its result lists what was and was not done).
 */
export async function setupLiveKitSip(config: LiveKitSipConfig, options: SetupSipOptions = {}): Promise<ProvisionResult> {
  const want = desiredSip(config);
  const dryRun = options.dryRun ?? false;
  const url = apiUrl(config.LIVEKIT_URL);
  const sip = new SipClient(url, config.LIVEKIT_API_KEY, config.LIVEKIT_API_SECRET);
  const names = resourceNames(config.SIP_TRUNK_NAME);
  const state: { inboundId?: string; outboundId?: string; ruleId?: string } = {};
  const steps: Step[] = [];

  const inbound = want.inbound;
  if (inbound) {
    steps.push(
      trunkStep(
        {
          kind: 'inbound trunk',
          info: SIPInboundTrunkInfo,
          list: () => sip.listSipInboundTrunk(),
          changes: inboundChanges,
          createCall: 'SIP.CreateSIPInboundTrunk',
          createBody: (trunk) => new CreateSIPInboundTrunkRequest({ trunk }).toJson(),
          create: (t) =>
            sip.createSipInboundTrunk(t.name, t.numbers, {
              allowedAddresses: t.allowedAddresses,
              authUsername: t.authUsername,
              authPassword: t.authPassword,
              metadata: t.metadata,
            }),
          updateCall: 'SIP.UpdateSIPInboundTrunk',
          updateBody: (sipTrunkId, next) => new UpdateSIPInboundTrunkRequest({ sipTrunkId, action: { case: 'replace', value: next } }).toJson(),
          update: (id, next) => sip.updateSipInboundTrunk(id, next),
        },
        names.inbound,
        inbound,
        config.LIVEKIT_API_SECRET,
        (id) => (state.inboundId = id),
      ),
    );
  }

  const outbound = want.outbound;
  if (outbound) {
    steps.push(
      trunkStep(
        {
          kind: 'outbound trunk',
          info: SIPOutboundTrunkInfo,
          list: () => sip.listSipOutboundTrunk(),
          changes: outboundChanges,
          createCall: 'SIP.CreateSIPOutboundTrunk',
          createBody: (trunk) => new CreateSIPOutboundTrunkRequest({ trunk }).toJson(),
          create: (t) =>
            sip.createSipOutboundTrunk(t.name, t.address, t.numbers, {
              transport: t.transport,
              authUsername: t.authUsername,
              authPassword: t.authPassword,
              metadata: t.metadata,
            }),
          updateCall: 'SIP.UpdateSIPOutboundTrunk',
          updateBody: (sipTrunkId, next) => new UpdateSIPOutboundTrunkRequest({ sipTrunkId, action: { case: 'replace', value: next } }).toJson(),
          update: (id, next) => sip.updateSipOutboundTrunk(id, next),
        },
        names.outbound,
        outbound,
        config.LIVEKIT_API_SECRET,
        (id) => (state.outboundId = id),
      ),
    );
  }

  if (inbound) {
    steps.push({
      step: 'dispatch rule',
      name: names.rule,
      run: async (ctx) => {
        // In a dry run the inbound trunk may not exist yet; the plan shows where its id goes.
        const trunkId = state.inboundId ?? '<id of the inbound trunk created above>';
        const rule = new SIPDispatchRule({
          rule: { case: 'dispatchRuleIndividual', value: new SIPDispatchRuleIndividual({ roomPrefix: config.ROOM_PREFIX, pin: '' }) },
        });
        const roomConfig = new RoomConfiguration({ agents: [new RoomAgentDispatch({ agentName: config.AGENT_NAME })] });
        const desired = new SIPDispatchRuleInfo({ name: names.rule, rule, trunkIds: [trunkId], roomConfig, hidePhoneNumber: false });
        const current = single(await sip.listSipDispatchRule(), names.rule, 'dispatch rule', (r) => r.sipDispatchRuleId);
        if (!current) {
          ctx.plan(
            'SIP.CreateSIPDispatchRule',
            new CreateSIPDispatchRuleRequest({ rule, trunkIds: [trunkId], hidePhoneNumber: false, name: names.rule, roomConfig }).toJson(),
          );
          if (ctx.dryRun) return { status: 'would create' };
          const created = await sip.createSipDispatchRule(
            { type: 'individual', roomPrefix: config.ROOM_PREFIX },
            { name: names.rule, trunkIds: [trunkId], hidePhoneNumber: false, roomConfig },
          );
          state.ruleId = created.sipDispatchRuleId;
          return { status: 'created', id: created.sipDispatchRuleId };
        }
        state.ruleId = current.sipDispatchRuleId;
        const changes = ruleChanges(current, desired);
        if (changes.length === 0) return { status: 'unchanged', id: current.sipDispatchRuleId };
        const next = current.clone();
        Object.assign(next, { rule, trunkIds: [trunkId], roomConfig: roomConfig.clone(), hidePhoneNumber: false });
        return replace(
          ctx,
          'SIP.UpdateSIPDispatchRule',
          new UpdateSIPDispatchRuleRequest({ sipDispatchRuleId: current.sipDispatchRuleId, action: { case: 'replace', value: next } }).toJson(),
          current.sipDispatchRuleId,
          changes,
          () => sip.updateSipDispatchRule(current.sipDispatchRuleId, next),
        );
      },
    });
  }

  const secrets = [config.LIVEKIT_API_SECRET, config.SIP_INBOUND_PASSWORD ?? '', config.SIP_OUTBOUND_PASSWORD ?? ''];
  const result = await runSteps(steps, {
    provider: 'livekit',
    target: url,
    dryRun,
    secrets,
    explain: (err) => explainLiveKitError(err, url),
  });
  addNextSteps(result, config, state, want);
  return result;
}

type Trunk = SIPInboundTrunkInfo | SIPOutboundTrunkInfo;
/** The fields setup manages on a trunk, as `desiredSip` says them; every other field is the server's. */
type TrunkFields = NonNullable<Desired['inbound']> | NonNullable<Desired['outbound']>;

/** What differs between the two kinds of trunk step: the message type and the SIP API calls. */
interface TrunkApi<T extends Trunk, F extends TrunkFields> {
  kind: 'inbound trunk' | 'outbound trunk';
  info: new (init: F & { name: string; metadata: string }) => T;
  list(): Promise<T[]>;
  changes(cur: T, want: T): string[];
  createCall: string;
  createBody(trunk: T): unknown;
  create(trunk: T): Promise<T>;
  updateCall: string;
  updateBody(id: string, next: T): unknown;
  update(id: string, next: T): Promise<unknown>;
}

/**
 * One trunk, found by name: created when missing, left alone when it matches, otherwise replaced
 * by the server's trunk with the managed fields (and the metadata) set, so fields setup does not
 * manage are kept. `found` learns the trunk's id as soon as it is known.
 */
function trunkStep<T extends Trunk, F extends TrunkFields>(
  api: TrunkApi<T, F>,
  name: string,
  fields: F,
  apiSecret: string,
  found: (id: string) => void,
): Step {
  return {
    step: api.kind,
    name,
    run: async (ctx) => {
      const metadata = trunkMetadata(apiSecret, fields.authUsername, fields.authPassword);
      const desired = new api.info({ ...fields, name, metadata });
      const current = single(await api.list(), name, api.kind, (t) => t.sipTrunkId);
      if (!current) {
        ctx.plan(api.createCall, api.createBody(desired));
        if (ctx.dryRun) return { status: 'would create' };
        const created = await api.create(desired);
        found(created.sipTrunkId);
        return { status: 'created', id: created.sipTrunkId };
      }
      found(current.sipTrunkId);
      const changes = api.changes(current, desired);
      if (changes.length === 0) return { status: 'unchanged', id: current.sipTrunkId };
      const next: T = Object.assign(current.clone() as T, fields, { metadata });
      return replace(ctx, api.updateCall, api.updateBody(current.sipTrunkId, next), current.sipTrunkId, changes, () =>
        api.update(current.sipTrunkId, next),
      );
    },
  };
}

async function replace(
  ctx: StepContext,
  call: string,
  body: unknown,
  id: string,
  changes: string[],
  send: () => Promise<unknown>,
): Promise<{ status: 'would update' | 'updated'; id: string; changes: string[] }> {
  ctx.plan(call, body);
  if (ctx.dryRun) return { status: 'would update', id, changes };
  await send();
  return { status: 'updated', id, changes };
}

function addNextSteps(result: ProvisionResult, config: LiveKitSipConfig, state: { inboundId?: string; outboundId?: string }, want: Desired): void {
  if (state.inboundId) result.outputs.inboundTrunkId = state.inboundId;
  if (state.outboundId) result.outputs.SIP_OUTBOUND_TRUNK_ID = state.outboundId;
  if (result.dryRun) result.next.push('Dry run: nothing was changed. Run again without --dry-run to apply these requests.');
  if (want.outbound) {
    if (!state.outboundId) {
      result.next.push('After a real run, set SIP_OUTBOUND_TRUNK_ID to the outbound trunk id it prints: outbound calls dial through that trunk.');
    } else if (config.SIP_OUTBOUND_TRUNK_ID === state.outboundId) {
      result.next.push(`SIP_OUTBOUND_TRUNK_ID is already ${state.outboundId}, the outbound trunk: outbound calls will dial through it.`);
    } else {
      const was = config.SIP_OUTBOUND_TRUNK_ID ? ` (it is ${config.SIP_OUTBOUND_TRUNK_ID} now)` : '';
      result.next.push(`Set SIP_OUTBOUND_TRUNK_ID=${state.outboundId} in .env${was}: outbound calls dial through the outbound trunk.`);
    }
  }
  if (want.inbound) {
    const numbers = want.inbound.numbers.length > 0 ? want.inbound.numbers.join(', ') : 'the trunk';
    result.next.push(
      `Calls to ${numbers} get a room of their own ("${config.ROOM_PREFIX}_<caller>_<random>") with agent "${config.AGENT_NAME}" dispatched; ` +
        `keep the worker running (npm start) and have your carrier send calls to ${config.LIVEKIT_SIP_URI ?? 'your LiveKit SIP endpoint (LIVEKIT_SIP_URI)'}.`,
    );
  }
}
