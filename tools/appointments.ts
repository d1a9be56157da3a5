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
import type { SpokenLines } from '../src/business.js';
import type { Appointment, AppointmentStore } from '../src/store/index.js';
import { isE164 } from '../src/telephony/phoneNumber.js';
import {
  BookingInputError,
  type BookRules,
  bookingLimit,
  freeSlots,
  parseLocalStart,
  sayAppointment,
  sayDate,
  sayOpenDays,
  sayTime,
  utcIso,
} from './appointmentBook.js';
import type { CallToolOptions, CallUserdata } from './callContext.js';
import { dateOfBirthProblem, factorMatches, type GivenFactor, type IdentityCheck } from './identity.js';
import { speakable } from './speakable.js';

export interface AppointmentToolDeps {
  store: AppointmentStore;
  rules: BookRules;
  now: () => Date;
  /**
   * IDENTITY_CHECK: before an appointment found by caller ID is used, `name` asks for the name on
   * the booking and `dob` for the date of birth (which `dob` also takes when booking).
   */
  identityCheck?: IdentityCheck;
  /** The business's read-back lines, said before a booking is made (with the birth date under `dob`). */
  readBack: SpokenLines['readBack'];
  readBackWithBirthDate: SpokenLines['readBackWithBirthDate'];
}

const MAX_SLOTS_SPOKEN = 6;
/** Wrong names before verify_identity stops trying (a caller guessing names). */
const MAX_IDENTITY_ATTEMPTS = 2;

/** Business-rule refusals are answers for the model, not failures. */
function asToolError(err: unknown): never {
  if (err instanceof BookingInputError) throw new llm.ToolError(err.message);
  throw err;
}

/**
 * How this call is entitled to an appointment. `number` alone is caller ID, which can be spoofed:
 * with IDENTITY_CHECK on it counts only once the caller gave the name on the booking. An outbound
 * call reached the number we dialled, and a booking made on this call is the caller's own.
 */
function entitlement(a: Appointment, u: CallUserdata): 'call' | 'number' | 'none' {
  if (a.id === u.contact?.appointmentId || a.callId === u.callId) return 'call';
  const phone = ownNumber(u);
  if (phone !== null && a.phone === phone) return 'number';
  return 'none';
}

/**
 * The caller's number as an identity: only a real E.164 number. Withheld caller ID is null, and a
 * placeholder stored by older versions ("+") is shared by every such caller, so owns nothing.
 */
function ownNumber(u: CallUserdata): string | null {
  return isE164(u.callerNumber) ? u.callerNumber : null;
}

/** Counted per call (userdata is per call), so a second agent does not reset the guesses. */
const identityAttempts = new WeakMap<CallUserdata, number>();

function remember(u: CallUserdata, a: Appointment): void {
  u.appointment = { id: a.id, start: a.start, status: a.status };
}

/** What book_appointment takes; `dateOfBirth` is asked for only under IDENTITY_CHECK=dob. */
interface BookArgs {
  start: string;
  name: string;
  reason?: string;
  dateOfBirth?: string;
}

const DATE_OF_BIRTH = z.string().describe("The caller's date of birth, YYYY-MM-DD");

