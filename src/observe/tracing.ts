/**
 * OpenTelemetry traces: one trace per call, with the framework's session, turn, LLM and TTS spans
 * under the call's span and ours (dial, AMD, handoff, tools, transfer, room deletion) beside them.
 *
 * Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set: then a tracer provider exporting OTLP/HTTP
 * (protobuf) is installed once per process through the framework's telemetry hook
 * (`telemetry.setTracerProvider`), before any call starts (the worker's prewarm, which runs in
 * every process that runs calls). Registered globally, so the async-hooks context manager carries
 * the call's span across awaits and our spans and the framework's share one provider.
 *
 * What leaves the process: span names, timings, call id and room, agent and tool names, outcome
 * kinds. No secrets, and no conversation: the framework strips its content attributes (chat
 * history, transcripts, tool arguments and outputs) unless OTEL_TRACE_CONTENT is true.
 * Without a provider every span here is a non-recording no-op.
 */
import { type Attributes, type Context, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { telemetry } from '@livekit/agents';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, type ReadableSpan, type Span as SdkSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-node';
import { currentCall } from './callContext.js';

export const ATTR_CALL_ID = 'switchboard.call_id';
export const ATTR_ROOM = 'switchboard.room';

export interface TracingOptions {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL; traces go to `<endpoint>/v1/traces`. */
  endpoint: string | undefined;
  serviceName: string;
  buildVersion: string;
  /** OTEL_TRACE_CONTENT: let the framework's conversation attributes through. */
  includeContent: boolean;
  /** Export each span as it ends instead of in batches (tests). */
  exportEachSpan?: boolean;
}

/** Stamps the running call's id and room on every span started inside it, the framework's too. */
class CallAttributesProcessor implements SpanProcessor {
  onStart(span: SdkSpan, _ctx: Context): void {
    const call = currentCall();
    if (call) span.setAttributes({ [ATTR_CALL_ID]: call.callId, [ATTR_ROOM]: call.room });
  }
  onEnd(_span: ReadableSpan): void {}
  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}

let provider: NodeTracerProvider | undefined;

/** Installs the tracer provider if an endpoint is configured; once per process. */
export function installTracing(opts: TracingOptions): boolean {
  if (provider) return true;
  if (!opts.endpoint) return false;
  const exporter = new OTLPTraceExporter({ url: `${opts.endpoint.replace(/\/+$/, '')}/v1/traces` });
  const fanout = new telemetry.FanoutSpanProcessor();
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName, 'service.version': opts.buildVersion }),
    spanProcessors: [
      new CallAttributesProcessor(),
      opts.exportEachSpan ? new BatchSpanProcessor(exporter, { scheduledDelayMillis: 50 }) : new BatchSpanProcessor(exporter),
      fanout,
    ],
  });
  provider.register();
  telemetry.setTracerProvider(provider, { registerSpanProcessor: (p) => fanout.add(p), allowPii: opts.includeContent });
  return true;
}

/** Sends every finished span now (before a short-lived process exits). */
export async function flushTracing(): Promise<void> {
  await provider?.forceFlush();
}

function tracer() {
  return trace.getTracer('switchboard');
}

/** Runs `fn` in a span of its own, as the active span (spans started inside nest under it). */
export function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message ?? String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** A span for something that already happened (a tool call the framework ran), from its timestamps. */
export function pastSpan(name: string, attributes: Attributes, startMs: number, endMs: number, failed = false): void {
  const span = tracer().startSpan(name, { attributes, startTime: startMs });
  if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end(Math.max(startMs, endMs));
}
