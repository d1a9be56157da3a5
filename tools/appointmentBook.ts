/**
 * The appointment book's rules: opening hours, slot length, what "free" means, and how times are
 * said aloud. Pure functions over the store, so the tools stay thin and the rules are testable
 * without a session. The values are the business's (business.yaml, through config).
 */
import { DateTime } from 'luxon';
import { WEEKDAYS } from '../src/business.js';
import { type Config, shippedBusiness } from '../src/config.js';
import type { Appointment, AppointmentStore, BookResult } from '../src/store/index.js';

export interface BookRules {
  timezone: string;
  /** Days the book is open, as ISO weekdays (1 = Monday … 7 = Sunday). */
  openDays: ReadonlySet<number>;
  /** Local opening hours, [opensAt, closesAt) in minutes after midnight, on every open day. */
  opensAt: number;
  closesAt: number;
  slotMinutes: number;
  /** How far ahead a start may be (BOOKING_HORIZON_DAYS). */
  horizonDays: number;
  /** Upcoming appointments one phone number may hold (MAX_BOOKINGS_PER_CALLER). */
  maxPerCaller: number;
  /** Appointments one call may book (MAX_BOOKINGS_PER_CALL). */
  maxPerCall: number;
}

/** The book's rules from configuration: the business file's, with the variables that override it. */
export function bookRules(
  config: Pick<Config, 'BUSINESS_TIMEZONE' | 'BOOKING_HORIZON_DAYS' | 'MAX_BOOKINGS_PER_CALLER' | 'MAX_BOOKINGS_PER_CALL' | 'business'>,
): BookRules {
  const { hours, appointments } = config.business;
  return {
    timezone: config.BUSINESS_TIMEZONE,
    openDays: new Set(hours.days.map((d) => WEEKDAYS.indexOf(d) + 1)),
    opensAt: hours.open,
    closesAt: hours.close,
    slotMinutes: appointments.slotMinutes,
    horizonDays: config.BOOKING_HORIZON_DAYS,
    maxPerCaller: config.MAX_BOOKINGS_PER_CALLER,
    maxPerCall: config.MAX_BOOKINGS_PER_CALL,
  };
}

/**
 * The shipped clinic template's rules in a given timezone, for books without a config (tests,
 * prompt versions). The template is read on first use, not on import (agents/policy.ts says why),
 * and read once: shippedBusiness() keeps it.
 */
export const defaultRules = (timezone: string): BookRules => ({ ...bookRules(shippedBusiness()), timezone });

const DAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

function listed(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

/** The open days as said: "Monday to Friday", or "Monday, Wednesday and Friday". */
export function sayOpenDays(rules: Pick<BookRules, 'openDays'>): string {
  const days = [...rules.openDays].sort((a, b) => a - b);
  const run = days.length >= 3 && days.every((d, i) => i === 0 || d === days[i - 1]! + 1);
  return run ? `${DAY_NAMES[days[0]! - 1]} to ${DAY_NAMES[days.at(-1)! - 1]}` : listed(days.map((d) => DAY_NAMES[d - 1]!));
}

/** When the book is shut, as said: "at weekends", or "on Wednesdays and Sundays". */
function sayClosedDays(rules: Pick<BookRules, 'openDays'>): string {
  const closed = [1, 2, 3, 4, 5, 6, 7].filter((d) => !rules.openDays.has(d));
  if (closed.length === 2 && closed[0] === 6 && closed[1] === 7) return 'at weekends';
  return `on ${listed(closed.map((d) => `${DAY_NAMES[d - 1]}s`))}`;
}

/** Minutes after midnight as a time is written: 540 → "9:00". */
function sayClock(minutes: number): string {
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}`;
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
  if (!rules.openDays.has(dt.weekday)) throw new BookingInputError(`We are closed ${sayClosedDays(rules)}; ${sayTime(dt)} is a ${dt.toFormat('cccc')}.`);
  const minutes = dt.hour * 60 + dt.minute;
  if (minutes < rules.opensAt || minutes + rules.slotMinutes > rules.closesAt) {
    throw new BookingInputError(`We book from ${sayClock(rules.opensAt)} to ${sayClock(rules.closesAt)}; ${sayTime(dt)} is outside that.`);
  }
  // Slots are counted from opening, so a book that opens at 8:15 offers 8:15, 8:45, …
  if ((minutes - rules.opensAt) % rules.slotMinutes !== 0 || dt.second !== 0) {
    throw new BookingInputError(`Appointments start on the ${rules.slotMinutes}-minute mark.`);
  }
  return dt;
}

/** A local wall-clock time on `day` (by the clock, not minutes elapsed, so a DST change day keeps its hours). */
function atClock(day: DateTime, minutes: number): DateTime {
  return minutes >= 24 * 60 ? day.plus({ days: 1 }).startOf('day') : day.set({ hour: Math.floor(minutes / 60), minute: minutes % 60 });
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
  if (!rules.openDays.has(day.weekday)) return [];
  const open = atClock(day, rules.opensAt);
  const close = atClock(day, rules.closesAt);
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
