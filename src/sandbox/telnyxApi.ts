/**
 * Emulates the Telnyx API v2 endpoints `switchboard setup telnyx` uses, so the real `telnyx` SDK
 * runs without the internet (TELNYX_API_BASE_URL=<url>/v2, as the SDK's `baseURL`).
 *
 * Modelled after Telnyx's documented resources (API v2, as the official SDK types them):
 *   - `Authorization: Bearer <API key>`, else 401 with `errors: [{ code: "10009", … }]`;
 *   - JSON bodies; answers `{ data }`, lists `{ data, meta: { page_number, page_size,
 *     total_pages, total_results } }` with `page[number]` / `page[size]`;
 *   - deepObject filters: `filter[name][contains]`, `filter[connection_name][contains]` (at least
 *     three characters, else 422), `filter[connection_id]`, `filter[phone_number]`;
 *   - POST/GET/PATCH /outbound_voice_profiles, /fqdn_connections, /fqdns; GET/PATCH /phone_numbers.
 *     PATCH merges the given fields (nested `inbound` / `outbound` objects field by field).
 *   - validation as documented: a connection needs `connection_name`; `transport_protocol` is
 *     UDP, TCP or TLS; `outbound.ip_authentication_method` is credential-authentication or
 *     ip-authentication; an FQDN needs `connection_id`, `fqdn` and `dns_record_type`, and the 'a'
 *     type takes a port (5060 when none is given); codecs are Telnyx's names (G722, G711U, …);
 *     a number's `connection_id` must name an existing connection. Errors are 422 with
 *     `errors: [{ code, title, detail, source: { pointer } }]`.
 *
 * Passwords are kept (to check what was sent) but never returned, as a careful client should
 * assume of Telnyx. Every request is recorded, without the Authorization header.
 */
import { randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EmulatorServer } from './emulatorServer.js';

export interface TelnyxRequest {
  method: string;
  /** Path under /v2, e.g. "/fqdn_connections". */
  path: string;
  query: Record<string, string>;
  body: Record<string, unknown> | undefined;
  status: number;
}

type Json = Record<string, unknown>;

const CODECS = ['G722', 'G711U', 'G711A', 'G729', 'OPUS', 'H.264', 'VP8', 'AMR-WB'];
const TRANSPORTS = ['UDP', 'TCP', 'TLS'];
const IP_AUTH = ['credential-authentication', 'ip-authentication'];

class TelnyxError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    readonly pointer?: string,
  ) {
    super(detail);
  }
}

const invalid = (pointer: string, detail: string) => new TelnyxError(422, '10015', 'Invalid value', detail, pointer);

/** Telnyx ids are long decimal strings. */
const newId = () => `${randomInt(1, 2 ** 47)}${randomInt(10 ** 5, 10 ** 6)}`;

export class TelnyxApiEmulator extends EmulatorServer {
  readonly apiKey: string;
  readonly log: TelnyxRequest[] = [];
  readonly outboundVoiceProfiles: Json[] = [];
  readonly connections: (Json & { password?: string })[] = [];
  readonly fqdns: Json[] = [];
  readonly phoneNumbers: Json[] = [];

  constructor(opts: { apiKey: string; numbers?: string[]; port?: number }) {
    super({ port: opts.port ?? 0 });
    this.apiKey = opts.apiKey;
    for (const n of opts.numbers ?? []) this.addPhoneNumber(n);
  }

  /** A number bought on the account (not on any connection). */
  addPhoneNumber(phoneNumber: string, connectionId: string | null = null): Json {
    const pn = { id: newId(), record_type: 'phone_number', phone_number: phoneNumber, status: 'active', connection_id: connectionId, hd_voice_enabled: false };
    this.phoneNumbers.push(pn);
    return pn;
  }

  /** The SDK's baseURL: <url>/v2. */
  get url(): string {
    return `${this.httpUrl}/v2`;
  }

  /** The changing requests, in order. */
  writes(): TelnyxRequest[] {
    return this.log.filter((r) => r.method !== 'GET');
  }

