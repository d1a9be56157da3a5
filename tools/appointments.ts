/**
 * The appointment desk's tools: check availability, book, find, reschedule, cancel, confirm.
 *
 * Every tool is typed with zod, described for the model, backed by the store, and wrapped so a
 * failure becomes a sentence the agent can say. A caller may only touch appointments tied to their
 * own number (or the one an outbound call is about, or one booked during this call): the model
 * cannot be talked into cancelling someone else's booking.
 */
import { llm } from '@livekit/agents';
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { CallToolOptions, CallUserdata } from '../agents/userdata.js';
import type { Appointment, AppointmentStore } from '../src/store/index.js';
import { isE164 } from '../src/telephony/phoneNumber.js';
import {
  BookingInputError,
  type BookRules,
  bookingLimit,
  freeSlots,
  parseLocalStart,
  sayAppointment,
  sayTime,
  utcIso,
} from './appointmentBook.js';
import { speakable } from './speakable.js';

export interface AppointmentToolDeps {
  store: AppointmentStore;
  rules: BookRules;
  now: () => Date;
}

const MAX_SLOTS_SPOKEN = 6;

/** Business-rule refusals are answers for the model, not failures. */
function asToolError(err: unknown): never {
  if (err instanceof BookingInputError) throw new llm.ToolError(err.message);
  throw err;
}

/**
 * The caller's number as an identity: only a real E.164 number. Withheld caller ID is null, and a
 * placeholder stored by older versions ("+") is shared by every such caller, so owns nothing.
 */
function ownNumber(u: CallUserdata): string | null {
  return isE164(u.callerNumber) ? u.callerNumber : null;
}

function owns(a: Appointment, u: CallUserdata): boolean {
  const phone = ownNumber(u);
  return (
    (phone !== null && a.phone === phone) ||
    a.id === u.contact?.appointmentId ||
    a.callId === u.callId
  );
}

function remember(u: CallUserdata, a: Appointment): void {
  u.appointment = { id: a.id, start: a.start, status: a.status };
}

