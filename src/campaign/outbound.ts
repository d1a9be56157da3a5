/**
 * The dispatch metadata of one attempt: an `OutboundJob` (src/call/jobMetadata.ts), the contract
 * with the worker. Validated here too, so a contact that would fail the worker's check never goes out.
 */
import { OutboundJob } from '../call/jobMetadata.js';
import type { ContactRow } from '../store/index.js';

export function jobFor(contact: Pick<ContactRow, 'phone' | 'name' | 'appointmentId' | 'fields' | 'campaignId' | 'contactId' | 'attempts'>): OutboundJob {
  return OutboundJob.parse({
    kind: 'outbound',
    phoneNumber: contact.phone,
    contact: {
      name: contact.name,
      ...(contact.appointmentId ? { appointmentId: contact.appointmentId } : {}),
      fields: contact.fields,
    },
    campaignId: contact.campaignId,
    contactId: contact.contactId,
    attempt: contact.attempts,
  });
}