  protected async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const path = url.pathname.replace(/^\/v2(?=\/)/, '');
    const raw = Buffer.concat(chunks).toString('utf8');
    const rec: TelnyxRequest = { method: req.method ?? 'GET', path, query: Object.fromEntries(url.searchParams), body: undefined, status: 0 };
    this.log.push(rec);
    const send = (status: number, body: unknown) => {
      rec.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
        throw new TelnyxError(401, '10009', 'Authentication failed', 'The API key is missing or invalid.');
      }
      if (!url.pathname.startsWith('/v2/')) throw new TelnyxError(404, '10005', 'Resource not found', `No route ${url.pathname}`);
      if (raw) {
        try {
          rec.body = JSON.parse(raw) as Json;
        } catch {
          throw new TelnyxError(400, '10002', 'Invalid JSON', 'The request body is not JSON.');
        }
      }
      const out = this.#route(rec.method, path, rec.query, rec.body ?? {});
      send(out.status ?? 200, out.body);
    } catch (err) {
      const e = err instanceof TelnyxError ? err : new TelnyxError(500, '10001', 'Internal error', (err as Error).message);
      send(e.status, { errors: [{ code: e.code, title: e.title, detail: e.detail, ...(e.pointer ? { source: { pointer: e.pointer } } : {}) }] });
    }
  }

  #page(items: Json[], query: Record<string, string>): { body: unknown } {
    const size = Math.min(250, Math.max(1, Number(query['page[size]'] ?? 20)));
    const number = Math.max(1, Number(query['page[number]'] ?? 1));
    const totalPages = Math.max(1, Math.ceil(items.length / size));
    return {
      body: {
        data: items.slice((number - 1) * size, number * size),
        meta: { page_number: number, page_size: size, total_pages: totalPages, total_results: items.length },
      },
    };
  }

  #route(method: string, path: string, query: Record<string, string>, body: Json): { status?: number; body: unknown } {
    const notFound = () => new TelnyxError(404, '10005', 'Resource not found', `${path} was not found`);
    const contains = (field: string, value: string | undefined, items: Json[]) => {
      if (value === undefined) return items;
      if (value.length < 3) throw invalid(`/filter/${field}/contains`, 'Requires at least three characters.');
      return items.filter((x) => String(x[field] ?? '').toLowerCase().includes(value.toLowerCase()));
    };
    let m: RegExpExecArray | null;

    if (path === '/outbound_voice_profiles') {
      if (method === 'GET') return this.#page(contains('name', query['filter[name][contains]'], this.outboundVoiceProfiles), query);
      if (method === 'POST') {
        if (typeof body.name !== 'string' || body.name === '') throw invalid('/name', 'name is required');
        const ovp = { id: newId(), record_type: 'outbound_voice_profile', name: body.name, enabled: true, traffic_type: 'conversational', service_plan: 'global' };
        this.outboundVoiceProfiles.push(ovp);
        return { status: 201, body: { data: ovp } };
      }
    }

    if (path === '/fqdn_connections') {
      if (method === 'GET') return this.#page(contains('connection_name', query['filter[connection_name][contains]'], this.connections).map((c) => hidePassword(c)), query);
      if (method === 'POST') {
        if (typeof body.connection_name !== 'string' || body.connection_name === '') throw invalid('/connection_name', 'connection_name is required');
        const conn: Json & { password?: string } = {
          id: newId(),
          record_type: 'fqdn_connection',
          active: true,
          transport_protocol: 'UDP',
          inbound: { ani_number_format: 'E.164', dnis_number_format: 'e164', codecs: ['G722', 'G711U', 'G711A', 'G729', 'OPUS', 'H.264'] },
          outbound: { ip_authentication_method: 'credential-authentication', outbound_voice_profile_id: null },
        };
        this.#applyConnection(conn, body);
        this.connections.push(conn);
        return { status: 201, body: { data: hidePassword(conn) } };
      }
    }
    if ((m = /^\/fqdn_connections\/(\d+)$/.exec(path))) {
      const conn = this.connections.find((c) => c.id === m![1]);
      if (!conn) throw notFound();
      if (method === 'GET') return { body: { data: hidePassword(conn) } };
      if (method === 'PATCH') {
        this.#applyConnection(conn, body);
        return { body: { data: hidePassword(conn) } };
      }
    }

    if (path === '/fqdns') {
      if (method === 'GET') {
        const byConn = query['filter[connection_id]'];
        return this.#page(this.fqdns.filter((f) => byConn === undefined || f.connection_id === byConn), query);
      }
      if (method === 'POST') {
        const connId = body.connection_id;
        if (typeof connId !== 'string' || !this.connections.some((c) => c.id === connId)) throw invalid('/connection_id', 'connection_id must be an FQDN connection of this account');
        if (typeof body.fqdn !== 'string' || !/^(?=.*[a-z])[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(body.fqdn)) throw invalid('/fqdn', 'fqdn must be a fully qualified domain name');
        const type = body.dns_record_type;
        if (type !== 'a' && type !== 'srv') throw invalid('/dns_record_type', "dns_record_type must be 'a' or 'srv'");
        if (type === 'srv' && body.port != null) throw invalid('/port', "a port cannot be set with dns_record_type 'srv'");
        const fqdn = { id: newId(), record_type: 'fqdn', connection_id: connId, fqdn: body.fqdn, dns_record_type: type, port: type === 'a' ? Number(body.port ?? 5060) : null };
        this.fqdns.push(fqdn);
        return { status: 201, body: { data: fqdn } };
      }
    }

    if (path === '/phone_numbers' && method === 'GET') {
      const want = query['filter[phone_number]'];
      return this.#page(this.phoneNumbers.filter((p) => want === undefined || p.phone_number === want), query);
    }
    if ((m = /^\/phone_numbers\/(\d+)$/.exec(path))) {
      const pn = this.phoneNumbers.find((p) => p.id === m![1]);
      if (!pn) throw notFound();
      if (method === 'GET') return { body: { data: pn } };
      if (method === 'PATCH') {
        if (body.connection_id !== undefined) {
          if (body.connection_id !== null && !this.connections.some((c) => c.id === body.connection_id)) throw invalid('/connection_id', 'connection_id must be a connection of this account');
          pn.connection_id = body.connection_id;
        }
        if (body.hd_voice_enabled !== undefined) {
          if (typeof body.hd_voice_enabled !== 'boolean') throw invalid('/hd_voice_enabled', 'must be a boolean');
          pn.hd_voice_enabled = body.hd_voice_enabled;
        }
        return { body: { data: pn } };
      }
    }
    throw notFound();
  }

  /** Validates and merges connection fields (create and PATCH alike). */
  #applyConnection(conn: Json & { password?: string }, body: Json): void {
    for (const key of ['connection_name', 'user_name', 'password'] as const) {
      if (body[key] !== undefined && typeof body[key] !== 'string') throw invalid(`/${key}`, `${key} must be a string`);
    }
    if (body.transport_protocol !== undefined && !TRANSPORTS.includes(String(body.transport_protocol))) throw invalid('/transport_protocol', 'must be one of UDP, TCP, TLS');
    const inbound = body.inbound as Json | undefined;
    if (inbound?.codecs !== undefined) {
      const codecs = inbound.codecs;
      if (!Array.isArray(codecs) || codecs.length === 0 || codecs.some((c) => !CODECS.includes(String(c)))) throw invalid('/inbound/codecs', `codecs must be a non-empty list of ${CODECS.join(', ')}`);
    }
    const outbound = body.outbound as Json | undefined;
    if (outbound?.ip_authentication_method !== undefined && !IP_AUTH.includes(String(outbound.ip_authentication_method))) throw invalid('/outbound/ip_authentication_method', `must be one of ${IP_AUTH.join(', ')}`);
    if (outbound?.outbound_voice_profile_id != null && !this.outboundVoiceProfiles.some((p) => p.id === outbound.outbound_voice_profile_id)) {
      throw invalid('/outbound/outbound_voice_profile_id', 'no such outbound voice profile');
    }
    for (const [k, v] of Object.entries(body)) {
      if ((k === 'inbound' || k === 'outbound') && v && typeof v === 'object') conn[k] = { ...(conn[k] as Json), ...(v as Json) };
      else conn[k] = v;
    }
  }
}

function hidePassword<T extends Json & { password?: string }>(c: T): Omit<T, 'password'> {
  const { password: _hidden, ...rest } = c;
  return rest;
}
