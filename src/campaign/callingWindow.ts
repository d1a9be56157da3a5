/**
 * The calling window: the hours (and weekdays) a campaign may call, in the CONTACT's local time.
 * A contact whose zone is uncertain carries several zones; it is callable only at instants when
 * the window is open in all of them.
 */
import { DateTime } from 'luxon';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Day = (typeof DAYS)[number];

export class CallingWindow {
  private constructor(
    /** Minutes after local midnight the window opens. */
    readonly startMin: number,
    /** Minutes after local midnight it closes (may be < start: the window runs past midnight). */
    readonly endMin: number,
    /** Luxon weekdays (1 = Monday) on which a window may OPEN. */
    private readonly days: ReadonlySet<number>,
  ) {}

  /** `HH:MM-HH:MM` (end 24:00 allowed; an end before the start crosses midnight); days mon…sun. */
  static parse(spec: string, days: readonly string[] = DAYS): CallingWindow {
    const m = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(spec.trim());
    const bad = () => new Error(`calling window ${JSON.stringify(spec)}: expected HH:MM-HH:MM, e.g. 09:00-20:00`);
    if (!m) throw bad();
    const [h1, m1, h2, m2] = m.slice(1).map(Number) as [number, number, number, number];
    if (h1 > 23 || m1 > 59 || h2 > 24 || m2 > 59 || (h2 === 24 && m2 !== 0)) throw bad();
    const start = h1 * 60 + m1;
    const end = h2 * 60 + m2;
    if (start === end) throw new Error(`calling window ${JSON.stringify(spec)} is empty`);
    const set = new Set<number>();
    for (const d of days) {
      const i = DAYS.indexOf(d.trim().toLowerCase() as Day);
      if (i < 0) throw new Error(`calling day ${JSON.stringify(d)}: expected one of ${DAYS.join(', ')}`);
      set.add(i + 1);
    }
    if (set.size === 0) throw new Error('no calling days');
    return new CallingWindow(start, end, set);
  }

  /** Open at all times (the `call` command, and tests that do not care). */
  static always(): CallingWindow {
    return new CallingWindow(0, 24 * 60, new Set([1, 2, 3, 4, 5, 6, 7]));
  }

  toString(): string {
    const hm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    return `${hm(this.startMin)}-${hm(this.endMin)}`;
  }

  /** Whether the window is open at `t` (epoch ms) in `zone`. */
  isOpenIn(zone: string, t: number): boolean {
    const local = DateTime.fromMillis(t, { zone });
    const m = local.hour * 60 + local.minute;
    if (this.startMin < this.endMin) return m >= this.startMin && m < this.endMin && this.days.has(local.weekday);
    if (m >= this.startMin) return this.days.has(local.weekday);
    return m < this.endMin && this.days.has(local.minus({ days: 1 }).weekday);
  }

  /** The first instant ≥ t when the window is open in `zone`. */
  nextOpenIn(zone: string, t: number): number {
    if (this.isOpenIn(zone, t)) return t;
    const day = DateTime.fromMillis(t, { zone }).startOf('day');
    for (let d = -1; d <= 8; d++) {
      const base = day.plus({ days: d });
      if (!this.days.has(base.weekday)) continue;
      // In a DST gap luxon moves the time forward, which is what we want.
      const open = base.set({ hour: Math.floor(this.startMin / 60), minute: this.startMin % 60 }).toMillis();
      if (open >= t) return open;
    }
    throw new Error(`calling window ${this.toString()} never opens in ${zone}`);
  }

  /**
   * The first instant ≥ t when the window is open in every zone; `t` itself if it is open now.
   * Null if the zones' windows never overlap within a week (too far apart for this window).
   */
  nextOpen(zones: readonly string[], t: number): number | null {
    let at = t;
    for (let round = 0; round < 32; round++) {
      let moved = false;
      for (const zone of zones) {
        const next = this.nextOpenIn(zone, at);
        if (next > at) {
          at = next;
          moved = true;
        }
      }
      if (!moved) return at;
      if (at - t > 8 * 86_400_000) return null;
    }
    return null;
  }
}
