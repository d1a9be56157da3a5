/**
 * `switchboard setup twilio`: the Twilio side of telephony, with the official `twilio` SDK.
 *
 * An Elastic SIP trunk found BY FRIENDLY NAME (SIP_TRUNK_NAME), made to match the configuration:
 *   - trunk            — created with a termination domain (TWILIO_TRUNK_DOMAIN, or
 *                        "<name>-<last 8 of the account SID>.pstn.twilio.com"): that domain is
 *                        the host LiveKit dials out through (SIP_OUTBOUND_ADDRESS); and with
 *                        call transfer on (TransferMode), without which Twilio refuses the
 *                        SIP REFER of every cold transfer;
 *   - origination URL  — LIVEKIT_SIP_URI, where Twilio sends calls to our numbers;
 *   - credential list  — "<name>-livekit" with SIP_OUTBOUND_USERNAME/PASSWORD, attached to the
 *                        trunk for termination (LiveKit authenticates with them when dialling);
 *   - phone numbers    — SIP_INBOUND_NUMBERS and SIP_OUTBOUND_NUMBERS (or CALLER_ID), attached.
 *
 * Every resource is looked up first: one that is missing is created, and one that differs from the
 * configuration (the termination domain, the transfer mode, a disabled origination URL) is
 * updated, so a second run sends neither a creating nor an updating request. Twilio never returns a credential's password, so an existing credential is
 * left alone unless `updatePassword` is asked for.
 *
 * TWILIO_API_BASE_URL sends every request to a stand-in instead (tests, a recording proxy):
 * https://<product>.twilio.com/<path> becomes <base>/<product>/<path>.
 */
import twilio from 'twilio';
import { type Config, ConfigError } from '../config.js';
import { type Explained, type ProvisionResult, type Step, StepInputError, runSteps } from './plan.js';
import { carrierNumbers, checkPair, normaliseSipUri } from './validate.js';

type RequestClient = InstanceType<typeof twilio.RequestClient>;
type RequestOptions = Parameters<RequestClient['request']>[0];

export type TwilioConfig = Pick<
  Config,
  | 'DEFAULT_REGION'
  | 'CALLER_ID'
  | 'SIP_TRUNK_NAME'
  | 'LIVEKIT_SIP_URI'
  | 'SIP_INBOUND_NUMBERS'
  | 'SIP_OUTBOUND_ADDRESS'
  | 'SIP_OUTBOUND_NUMBERS'
  | 'SIP_OUTBOUND_USERNAME'
  | 'SIP_OUTBOUND_PASSWORD'
  | 'TWILIO_ACCOUNT_SID'
  | 'TWILIO_AUTH_TOKEN'
  | 'TWILIO_TRUNK_DOMAIN'
  | 'TWILIO_API_BASE_URL'
  | 'TRANSFER_ALLOWLIST'
>;

export interface SetupTwilioOptions {
  dryRun?: boolean;
  /** Also set an existing credential's password from SIP_OUTBOUND_PASSWORD. */
  updatePassword?: boolean;
}

const PLACEHOLDER_TRUNK = '<sid of the trunk created above>';
const PLACEHOLDER_LIST = '<sid of the credential list created above>';

/** Sends https://<product>.twilio.com/<path> to <base>/<product>/<path>. */
export function redirectingHttpClient(base: string): RequestClient {
  const root = base.replace(/\/+$/, '');
  class Redirecting extends twilio.RequestClient {
    override request<TData>(opts: RequestOptions & { data?: TData }) {
      const uri = opts.uri.replace(/^https:\/\/([a-z0-9-]+)\.twilio\.com(?=\/|$)/, `${root}/$1`);
      return super.request<TData>({ ...opts, uri });
    }
  }
  return new Redirecting();
}

/** Twilio's rule for SIP credential passwords (Credential resource docs). */
function twilioPasswordProblem(password: string): string | undefined {
  if (password.length >= 12 && /\d/.test(password) && /[a-z]/.test(password) && /[A-Z]/.test(password)) return undefined;
  return 'SIP_OUTBOUND_PASSWORD: Twilio requires at least 12 characters with a digit, a lowercase and an uppercase letter — choose a longer password';
}

/** "my_Trunk" + AC…1234abcd → "my-trunk-1234abcd.pstn.twilio.com" (domains are global on Twilio). */
export function defaultTrunkDomain(trunkName: string, accountSid: string): string {
  const slug = trunkName.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'switchboard';
  return `${slug}-${accountSid.slice(-8).toLowerCase()}.pstn.twilio.com`;
}

