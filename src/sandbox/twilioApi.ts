/**
 * Emulates the few Twilio REST endpoints `switchboard setup twilio` uses, so the real `twilio`
 * SDK can be driven without the internet (TWILIO_API_BASE_URL=<emulator url> maps
 * https://<product>.twilio.com/<path> to <url>/<product>/<path>).
 *
 * Modelled after Twilio's documented resources: Basic auth (account SID : auth token, else 401
 * code 20003), form-encoded POST bodies, snake_case JSON, trunking v1 list pages with `meta`,
 * 2010-04-01 list pages with `*_page_uri`. A trunk's call transfer setting (`TransferMode`:
 * disable-all, the default, enable-all or sip-only; `TransferCallerId`: from-transferee, the
 * default, or from-transferor) is kept and validated as the Trunk resource documents it.
 * Every request is recorded (never the auth header).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EmulatorServer } from './emulatorServer.js';

export interface TwilioRequest {
  method: string;
  /** "trunking" or "api". */
  product: string;
  /** Path after the product, e.g. "/v1/Trunks". */
  path: string;
  query: Record<string, string>;
  form: Record<string, string>;
  status: number;
}

type Json = Record<string, unknown>;

const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');

const TRANSFER_MODES = ['disable-all', 'enable-all', 'sip-only'];
const TRANSFER_CALLER_IDS = ['from-transferee', 'from-transferor'];

/** TransferMode / TransferCallerId of a trunk create or update; Twilio answers 400 to other values. */
function applyTransfer(trunk: Json, form: Record<string, string>): void {
  const invalid = (field: string, value: string, allowed: string[]) =>
    Object.assign(new Error(`${field} must be one of ${allowed.join(', ')}, not ${value}`), { status: 400, code: 20001 });
  if (form.TransferMode !== undefined) {
    if (!TRANSFER_MODES.includes(form.TransferMode)) throw invalid('TransferMode', form.TransferMode, TRANSFER_MODES);
    trunk.transfer_mode = form.TransferMode;
  }
  if (form.TransferCallerId !== undefined) {
    if (!TRANSFER_CALLER_IDS.includes(form.TransferCallerId)) throw invalid('TransferCallerId', form.TransferCallerId, TRANSFER_CALLER_IDS);
    trunk.transfer_caller_id = form.TransferCallerId;
  }
}

export class TwilioApiEmulator extends EmulatorServer {
  readonly accountSid: string;
  readonly authToken: string;
  readonly log: TwilioRequest[] = [];
  readonly trunks: Json[] = [];
  readonly originationUrls: Json[] = [];
  readonly trunkCredentialLists: Json[] = [];
  readonly trunkPhoneNumbers: Json[] = [];
  readonly credentialLists: Json[] = [];
  readonly credentials: (Json & { password: string })[] = [];
  readonly incomingNumbers: Json[] = [];

  constructor(opts: { accountSid: string; authToken: string; numbers?: string[]; port?: number }) {
    super({ port: opts.port ?? 0 });
    this.accountSid = opts.accountSid;
    this.authToken = opts.authToken;
    for (const n of opts.numbers ?? []) this.addIncomingNumber(n);
  }

  addIncomingNumber(phoneNumber: string, trunkSid: string | null = null): Json {
    const pn = { sid: sid('PN'), account_sid: this.accountSid, phone_number: phoneNumber, friendly_name: phoneNumber, trunk_sid: trunkSid };
    this.incomingNumbers.push(pn);
    return pn;
  }

  /** TWILIO_API_BASE_URL for the emulator. */
  get url(): string {
    return this.httpUrl;
  }

  /** "POST trunking /v1/Trunks" lines, for asserting the sequence. */
  calls(filter?: (r: TwilioRequest) => boolean): string[] {
    return this.log.filter(filter ?? (() => true)).map((r) => `${r.method} ${r.product} ${r.path}`);
  }

  writes(): TwilioRequest[] {
    return this.log.filter((r) => r.method !== 'GET');
  }

  protected async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const [, product = '', ...rest] = url.pathname.split('/');
    const path = `/${rest.join('/')}`;
    const form = Object.fromEntries(new URLSearchParams(chunks.length ? Buffer.concat(chunks).toString('utf8') : ''));
    const query = Object.fromEntries(url.searchParams);
    const rec: TwilioRequest = { method: req.method ?? '', product, path, query, form, status: 0 };
    this.log.push(rec);
    const send = (status: number, body: unknown) => {
      rec.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      send(401, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
      return;
    }
    try {
      const out = this.#route(req.method ?? 'GET', product, path, query, form);
      send(out.status ?? 200, out.body);
    } catch (err) {
      const e = err as { status?: number; code?: number; message: string };
      send(e.status ?? 500, { code: e.code ?? 20500, message: e.message, more_info: `https://www.twilio.com/docs/errors/${e.code ?? 20500}`, status: e.status ?? 500 });
    }
  }

  #route(method: string, product: string, path: string, query: Record<string, string>, form: Record<string, string>): { status?: number; body: unknown } {
    const notFound = () => Object.assign(new Error(`The requested resource ${path} was not found`), { status: 404, code: 20404 });
    const v1Page = (key: string, items: Json[]) => ({
      [key]: items,
      meta: { key, page: 0, page_size: 50, first_page_url: `https://trunking.twilio.com${path}?PageSize=50&Page=0`, previous_page_url: null, next_page_url: null, url: `https://trunking.twilio.com${path}` },
    });
    const v2010Page = (key: string, items: Json[]) => ({ [key]: items, page: 0, page_size: 50, start: 0, end: items.length - 1, next_page_uri: null, previous_page_uri: null, uri: `/2010-04-01${path}` });
    const need = (field: string) => {
      const v = form[field];
      if (v === undefined || v === '') throw Object.assign(new Error(`Missing required parameter ${field} in the post body`), { status: 400, code: 21604 });
      return v;
    };
    let m: RegExpExecArray | null;

