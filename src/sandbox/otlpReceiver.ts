/**
 * A local OpenTelemetry collector's trace endpoint: OTLP/HTTP `POST /v1/traces`, protobuf (what
 * the worker's exporter sends) or JSON. It keeps every span it receives, flattened, so a harness
 * can look at the span tree of a call; it forwards nothing.
 *
 * The protobuf messages are declared here from opentelemetry-proto's trace.proto and common.proto
 * (field numbers as published) and decoded by @bufbuild/protobuf; only what a span tree needs is
 * declared, and the rest of each message is skipped as unknown fields.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { type AnyMessage, type MessageType, ScalarType, proto3 } from '@bufbuild/protobuf';
import { EmulatorServer } from './emulatorServer.js';

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [k: string]: AttributeValue };

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** null for a root span. */
  parentSpanId: string | null;
  name: string;
  startMs: number;
  endMs: number;
  attributes: Record<string, AttributeValue>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  /** `service.name` of the resource that sent it. */
  service: string | null;
}

const P = 'opentelemetry.proto';
const msg = (name: string, fields: () => unknown[]): MessageType<AnyMessage> =>
  proto3.makeMessageType(name, fields as unknown as Parameters<typeof proto3.makeMessageType>[1]);
const scalar = (no: number, name: string, T: ScalarType, extra: object = {}) => ({ no, name, kind: 'scalar', T, ...extra });
const message = (no: number, name: string, T: () => MessageType<AnyMessage>, repeated = false) => ({ no, name, kind: 'message', get T() { return T(); }, ...(repeated ? { repeated: true } : {}) });

const AnyValue: MessageType<AnyMessage> = msg(`${P}.common.v1.AnyValue`, () => [
  scalar(1, 'string_value', ScalarType.STRING, { oneof: 'value' }),
  scalar(2, 'bool_value', ScalarType.BOOL, { oneof: 'value' }),
  scalar(3, 'int_value', ScalarType.INT64, { oneof: 'value' }),
  scalar(4, 'double_value', ScalarType.DOUBLE, { oneof: 'value' }),
  { ...message(5, 'array_value', () => ArrayValue), oneof: 'value' },
  { ...message(6, 'kvlist_value', () => KeyValueList), oneof: 'value' },
  scalar(7, 'bytes_value', ScalarType.BYTES, { oneof: 'value' }),
]);
const KeyValue: MessageType<AnyMessage> = msg(`${P}.common.v1.KeyValue`, () => [scalar(1, 'key', ScalarType.STRING), message(2, 'value', () => AnyValue)]);
const ArrayValue: MessageType<AnyMessage> = msg(`${P}.common.v1.ArrayValue`, () => [message(1, 'values', () => AnyValue, true)]);
const KeyValueList: MessageType<AnyMessage> = msg(`${P}.common.v1.KeyValueList`, () => [message(1, 'values', () => KeyValue, true)]);
const Resource = msg(`${P}.resource.v1.Resource`, () => [message(1, 'attributes', () => KeyValue, true)]);
const Status = msg(`${P}.trace.v1.Status`, () => [scalar(2, 'message', ScalarType.STRING), { no: 3, name: 'code', kind: 'scalar', T: ScalarType.INT32 }]);
const Span = msg(`${P}.trace.v1.Span`, () => [
  scalar(1, 'trace_id', ScalarType.BYTES),
  scalar(2, 'span_id', ScalarType.BYTES),
  scalar(4, 'parent_span_id', ScalarType.BYTES),
  scalar(5, 'name', ScalarType.STRING),
  scalar(7, 'start_time_unix_nano', ScalarType.FIXED64),
  scalar(8, 'end_time_unix_nano', ScalarType.FIXED64),
  message(9, 'attributes', () => KeyValue, true),
  message(15, 'status', () => Status),
]);
const ScopeSpans = msg(`${P}.trace.v1.ScopeSpans`, () => [message(2, 'spans', () => Span, true)]);
const ResourceSpans = msg(`${P}.trace.v1.ResourceSpans`, () => [message(1, 'resource', () => Resource), message(2, 'scope_spans', () => ScopeSpans, true)]);
const ExportTraceServiceRequest = msg(`${P}.collector.trace.v1.ExportTraceServiceRequest`, () => [message(1, 'resource_spans', () => ResourceSpans, true)]);

/** An OTLP request in the protobuf JSON mapping (what both decoders produce). */
interface OtlpJson {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValueJson[] };
    scopeSpans?: Array<{ spans?: SpanJson[] }>;
  }>;
}
interface KeyValueJson {
  key: string;
  value?: AnyValueJson;
}
interface AnyValueJson {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValueJson[] };
  kvlistValue?: { values?: KeyValueJson[] };
  bytesValue?: string;
}
interface SpanJson {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: KeyValueJson[];
  status?: { code?: number | string };
}

function value(v: AnyValueJson | undefined): AttributeValue {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  if (v.kvlistValue) return attributes(v.kvlistValue.values);
  if (v.bytesValue !== undefined) return v.bytesValue;
  return null;
}

function attributes(kvs: KeyValueJson[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of kvs ?? []) out[kv.key] = value(kv.value);
  return out;
}

/** Protobuf JSON carries ids as base64, OTLP/JSON as hex: hex either way. */
function hexId(id: string | undefined, fromProtobuf: boolean): string | null {
  if (!id) return null;
  return fromProtobuf ? Buffer.from(id, 'base64').toString('hex') : id.toLowerCase();
}

const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

export function flattenSpans(req: OtlpJson, fromProtobuf: boolean): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of req.resourceSpans ?? []) {
    const service = attributes(rs.resource?.attributes)['service.name'];
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        const code = s.status?.code;
        out.push({
          traceId: hexId(s.traceId, fromProtobuf) ?? '',
          spanId: hexId(s.spanId, fromProtobuf) ?? '',
          parentSpanId: hexId(s.parentSpanId, fromProtobuf),
          name: s.name ?? '',
          startMs: Number(BigInt(s.startTimeUnixNano ?? 0) / 1_000_000n),
          endMs: Number(BigInt(s.endTimeUnixNano ?? 0) / 1_000_000n),
          attributes: attributes(s.attributes),
          statusCode: typeof code === 'string' ? (STATUS_CODES[code] ?? 0) : (code ?? 0),
          service: typeof service === 'string' ? service : null,
        });
      }
    }
  }
  return out;
}

/** Decodes an OTLP/HTTP protobuf trace export body. */
export function decodeTraceRequest(body: Uint8Array): ReceivedSpan[] {
  const json = ExportTraceServiceRequest.fromBinary(body).toJson() as OtlpJson;
  return flattenSpans(json, true);
}

export class OtlpReceiver extends EmulatorServer {
  readonly spans: ReceivedSpan[] = [];
  /** Export requests received, and those that could not be decoded. */
  requests = 0;
  rejected = 0;

  /** The base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT. */
  get endpoint(): string {
    return this.httpUrl;
  }

  protected async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks);
    this.requests++;
    try {
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const type = String(req.headers['content-type'] ?? '');
      const spans = type.includes('json') ? flattenSpans(JSON.parse(body.toString('utf8')) as OtlpJson, false) : decodeTraceRequest(body);
      this.spans.push(...spans);
    } catch (err) {
      this.rejected++;
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`not an OTLP trace export: ${(err as Error).message}`);
      return;
    }
    // An empty ExportTraceServiceResponse: everything accepted.
    const json = String(req.headers['content-type'] ?? '').includes('json');
    res.writeHead(200, { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : Buffer.alloc(0));
  }
}