/** A trunk's TransferMode, weakest first (Twilio's Trunk resource). */
const TRANSFER_MODES = ['disable-all', 'sip-only', 'enable-all'] as const;
export type TransferMode = (typeof TRANSFER_MODES)[number];

/**
 * The transfer setting cold transfers (SIP REFER) to TRANSFER_ALLOWLIST need: `enable-all` when a
 * destination is a phone number (Twilio bills the PSTN leg), `sip-only` when all are sip: URIs
 * (and when the list is empty: transfers stay possible to SIP, never to the phone network).
 */
export function wantedTransferMode(allowlist: readonly string[]): TransferMode {
  return allowlist.some((d) => !/^sip:/i.test(d)) ? 'enable-all' : 'sip-only';
}

/** Whether `current` already allows what `wanted` does (a wider setting is left alone). */
function transferCovers(current: string | undefined, wanted: TransferMode): boolean {
  return TRANSFER_MODES.indexOf((current ?? 'disable-all') as TransferMode) >= TRANSFER_MODES.indexOf(wanted);
}

interface DesiredTwilio {
  accountSid: string;
  authToken: string;
  sipUri: string;
  domain: string;
  numbers: string[];
  transferMode: TransferMode;
  credential?: { username: string; password: string };
}

/** Validates the settings (all problems at once, as a ConfigError: exit code 2). */
export function desiredTwilio(config: TwilioConfig): DesiredTwilio {
  const problems: string[] = [];
  if (!config.TWILIO_ACCOUNT_SID) problems.push('TWILIO_ACCOUNT_SID: not set — your Twilio account SID (AC…, Twilio console → Account info)');
  if (!config.TWILIO_AUTH_TOKEN) problems.push('TWILIO_AUTH_TOKEN: not set — the auth token next to the account SID in the Twilio console');
  const sipUri = normaliseSipUri(config.LIVEKIT_SIP_URI, 'LIVEKIT_SIP_URI', problems);
  const numbers = carrierNumbers(config, 'Twilio', 'attach to the trunk', problems);
  checkPair(config.SIP_OUTBOUND_USERNAME, config.SIP_OUTBOUND_PASSWORD, 'SIP_OUTBOUND_USERNAME', 'SIP_OUTBOUND_PASSWORD', problems);
  if (config.SIP_OUTBOUND_PASSWORD) {
    const p = twilioPasswordProblem(config.SIP_OUTBOUND_PASSWORD);
    if (p) problems.push(p);
  }
  if (config.SIP_OUTBOUND_USERNAME && !/^[A-Za-z0-9._@+-]{1,32}$/.test(config.SIP_OUTBOUND_USERNAME)) {
    problems.push('SIP_OUTBOUND_USERNAME: at most 32 letters, digits and . _ @ + - characters');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const accountSid = config.TWILIO_ACCOUNT_SID!;
  return {
    accountSid,
    authToken: config.TWILIO_AUTH_TOKEN!,
    sipUri: sipUri!,
    domain: config.TWILIO_TRUNK_DOMAIN ?? defaultTrunkDomain(config.SIP_TRUNK_NAME, accountSid),
    numbers,
    transferMode: wantedTransferMode(config.TRANSFER_ALLOWLIST),
    ...(config.SIP_OUTBOUND_USERNAME && config.SIP_OUTBOUND_PASSWORD
      ? { credential: { username: config.SIP_OUTBOUND_USERNAME, password: config.SIP_OUTBOUND_PASSWORD } }
      : {}),
  };
}

/** Why a Twilio call failed, in terms of what the operator set. */
export function explainTwilioError(err: unknown): Explained {
  const e = err as { status?: number; code?: number | string; message?: string; moreInfo?: string };
  if (err instanceof twilio.RestException || (typeof e.status === 'number' && typeof e.message === 'string' && !('isAxiosError' in (err as object)))) {
    const more = e.moreInfo ? ` (${e.moreInfo})` : '';
    if (e.status === 401) {
      return {
        badInput: true,
        message:
          `Twilio rejected TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN (401${e.code ? `, code ${e.code}` : ''}: ${e.message}) — ` +
          'copy both from the Twilio console (Account info); an API key SID (SK…) is not an account SID',
      };
    }
    if (e.status === 403) return { badInput: true, message: `Twilio refused (403: ${e.message}) — the account may not have Elastic SIP Trunking enabled${more}` };
    if (e.status !== undefined && e.status >= 400 && e.status < 500) {
      return { badInput: true, message: `Twilio refused the request (${e.status}${e.code ? `, code ${e.code}` : ''}): ${e.message}${more}` };
    }
    return { badInput: false, message: `Twilio answered ${e.status ?? '?'}: ${e.message}${more}` };
  }
  const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  if (typeof code === 'string' && /^E[A-Z]+/.test(code)) {
    return { badInput: false, message: `cannot reach Twilio (${code}) — check the network (and TWILIO_API_BASE_URL, if set)` };
  }
  return { badInput: false, message: err instanceof Error ? err.message : String(err) };
}

/**
 * Creates what is missing on Twilio so it matches `config`. Resolves with what was done; throws
 * ConfigError (bad settings, before any request) or ProvisionError (a request failed; its result
 * lists what was and was not done).
 */
export async function setupTwilio(config: TwilioConfig, options: SetupTwilioOptions = {}): Promise<ProvisionResult> {
  const want = desiredTwilio(config);
  const dryRun = options.dryRun ?? false;
  const client = twilio(want.accountSid, want.authToken, {
    ...(config.TWILIO_API_BASE_URL ? { httpClient: redirectingHttpClient(config.TWILIO_API_BASE_URL) } : {}),
  });
  const trunking = 'https://trunking.twilio.com/v1';
  const api = `https://api.twilio.com/2010-04-01/Accounts/${want.accountSid}`;
  const state: { trunkSid?: string; domain?: string; listSid?: string; listIsNew?: boolean; trunkNumbers?: Map<string, string> } = {};
  const name = config.SIP_TRUNK_NAME;
  const listName = `${name}-livekit`;
  const steps: Step[] = [];

  steps.push({
    step: 'trunk',
    name,
    run: async (ctx) => {
      const found = (await client.trunking.v1.trunks.list({ pageSize: 1000 })).filter((t) => t.friendlyName === name);
      if (found.length > 1) {
        throw new Error(`${found.length} trunks are named ${JSON.stringify(name)} (${found.map((t) => t.sid).join(', ')}) — delete all but one in the Twilio console, or set SIP_TRUNK_NAME to a unique name`);
      }
      const trunk = found[0];
      const transferNote = `call transfer ${want.transferMode} (SIP REFER)`;
      if (!trunk) {
        const body = { FriendlyName: name, DomainName: want.domain, TransferMode: want.transferMode };
        ctx.plan(`POST ${trunking}/Trunks`, body);
        state.domain = want.domain;
        const note = `termination domain ${want.domain}; ${transferNote}`;
        if (ctx.dryRun) return { status: 'would create', note };
        const created = await client.trunking.v1.trunks.create({ friendlyName: name, domainName: want.domain, transferMode: want.transferMode });
        state.trunkSid = created.sid;
        return { status: 'created', id: created.sid, note };
      }
      state.trunkSid = trunk.sid;
      // An existing domain is kept unless TWILIO_TRUNK_DOMAIN asks for another: the derived one
      // is only a default, and changing a domain breaks whatever dials it.
      const wanted = config.TWILIO_TRUNK_DOMAIN ?? (trunk.domainName ? trunk.domainName : want.domain);
      state.domain = wanted;
      const update: { DomainName?: string; TransferMode?: TransferMode } = {};
      if (trunk.domainName !== wanted) update.DomainName = wanted;
      // A wider transfer setting someone chose (enable-all over sip-only) is left as it is.
      if (!transferCovers(trunk.transferMode, want.transferMode)) update.TransferMode = want.transferMode;
      const changes = [...(update.DomainName ? ['domainName'] : []), ...(update.TransferMode ? ['transferMode'] : [])];
      const note = `termination domain ${wanted}; call transfer ${update.TransferMode ?? trunk.transferMode} (SIP REFER)`;
      if (changes.length === 0) return { status: 'unchanged', id: trunk.sid, note };
      ctx.plan(`POST ${trunking}/Trunks/${trunk.sid}`, update);
      if (ctx.dryRun) return { status: 'would update', id: trunk.sid, changes, note };
      await client.trunking.v1.trunks(trunk.sid).update({
        ...(update.DomainName ? { domainName: update.DomainName } : {}),
        ...(update.TransferMode ? { transferMode: update.TransferMode } : {}),
      });
      return { status: 'updated', id: trunk.sid, changes, note };
    },
  });

  steps.push({
    step: 'origination URL',
    name: want.sipUri,
    run: async (ctx) => {
      const trunkSid = state.trunkSid;
      const urls = trunkSid ? await client.trunking.v1.trunks(trunkSid).originationUrls.list({ pageSize: 1000 }) : [];
      const mine = urls.find((u) => u.sipUrl.toLowerCase() === want.sipUri.toLowerCase());
      const others = urls.filter((u) => u !== mine).map((u) => u.sipUrl);
      const note = others.length > 0 ? `the trunk also sends calls to ${others.join(', ')} (left as they are)` : undefined;
      if (mine && trunkSid) {
        if (mine.enabled) return { status: 'unchanged', id: mine.sid, ...(note ? { note } : {}) };
        ctx.plan(`POST ${trunking}/Trunks/${trunkSid}/OriginationUrls/${mine.sid}`, { Enabled: 'true' });
        if (ctx.dryRun) return { status: 'would update', id: mine.sid, changes: ['enabled'] };
        await client.trunking.v1.trunks(trunkSid).originationUrls(mine.sid).update({ enabled: true });
        return { status: 'updated', id: mine.sid, changes: ['enabled'], ...(note ? { note } : {}) };
      }
      const body = { FriendlyName: `${name} to LiveKit`, SipUrl: want.sipUri, Priority: '10', Weight: '10', Enabled: 'true' };
      ctx.plan(`POST ${trunking}/Trunks/${trunkSid ?? PLACEHOLDER_TRUNK}/OriginationUrls`, body);
      if (ctx.dryRun || !trunkSid) return { status: 'would create', ...(note ? { note } : {}) };
      const created = await client.trunking.v1.trunks(trunkSid).originationUrls.create({
        friendlyName: body.FriendlyName,
        sipUrl: want.sipUri,
        priority: 10,
        weight: 10,
        enabled: true,
      });
      return { status: 'created', id: created.sid, ...(note ? { note } : {}) };
    },
  });

  const credential = want.credential;
  if (credential) {
    steps.push({
      step: 'credential list',
      name: listName,
      run: async (ctx) => {
        const found = (await client.sip.credentialLists.list({ pageSize: 1000 })).filter((l) => l.friendlyName === listName);
        if (found.length > 1) {
          throw new Error(`${found.length} credential lists are named ${JSON.stringify(listName)} (${found.map((l) => l.sid).join(', ')}) — delete all but one in the Twilio console`);
        }
        if (found[0]) {
          state.listSid = found[0].sid;
          return { status: 'unchanged', id: found[0].sid };
        }
        state.listIsNew = true;
        ctx.plan(`POST ${api}/SIP/CredentialLists.json`, { FriendlyName: listName });
        if (ctx.dryRun) return { status: 'would create' };
        const created = await client.sip.credentialLists.create({ friendlyName: listName });
        state.listSid = created.sid;
        return { status: 'created', id: created.sid };
      },
    });

    steps.push({
      step: 'credential',
      name: credential.username,
      run: async (ctx) => {
        const listSid = state.listSid;
        const existing =
          listSid && !state.listIsNew
            ? (await client.sip.credentialLists(listSid).credentials.list({ pageSize: 1000 })).find((c) => c.username === credential.username)
            : undefined;
        if (existing && listSid) {
          if (!options.updatePassword) {
            return {
              status: 'unchanged',
              id: existing.sid,
              note: 'Twilio never returns passwords, so it was not compared; --update-password sets it from SIP_OUTBOUND_PASSWORD',
            };
          }
          ctx.plan(`POST ${api}/SIP/CredentialLists/${listSid}/Credentials/${existing.sid}.json`, { Password: credential.password });
          if (ctx.dryRun) return { status: 'would update', id: existing.sid, changes: ['password'] };
          await client.sip.credentialLists(listSid).credentials(existing.sid).update({ password: credential.password });
          return { status: 'updated', id: existing.sid, changes: ['password'] };
        }
        ctx.plan(`POST ${api}/SIP/CredentialLists/${listSid ?? PLACEHOLDER_LIST}/Credentials.json`, {
          Username: credential.username,
          Password: credential.password,
        });
        if (ctx.dryRun || !listSid) return { status: 'would create' };
        const created = await client.sip.credentialLists(listSid).credentials.create(credential);
        return { status: 'created', id: created.sid };
      },
    });

    steps.push({
      step: 'trunk credential list',
      name: listName,
      run: async (ctx) => {
        const { trunkSid, listSid } = state;
        const attached =
          trunkSid && listSid && !state.listIsNew
            ? (await client.trunking.v1.trunks(trunkSid).credentialsLists.list({ pageSize: 1000 })).some((l) => l.sid === listSid)
            : false;
        if (attached) return { status: 'unchanged', id: listSid };
        ctx.plan(`POST ${trunking}/Trunks/${trunkSid ?? PLACEHOLDER_TRUNK}/CredentialLists`, { CredentialListSid: listSid ?? PLACEHOLDER_LIST });
        if (ctx.dryRun || !trunkSid || !listSid) return { status: 'would create', note: 'termination calls must authenticate with it' };
        await client.trunking.v1.trunks(trunkSid).credentialsLists.create({ credentialListSid: listSid });
        return { status: 'created', id: listSid, note: 'termination calls must authenticate with it' };
      },
    });
  }

  for (const number of want.numbers) {
    steps.push({
      step: 'phone number',
      name: number,
      run: async (ctx) => {
        const trunkSid = state.trunkSid;
        if (trunkSid && !state.trunkNumbers) {
          const attached = await client.trunking.v1.trunks(trunkSid).phoneNumbers.list({ pageSize: 1000 });
          state.trunkNumbers = new Map(attached.map((p) => [p.phoneNumber, p.sid]));
        }
        const already = state.trunkNumbers?.get(number);
        if (already) return { status: 'unchanged', id: already };
        const owned = (await client.incomingPhoneNumbers.list({ phoneNumber: number, pageSize: 20 })).find((p) => p.phoneNumber === number);
        if (!owned) {
          throw new StepInputError(
            `${number} is not a number in Twilio account ${want.accountSid} — buy or port it first, or correct SIP_INBOUND_NUMBERS / SIP_OUTBOUND_NUMBERS / CALLER_ID`,
          );
        }
        if (owned.trunkSid && owned.trunkSid !== trunkSid) {
          throw new StepInputError(
            `${number} is attached to another trunk (${owned.trunkSid}) — remove it there first, or set SIP_TRUNK_NAME to that trunk's name`,
          );
        }
        ctx.plan(`POST ${trunking}/Trunks/${trunkSid ?? PLACEHOLDER_TRUNK}/PhoneNumbers`, { PhoneNumberSid: owned.sid });
        const note = 'its Voice URL settings stop applying: calls now follow the trunk';
        if (ctx.dryRun || !trunkSid) return { status: 'would create', id: owned.sid, note };
        await client.trunking.v1.trunks(trunkSid).phoneNumbers.create({ phoneNumberSid: owned.sid });
        return { status: 'created', id: owned.sid, note };
      },
    });
  }

  const result = await runSteps(steps, {
    provider: 'twilio',
    target: config.TWILIO_API_BASE_URL ?? 'https://trunking.twilio.com, https://api.twilio.com',
    dryRun,
    secrets: [want.authToken, credential?.password ?? ''],
    explain: explainTwilioError,
  });

  if (state.trunkSid) result.outputs.trunkSid = state.trunkSid;
  if (state.domain) result.outputs.terminationDomain = state.domain;
  if (state.domain && credential) result.outputs.SIP_OUTBOUND_ADDRESS = state.domain;
  if (dryRun) result.next.push('Dry run: nothing was changed. Run again without --dry-run to apply these requests.');
  result.next.push(`Twilio sends calls to ${want.numbers.join(', ')} to ${want.sipUri}; \`switchboard setup sip\` creates the LiveKit inbound trunk and dispatch rule that answer them.`);
  if (credential && state.domain) {
    const now = config.SIP_OUTBOUND_ADDRESS === state.domain ? ' (already set)' : config.SIP_OUTBOUND_ADDRESS ? ` (it is ${config.SIP_OUTBOUND_ADDRESS} now)` : '';
    result.next.push(
      `For outbound calls set SIP_OUTBOUND_ADDRESS=${state.domain}${now}, keep SIP_OUTBOUND_USERNAME/PASSWORD as they are, and run \`switchboard setup sip\`: LiveKit's outbound trunk then dials through this Twilio trunk.`,
    );
  } else if (!credential) {
    result.next.push('Outbound calls were not set up: set SIP_OUTBOUND_USERNAME and SIP_OUTBOUND_PASSWORD (the credentials LiveKit will dial with) and run this again.');
  }
  return result;
}
