import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openStore } from '../src/store/index.js';
import { BookingInputError, defaultRules, freeSlots, parseLocalStart, utcIso } from '../tools/appointmentBook.js';

const rules = defaultRules('America/New_York');
// Monday 2026-11-23, 08:00 in New York.
const now = new Date('2026-11-23T13:00:00Z');

describe('appointment book rules', () => {
  it('lists free half-hour slots in business hours, in the business time zone, minus booked ones', async () => {
    const s = await openStore(':memory:');
    await s.appointments.book({ name: 'A', phone: null, start: '2026-11-24T14:00:00Z', durationMin: 30, reason: null, callId: null });
    const slots = await freeSlots(s.appointments, '2026-11-24', rules, now);
    assert.equal(slots.length, 15); // 16 slots from 9:00 to 16:30, one taken
    assert.equal(slots[0]!.toFormat('HH:mm'), '09:30');
    assert.equal(utcIso(slots[0]!), '2026-11-24T14:30:00Z');
    assert.equal(slots.at(-1)!.toFormat('HH:mm'), '16:30');
  });

  it('has no slots at weekends and none in the past', async () => {
    const s = await openStore(':memory:');
    assert.equal((await freeSlots(s.appointments, '2026-11-28', rules, now)).length, 0);
    const late = new Date('2026-11-24T21:45:00Z'); // 16:45 local
    assert.equal((await freeSlots(s.appointments, '2026-11-24', rules, late)).length, 0);
  });

  it('refuses starts outside hours, off the half hour, at weekends or in the past, with a reason', () => {
    for (const [value, why] of [
      ['2026-11-24T08:30', /from 9:00 to 17:00/],
      ['2026-11-24T16:45', /30-minute mark|from 9:00/],
      ['2026-11-28T10:00', /weekends/],
      ['2026-11-20T10:00', /past/],
      ['next tuesday', /not a date/],
    ] as const) {
      assert.throws(() => parseLocalStart(value, rules, now), (e: Error) => e instanceof BookingInputError && why.test(e.message), value);
    }
    assert.equal(utcIso(parseLocalStart('2026-11-24T10:30', rules, now)), '2026-11-24T15:30:00Z');
  });
});
