/**
 * The appointment book's rules: opening hours, slot length, what "free" means, and how times are
 * said aloud. Pure functions over the store, so the tools stay thin and the rules are testable
 * without a session.
 */
import { DateTime } from 'luxon';
import type { Appointment, AppointmentStore, BookResult } from '../src/store/index.js';

export interface BookRules {
  timezone: string;
  /** Local opening hours, [open, close) in hours, Monday–Friday. */
  openHour: number;
  closeHour: number;
  slotMinutes: number;
  /** How far ahead a start may be (BOOKING_HORIZON_DAYS). */
  horizonDays: number;
  /** Upcoming appointments one phone number may hold (MAX_BOOKINGS_PER_CALLER). */
  maxPerCaller: number;
  /** Appointments one call may book (MAX_BOOKINGS_PER_CALL). */
  maxPerCall: number;
}

export const DEFAULT_RULES: Omit<BookRules, 'timezone'> = {
  openHour: 9,
  closeHour: 17,
  slotMinutes: 30,
  horizonDays: 90,
  maxPerCaller: 3,
  maxPerCall: 2,
};

/** The book's rules from configuration. */
export function bookRules(config: {
  BUSINESS_TIMEZONE: string;
  BOOKING_HORIZON_DAYS: number;
  MAX_BOOKINGS_PER_CALLER: number;
  MAX_BOOKINGS_PER_CALL: number;
}): BookRules {
  return {
    ...DEFAULT_RULES,
    timezone: config.BUSINESS_TIMEZONE,
    horizonDays: config.BOOKING_HORIZON_DAYS,
    maxPerCaller: config.MAX_BOOKINGS_PER_CALLER,
    maxPerCall: config.MAX_BOOKINGS_PER_CALL,
  };
}

/** The last instant a start may be at: the end of the local day `horizonDays` from now. */
function horizonEnd(rules: BookRules, now: Date): DateTime {
  return DateTime.fromJSDate(now, { zone: rules.timezone }).plus({ days: rules.horizonDays }).endOf('day');
}

function beyondHorizon(dt: DateTime, rules: BookRules, now: Date): BookingInputError | undefined {
  if (dt <= horizonEnd(rules, now)) return undefined;
  return new BookingInputError(
    `We book up to ${rules.horizonDays} days ahead, until ${horizonEnd(rules, now).toFormat('cccc, LLLL d')}; offer a date before then.`,
  );
}

export class BookingInputError extends Error {}

/** "2026-11-24T10:30" (local, business zone) → the UTC instant; throws a sentence the model can use. */
export function parseLocalStart(value: string, rules: BookRules, now: Date): DateTime {
  const dt = DateTime.fromISO(value, { zone: rules.timezone });
  if (!dt.isValid) {
    throw new BookingInputError(`"${value}" is not a date and time; use the form 2026-11-24T10:30.`);
  }
  if (dt.toMillis() <= now.getTime()) throw new BookingInputError(`${sayTime(dt)} is in the past.`);
  const far = beyondHorizon(dt, rules, now);
  if (far) throw far;
  if (dt.weekday > 5) throw new BookingInputError(`We are closed at weekends; ${sayTime(dt)} is a ${dt.toFormat('cccc')}.`);
  const minutes = dt.hour * 60 + dt.minute;
  if (minutes < rules.openHour * 60 || minutes + rules.slotMinutes > rules.closeHour * 60) {
    throw new BookingInputError(`We book from ${rules.openHour}:00 to ${rules.closeHour}:00; ${sayTime(dt)} is outside that.`);
  }
  if (dt.minute % rules.slotMinutes !== 0 || dt.second !== 0) {
    throw new BookingInputError(`Appointments start on the ${rules.slotMinutes}-minute mark.`);
  }
  return dt;
}

/** Free slots on a local date, in order. */
export async function freeSlots(
  store: AppointmentStore,
  dateIso: string,
  rules: BookRules,
  now: Date,
): Promise<DateTime[]> {
  const day = DateTime.fromISO(dateIso, { zone: rules.timezone }).startOf('day');
  if (!day.isValid) throw new BookingInputError(`"${dateIso}" is not a date; use the form 2026-11-24.`);
  const far = beyondHorizon(day, rules, now);
  if (far) throw far;
  if (day.weekday > 5) return [];
  const open = day.set({ hour: rules.openHour });
  const close = day.set({ hour: rules.closeHour });
  const taken = new Set(
    (await store.activeBetween(open.toUTC().toISO()!, close.toUTC().toISO()!)).map((a) => a.start),
  );
  const slots: DateTime[] = [];
  for (let t = open; t.plus({ minutes: rules.slotMinutes }) <= close; t = t.plus({ minutes: rules.slotMinutes })) {
    if (t.toMillis() > now.getTime() && !taken.has(utcIso(t))) slots.push(t);
  }
  return slots;
}

/**
 * Why this booking may not be made, or undefined: a call may book at most `maxPerCall`, and a
 * number may hold at most `maxPerCaller` upcoming appointments. A caller without a number is
 * only limited per call (they own nothing by number).
 */
export async function bookingLimit(
  store: AppointmentStore,
  caller: { callId: string; phone: string | null },
  rules: BookRules,
  now: Date,
): Promise<BookingInputError | undefined> {
  const from = now.toISOString();
  const upcoming = await store.activeBetween(from, horizonEnd(rules, now).toUTC().toISO()!);
  if (upcoming.filter((a) => a.callId === caller.callId).length >= rules.maxPerCall) {
    return new BookingInputError(
      `I can book at most ${rules.maxPerCall} appointments in one call. Tell the caller that, and offer to change one of them instead.`,
    );
  }
  if (caller.phone !== null) {
    const held = (await store.findByPhone(caller.phone)).filter((a) => a.start > from);
    if (held.length >= rules.maxPerCaller) {
      return new BookingInputError(
        `This number already has ${held.length} upcoming appointments, the most one caller may hold. ` +
          'Offer to move or cancel one of them instead.',
      );
    }
  }
  return undefined;
}

export function utcIso(dt: DateTime): string {
  return dt.toUTC().toISO({ suppressMilliseconds: true })!;
}

/** How a time is said on the phone: "Tuesday, November 24 at 10:30 AM". */
export function sayTime(dt: DateTime): string {
  return dt.toFormat("cccc, LLLL d 'at' h:mm a");
}

/** A calendar date (YYYY-MM-DD) as said aloud: "March 4, 1980". */
export function sayDate(isoDate: string): string {
  return DateTime.fromISO(isoDate, { zone: 'utc' }).toFormat('LLLL d, yyyy');
}

export function sayAppointment(a: Appointment, timezone: string): string {
  return sayTime(DateTime.fromISO(a.start, { zone: 'utc' }).setZone(timezone));
}

export function describeBooking(result: BookResult, timezone: string): string {
  return result.ok ? `Booked for ${sayAppointment(result.appointment, timezone)}.` : 'That time was just taken by someone else.';
}
