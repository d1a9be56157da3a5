/**
 * The one place a booking's start is normalised. Slots are whole minutes: `…14:30:00.001Z`,
 * `…14:30:00Z` and `…10:30:00-04:00` are the same slot and must collide in the unique index, so
 * every start is stored as UTC, truncated to the minute, in the form the appointment book uses
 * (`2026-11-24T14:30:00Z`). The databases enforce uniqueness on this value too (see the migrations).
 */
import { StoreError } from './store.js';

export function normaliseStart(start: string): string {
  const ms = Date.parse(start);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(start) || Number.isNaN(ms)) {
    throw new StoreError(`appointment start ${JSON.stringify(start)} is not an ISO date-time`);
  }
  return new Date(ms - (((ms % 60_000) + 60_000) % 60_000)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
