/**
 * What a job's metadata may carry. Inbound calls (SIP dispatch rules) and browser sessions carry
 * none; an outbound call carries who to dial and why. Validated with zod so a malformed dispatch
 * ends with a recorded error naming the field, not a crash halfway through a call.
 */
import { z } from 'zod';
import { OutboundContact } from '../../tools/callContext.js';

export const OutboundJob = z.object({
  kind: z.literal('outbound'),
  phoneNumber: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be E.164, e.g. +15551234567'),
  contact: OutboundContact,
  campaignId: z.string().min(1).optional(),
  contactId: z.string().min(1).optional(),
  attempt: z.number().int().positive().default(1),
});
export type OutboundJob = z.infer<typeof OutboundJob>;

export type JobMetadata = { kind: 'inbound' } | OutboundJob;

export class MetadataError extends Error {}

export function parseJobMetadata(raw: string | undefined): JobMetadata {
  if (!raw || raw.trim() === '') return { kind: 'inbound' };
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    throw new MetadataError('job metadata is not valid JSON');
  }
  const parsed = OutboundJob.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new MetadataError(`job metadata is invalid: ${problems.join('; ')}`);
  }
  return parsed.data;
}
