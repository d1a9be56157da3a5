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
}

export const DEFAULT_RULES: Omit<BookRules, 'timezone'> = { openHour: 9, closeHour: 17, slotMinutes: 30 };

export class BookingInputError extends Error {}

/** "2026-11-24T10:30" (local, business zone) → the UTC instant; throws a sentence the model can use. */
export function parseLocalStart(value: string, rules: BookRules, now: Date): DateTime {
  const dt = DateTime.fromISO(value, { zone: rules.timezone });
  if (!dt.isValid) {
    throw new BookingInputError(`"${value}" is not a date and time; use the form 2026-11-24T10:30.`);
  }
  if (dt.toMillis() <= now.getTime()) throw new BookingInputError(`${sayTime(dt)} is in the past.`);
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

export function utcIso(dt: DateTime): string {
  return dt.toUTC().toISO({ suppressMilliseconds: true })!;
}

/** How a time is said on the phone: "Tuesday, November 24 at 10:30 AM". */
export function sayTime(dt: DateTime): string {
  return dt.toFormat("cccc, LLLL d 'at' h:mm a");
}

export function sayAppointment(a: Appointment, timezone: string): string {
  return sayTime(DateTime.fromISO(a.start, { zone: 'utc' }).setZone(timezone));
}

export function describeBooking(result: BookResult, timezone: string): string {
  return result.ok ? `Booked for ${sayAppointment(result.appointment, timezone)}.` : 'That time was just taken by someone else.';
}
