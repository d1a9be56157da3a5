/**
 * `switchboard call <number> [--name N] [--contact-json '{...}'] [--no-wait] [--json]`: one
 * outbound call. Dispatches the agent into a fresh room with an OutboundJob (the worker dials),
 * then waits for the call record the worker writes for that room and prints its outcome.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { OutboundJob } from '../call/jobMetadata.js';
import { loadConfig, storeTarget } from '../config.js';
import { contactIdFor, roomName } from '../campaign/ids.js';
import { livekitDispatchSink } from '../campaign/livekitSink.js';
import { checkDialable } from '../telephony/dialPolicy.js';
import { openStore } from '../store/index.js';
import type { CallRecord } from '../store/index.js';
import { UsageError, fail, report } from './output.js';

interface CallFlags {
  name?: string;
  contactJson?: string;
  wait: boolean;
  timeout?: string;
  json?: boolean;
}

/** `--contact-json`: name, appointmentId (or appointment_id), fields, and any other key as a field. */
export function contactFromJson(text: string | undefined, name: string | undefined): OutboundJob['contact'] {
  let extra: Record<string, unknown> = {};
  if (text !== undefined) {
    try {
      extra = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`--contact-json is not valid JSON: ${(err as Error).message}`);
    }
    if (!extra || typeof extra !== 'object' || Array.isArray(extra)) throw new UsageError('--contact-json must be a JSON object');
  }
  const fields: Record<string, string> = {};
  const put = (k: string, v: unknown) => {
    if (v === null || v === undefined) return;
    if (typeof v === 'object') throw new UsageError(`--contact-json: field ${JSON.stringify(k)} must be text, a number or a boolean`);
    fields[k] = String(v);
  };
  let appointmentId: string | undefined;
  let jsonName: string | undefined;
  for (const [k, v] of Object.entries(extra)) {
    if (k === 'name') jsonName = typeof v === 'string' ? v : undefined;
    else if (k === 'appointmentId' || k === 'appointment_id') appointmentId = v === null || v === undefined ? undefined : String(v);
    else if (k === 'fields' && v && typeof v === 'object' && !Array.isArray(v)) for (const [fk, fv] of Object.entries(v)) put(fk, fv);
    else put(k, v);
  }
  const finalName = (name ?? jsonName ?? '').trim();
  if (finalName === '') throw new UsageError('--name is required (or "name" in --contact-json): the agent greets the contact by name');
  return { name: finalName, ...(appointmentId ? { appointmentId } : {}), fields };
}

export function register(program: Command): void {
  program
    .command('call <number>')
    .description('place one outbound call: dispatch the agent (the worker dials), then wait for and print the outcome')
    .option('--name <name>', 'who we are calling (the agent greets them by name)')
    .option('--contact-json <json>', 'contact details as JSON: {"name","appointmentId", other keys become fields}')
    .option('--no-wait', 'return once dispatched, printing the room, instead of waiting for the outcome')
    .option('--timeout <seconds>', 'how long to wait for the outcome (default CAMPAIGN_CALL_TIMEOUT_SECONDS)')
    .option('--json', 'print one JSON object as the last line')
    .action(async (number: string, opts: CallFlags) => {
      try {
        const config = loadConfig();
        const phone = checkDialable(number, { defaultRegion: config.DEFAULT_REGION, allowedCountries: config.ALLOWED_COUNTRIES });
        if (!phone.ok) {
          const hint = phone.kind === 'invalid_number' ? ` (numbers without +country code are read in DEFAULT_REGION=${config.DEFAULT_REGION})` : '';
          throw new UsageError(`not dialled: ${phone.reason}${hint}`);
        }
        const contact = contactFromJson(opts.contactJson, opts.name);
        const timeoutSec = opts.timeout === undefined ? config.CAMPAIGN_CALL_TIMEOUT_SECONDS : Number(opts.timeout);
        if (!Number.isFinite(timeoutSec) || timeoutSec <= 0) throw new UsageError(`--timeout: ${JSON.stringify(opts.timeout)} must be a number of seconds`);

        const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
        const contactId = contactIdFor(phone.e164);
        const room = roomName(`call-${stamp}-${randomBytes(3).toString('hex')}`, contactId, 1);
        const job = OutboundJob.parse({ kind: 'outbound', phoneNumber: phone.e164, contact, contactId, attempt: 1 });
        await livekitDispatchSink(config).dispatch(room, JSON.stringify(job));
        if (!opts.wait) {
          report({ ok: true, room, phoneNumber: phone.e164, dispatched: true }, opts, () =>
            `dispatched ${config.AGENT_NAME} to call ${phone.e164} in room ${room}; the outcome will be in the call record of that room`,
          );
          return;
        }
        process.stderr.write(`dispatched; waiting for the call in room ${room}…\n`);
        const store = await openStore(storeTarget(config));
        const deadline = Date.now() + timeoutSec * 1000;
        let record: CallRecord | undefined;
        let announced = false;
        for (;;) {
          record = await store.calls.findByRoom(room);
          if (record && !announced) {
            announced = true;
            process.stderr.write(`call started (${record.id})\n`);
          }
          if (record?.finished || Date.now() >= deadline) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        await store.close();
        if (!record?.finished) {
          const err = new Error(
            `no outcome for room ${room} after ${timeoutSec} s (${record ? 'the call is still running' : 'no worker took the call: is it running with AGENT_NAME=' + config.AGENT_NAME + '?'})`,
          );
          fail(err, opts);
        }
        const result = {
          ok: true,
          room,
          phoneNumber: phone.e164,
          callId: record.id,
          outcome: record.outcome,
          result: record.result ?? null,
          startedAt: record.startedAt,
          endedAt: record.endedAt,
        };
        report(result, opts, () =>
          [
            `call to ${phone.e164}: ${record!.outcome?.kind ?? 'unknown'}`,
            ...(record!.result ? [`result: ${JSON.stringify(record!.result)}`] : []),
            `room ${room}, call ${record!.id}`,
          ].join('\n'),
        );
      } catch (err) {
        fail(err, opts);
      }
    });
}