    if (product === 'trunking') {
      if (path === '/v1/Trunks') {
        if (method === 'GET') return { body: v1Page('trunks', this.trunks) };
        const domain = form.DomainName ?? null;
        if (domain !== null && !/^[a-z0-9-]+\.pstn\.twilio\.com$/.test(domain)) {
          throw Object.assign(new Error('Domain name must end with pstn.twilio.com'), { status: 400, code: 21245 });
        }
        const trunk: Json = {
          sid: sid('TK'),
          account_sid: this.accountSid,
          friendly_name: form.FriendlyName ?? null,
          domain_name: domain,
          secure: false,
          transfer_mode: 'disable-all',
          transfer_caller_id: 'from-transferee',
        };
        applyTransfer(trunk, form);
        this.trunks.push(trunk);
        return { status: 201, body: trunk };
      }
      if ((m = /^\/v1\/Trunks\/(TK\w+)(?:\/(\w+)(?:\/(\w+))?)?$/.exec(path))) {
        const [, trunkSid, sub, subSid] = m;
        const trunk = this.trunks.find((t) => t.sid === trunkSid);
        if (!trunk) throw notFound();
        if (!sub) {
          if (method === 'GET') return { body: trunk };
          if (form.DomainName !== undefined) trunk.domain_name = form.DomainName;
          if (form.FriendlyName !== undefined) trunk.friendly_name = form.FriendlyName;
          applyTransfer(trunk, form);
          return { body: trunk };
        }
        if (sub === 'OriginationUrls') {
          const mine = this.originationUrls.filter((u) => u.trunk_sid === trunkSid);
          if (subSid) {
            const u = mine.find((x) => x.sid === subSid);
            if (!u) throw notFound();
            if (form.Enabled !== undefined) u.enabled = form.Enabled === 'true';
            return { body: u };
          }
          if (method === 'GET') return { body: v1Page('origination_urls', mine) };
          const u = {
            sid: sid('OU'),
            trunk_sid: trunkSid,
            friendly_name: need('FriendlyName'),
            sip_url: need('SipUrl'),
            priority: Number(need('Priority')),
            weight: Number(need('Weight')),
            enabled: need('Enabled') === 'true',
          };
          this.originationUrls.push(u);
          return { status: 201, body: u };
        }
        if (sub === 'CredentialLists') {
          const mine = this.trunkCredentialLists.filter((l) => l.trunk_sid === trunkSid);
          if (method === 'GET') return { body: v1Page('credential_lists', mine) };
          const list = this.credentialLists.find((l) => l.sid === need('CredentialListSid'));
          if (!list) throw notFound();
          const link = { sid: list.sid, trunk_sid: trunkSid, friendly_name: list.friendly_name };
          this.trunkCredentialLists.push(link);
          return { status: 201, body: link };
        }
        if (sub === 'PhoneNumbers') {
          const mine = this.trunkPhoneNumbers.filter((p) => p.trunk_sid === trunkSid);
          if (method === 'GET') return { body: v1Page('phone_numbers', mine) };
          const pn = this.incomingNumbers.find((p) => p.sid === need('PhoneNumberSid'));
          if (!pn) throw notFound();
          pn.trunk_sid = trunkSid;
          const link = { sid: pn.sid, trunk_sid: trunkSid, phone_number: pn.phone_number, friendly_name: pn.friendly_name };
          this.trunkPhoneNumbers.push(link);
          return { status: 201, body: link };
        }
      }
      throw notFound();
    }

    if (product === 'api') {
      const acct = `/2010-04-01/Accounts/${this.accountSid}`;
      if (!path.startsWith(acct)) throw notFound();
      const p = path.slice(acct.length);
      if (p === '/SIP/CredentialLists.json') {
        if (method === 'GET') return { body: v2010Page('credential_lists', this.credentialLists) };
        const list = { sid: sid('CL'), account_sid: this.accountSid, friendly_name: need('FriendlyName') };
        this.credentialLists.push(list);
        return { status: 201, body: list };
      }
      if ((m = /^\/SIP\/CredentialLists\/(CL\w+)\/Credentials(?:\/(CR\w+))?\.json$/.exec(p))) {
        const [, listSid, credSid] = m;
        if (!this.credentialLists.some((l) => l.sid === listSid)) throw notFound();
        const mine = this.credentials.filter((c) => c.credential_list_sid === listSid);
        const shown = (c: Json & { password: string }) => {
          const { password: _hidden, ...rest } = c;
          return rest;
        };
        if (credSid) {
          const c = mine.find((x) => x.sid === credSid);
          if (!c) throw notFound();
          if (form.Password !== undefined) c.password = form.Password;
          return { body: shown(c) };
        }
        if (method === 'GET') return { body: v2010Page('credentials', mine.map(shown)) };
        const username = need('Username');
        if (mine.some((c) => c.username === username)) {
          throw Object.assign(new Error('Username already exists in this credential list'), { status: 400, code: 21231 });
        }
        const cred = { sid: sid('CR'), account_sid: this.accountSid, credential_list_sid: listSid, username, password: need('Password') };
        this.credentials.push(cred);
        return { status: 201, body: shown(cred) };
      }
      if (p === '/IncomingPhoneNumbers.json' && method === 'GET') {
        const want = query.PhoneNumber;
        return { body: v2010Page('incoming_phone_numbers', this.incomingNumbers.filter((n) => !want || n.phone_number === want)) };
      }
    }
    throw notFound();
  }
}