export function appointmentTools({ store, rules, now, identityCheck = 'off', readBack, readBackWithBirthDate }: AppointmentToolDeps) {
  const askDob = identityCheck === 'dob';
  const VERIFY_FIRST = verifyFirst(identityCheck);
  const bookParams = z.object({
    start: z.string().describe('Local start time, YYYY-MM-DDTHH:mm, from check_availability'),
    name: z.string().min(1).describe("The caller's name"),
    reason: z.string().optional().describe('Why they are coming, in a few words'),
  });
  const verified = (u: CallUserdata) => identityCheck === 'off' || u.identityVerified === true;
  const ownedOrRefuse = async (id: string, u: CallUserdata): Promise<Appointment> => {
    const a = await store.get(id);
    const by = a && a.status !== 'cancelled' ? entitlement(a, u) : 'none';
    if (!a || by === 'none') {
      throw new llm.ToolError(`There is no active appointment ${id} for this caller. Use find_appointments first.`);
    }
    if (by === 'number' && !verified(u)) throw new llm.ToolError(VERIFY_FIRST);
    return a;
  };
  const say = (list: Appointment[]) => list.map((a) => `${a.id}: ${sayAppointment(a, rules.timezone)} (${a.status})`).join('; ');

  return {
    check_availability: llm.tool({
      description:
        `List free appointment times on one date (business hours, ${sayOpenDays(rules)}). ` +
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
      description:
        'Book an appointment at a free time, after the caller agreed to it' +
        (askDob ? ' and gave their date of birth' : '') +
        '. The first call reads the name and time back to the caller for you (say nothing else in that turn); call it ' +
        'again with the same arguments once they say yes. Only then is it booked.',
      // One schema per deployment: under `name` the model is never asked for a birth date.
      parameters: (askDob ? bookParams.extend({ dateOfBirth: DATE_OF_BIRTH }) : bookParams) as z.ZodType<BookArgs>,
      execute: ({ start, name, reason, dateOfBirth }: BookArgs, { ctx }: CallToolOptions) =>
        speakable('book the appointment', async () => {
          const u = ctx.userData;
          if (u.emergency) throw new llm.ToolError('Nothing can be booked on this call: the caller described an emergency.');
          const at = (() => {
            try {
              return parseLocalStart(start, rules, now());
            } catch (err) {
              return asToolError(err);
            }
          })();
          if (askDob) {
            if (dateOfBirth === undefined) throw new llm.ToolError("Ask for the caller's date of birth first, then book with it.");
            const problem = dateOfBirthProblem(dateOfBirth, now());
            if (problem) throw new llm.ToolError(`The ${problem}. Ask the caller for it again.`);
          }
          const limit = await bookingLimit(store, { callId: u.callId, phone: ownNumber(u) }, rules, now());
          if (limit) asToolError(limit);
          // The name and time are read back, by the tool, and booked only on the caller's next turn:
          // a misheard name or time is caught before it is in the book.
          const turns = callerTurns(ctx);
          const pending = u.pendingBooking;
          const born = askDob ? dateOfBirth : undefined;
          if (!pending || pending.start !== utcIso(at) || pending.name !== name || pending.dateOfBirth !== born) {
            u.pendingBooking = { start: utcIso(at), name, callerTurns: turns, ...(born ? { dateOfBirth: born } : {}) };
            await ctx.waitForPlayout();
            ctx.session.say(
              born ? readBackWithBirthDate({ name, when: sayTime(at), born: sayDate(born) }) : readBack({ name, when: sayTime(at) }),
            );
            return undefined;
          }
          if (turns <= pending.callerTurns) {
            throw new llm.ToolError("The booking was read back; wait for the caller's answer before booking it.");
          }
          u.pendingBooking = undefined;
          const result = await store.book({
            name,
            phone: ownNumber(u),
            start: utcIso(at),
            durationMin: rules.slotMinutes,
            reason: reason ?? u.reason ?? null,
            callId: u.callId,
            dateOfBirth: born ?? null,
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
          const all = [...found.values()];
          if (verified(u)) return say(all);
          const own = all.filter((a) => entitlement(a, u) === 'call');
          const hidden = all.length - own.length;
          if (hidden === 0) return say(own);
          return [own.length ? say(own) : '', `${hidden} more upcoming appointment(s) on this number. ${VERIFY_FIRST}`]
            .filter(Boolean)
            .join('; ');
        }),
    }),

    verify_identity: llm.tool({
      description:
        "Check the caller's second factor before you say anything about, or change, an appointment found by their " +
        'phone number: ' +
        (askDob
          ? "the caller's date of birth (or, if this tool says the booking has none on file, the full name on the booking)."
          : 'the full name on the booking, as the caller says it.'),
      parameters: (askDob
        ? z.object({
            dateOfBirth: DATE_OF_BIRTH.optional(),
            name: z.string().min(1).optional().describe('The full name on the booking, only when asked for it'),
          })
        : z.object({ name: z.string().min(1).describe('The name the caller gave for the booking') })) as z.ZodType<GivenFactor>,
      execute: (given: GivenFactor, { ctx }: CallToolOptions) =>
        speakable('check that', async () => {
          const u = ctx.userData;
          if (verified(u)) return 'Already verified.';
          const tries = identityAttempts.get(u) ?? 0;
          if (tries >= MAX_IDENTITY_ATTEMPTS) {
            throw new llm.ToolError('Too many tries. Share nothing about appointments on this call; offer to take a message.');
          }
          const onNumber = u.callerNumber ? await store.findByPhone(u.callerNumber) : [];
          const matching = onNumber.filter((a) => factorMatches(a, given, identityCheck));
          if (matching.length === 0) {
            // A booking made without a birth date can only be proved by its name: asking for it is
            // not a wrong guess.
            if (askDob && given.name === undefined && onNumber.some((a) => a.dateOfBirth === null)) {
              return 'A booking on this number has no date of birth on file: ask for the full name on the booking and call verify_identity with it.';
            }
            identityAttempts.set(u, tries + 1);
            return given.dateOfBirth !== undefined && given.name === undefined
              ? 'That date of birth does not match. Ask once more for it; share nothing meanwhile.'
              : 'That name does not match. Ask once more for the full name on the booking; share nothing meanwhile.';
          }
          u.identityVerified = true;
          if (given.name !== undefined) u.callerName ??= given.name;
          return `Verified. ${say(onNumber)}`;
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

function verifyFirst(check: IdentityCheck): string {
  const ask = check === 'dob' ? "the caller's date of birth" : 'the full name on the booking';
  return `Before saying anything about those or changing them, ask for ${ask} and call verify_identity.`;
}

/** Caller turns so far: a read-back is answered only by a turn that came after it. */
function callerTurns(ctx: CallToolOptions['ctx']): number {
  return ctx.session.history.items.filter((i) => i.type === 'message' && i.role === 'user').length;
}