export function appointmentTools({ store, rules, now }: AppointmentToolDeps) {
  const ownedOrRefuse = async (id: string, u: CallUserdata): Promise<Appointment> => {
    const a = await store.get(id);
    if (!a || a.status === 'cancelled' || !owns(a, u)) {
      throw new llm.ToolError(`There is no active appointment ${id} for this caller. Use find_appointments first.`);
    }
    return a;
  };

  return {
    check_availability: llm.tool({
      description:
        'List free appointment times on one date (business hours, Monday to Friday). ' +
        'Use before offering times; offer at most two or three of them.',
      parameters: z.object({
        date: z.string().describe('Local date, YYYY-MM-DD'),
      }),
      execute: ({ date }) =>
        speakable('check the calendar', async () => {
          const slots = await freeSlots(store, date, rules, now()).catch(asToolError);
          if (slots.length === 0) return `No free times on ${date}.`;
          const shown = slots.slice(0, MAX_SLOTS_SPOKEN);
          return (
            `Free on ${shown[0]!.toFormat('cccc, LLLL d')}: ` +
            shown.map((s) => `${s.toFormat('h:mm a')} (start=${s.toFormat("yyyy-LL-dd'T'HH:mm")})`).join(', ') +
            (slots.length > shown.length ? `, and ${slots.length - shown.length} more.` : '.')
          );
        }),
    }),

    book_appointment: llm.tool({
      description: 'Book an appointment at a free time, after the caller agreed to it.',
      parameters: z.object({
        start: z.string().describe('Local start time, YYYY-MM-DDTHH:mm, from check_availability'),
        name: z.string().min(1).describe("The caller's name"),
        reason: z.string().optional().describe('Why they are coming, in a few words'),
      }),
      execute: ({ start, name, reason }, { ctx }: CallToolOptions) =>
        speakable('book the appointment', async () => {
          const u = ctx.userData;
          const at = (() => {
            try {
              return parseLocalStart(start, rules, now());
            } catch (err) {
              return asToolError(err);
            }
          })();
          const limit = await bookingLimit(store, { callId: u.callId, phone: ownNumber(u) }, rules, now());
          if (limit) asToolError(limit);
          const result = await store.book({
            name,
            phone: ownNumber(u),
            start: utcIso(at),
            durationMin: rules.slotMinutes,
            reason: reason ?? u.reason ?? null,
            callId: u.callId,
          });
          if (!result.ok) {
            throw new llm.ToolError(`${sayTime(at)} was just taken. Check availability again and offer another time.`);
          }
          remember(u, result.appointment);
          u.callerName ??= name;
          u.result = { action: 'booked', appointmentId: result.appointment.id, start: result.appointment.start };
          return `Booked ${result.appointment.id} for ${name} on ${sayTime(at)}.`;
        }),
    }),

    find_appointments: llm.tool({
      description: "Find the caller's upcoming appointments (by their phone number or this call).",
      execute: (_args, { ctx }: CallToolOptions) =>
        speakable('look up your appointments', async () => {
          const u = ctx.userData;
          const found = new Map<string, Appointment>();
          const phone = ownNumber(u);
          if (phone) for (const a of await store.findByPhone(phone)) found.set(a.id, a);
          if (u.contact?.appointmentId) {
            const a = await store.get(u.contact.appointmentId);
            if (a && a.status !== 'cancelled') found.set(a.id, a);
          }
          if (found.size === 0) return 'No upcoming appointments for this caller.';
          return [...found.values()]
            .map((a) => `${a.id}: ${sayAppointment(a, rules.timezone)} (${a.status})`)
            .join('; ');
        }),
    }),

    reschedule_appointment: llm.tool({
      description: 'Move one of the caller\'s appointments to a new free time they agreed to.',
      parameters: z.object({
        appointmentId: z.string().describe('Id from find_appointments'),
        newStart: z.string().describe('Local start time, YYYY-MM-DDTHH:mm'),
      }),
      execute: ({ appointmentId, newStart }, { ctx }: CallToolOptions) =>
        speakable('reschedule the appointment', async () => {
          const u = ctx.userData;
          await ownedOrRefuse(appointmentId, u);
          let at: DateTime;
          try {
            at = parseLocalStart(newStart, rules, now());
          } catch (err) {
            return asToolError(err);
          }
          const result = await store.reschedule(appointmentId, utcIso(at));
          if (!result.ok) throw new llm.ToolError(`${sayTime(at)} is taken. Offer another time.`);
          remember(u, result.appointment);
          u.result = { action: 'rescheduled', appointmentId, start: result.appointment.start };
          return `Moved ${appointmentId} to ${sayTime(at)}.`;
        }),
    }),

    cancel_appointment: llm.tool({
      description: 'Cancel one of the caller\'s appointments, after they clearly asked for it.',
      parameters: z.object({ appointmentId: z.string().describe('Id from find_appointments') }),
      execute: ({ appointmentId }, { ctx }: CallToolOptions) =>
        speakable('cancel the appointment', async () => {
          const u = ctx.userData;
          const a = await ownedOrRefuse(appointmentId, u);
          const after = await store.setStatus(appointmentId, 'cancelled');
          if (after) remember(u, after);
          u.result = { action: 'cancelled', appointmentId };
          return `Cancelled the appointment on ${sayAppointment(a, rules.timezone)}.`;
        }),
    }),

    confirm_appointment: llm.tool({
      description: 'Mark one of the caller\'s appointments as confirmed, after they said they will come.',
      parameters: z.object({ appointmentId: z.string().describe('Id from find_appointments') }),
      execute: ({ appointmentId }, { ctx }: CallToolOptions) =>
        speakable('confirm the appointment', async () => {
          const u = ctx.userData;
          const a = await ownedOrRefuse(appointmentId, u);
          const after = await store.setStatus(appointmentId, 'confirmed');
          if (after) remember(u, after);
          u.result = { action: 'confirmed', appointmentId };
          return `Confirmed for ${sayAppointment(a, rules.timezone)}.`;
        }),
    }),
  };
}
