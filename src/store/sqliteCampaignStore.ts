/**
 * SQLite backend of the campaign store: the claim/lease protocol described in campaignStore.ts,
 * on better-sqlite3. Its tables are created by `sqliteMigrations.ts`.
 */
import type Database from 'better-sqlite3';
import type { CallOutcome, OutcomeKind } from './types.js';
import type {
  BadRow,
  CampaignInfo,
  CampaignProgress,
  CampaignStats,
  CampaignStore,
  ClaimOptions,
  ClaimResult,
  ContactInput,
  ContactRow,
  ContactState,
  ExportRow,
  FinishedAttempt,
  ImportChange,
  ImportChanges,
  ImportRowResult,
  OutcomeUpdate,
  OverdueAttempt,
} from './campaignStore.js';

type DB = Database.Database;

const IN_FLIGHT = `state IN ('dispatching','dispatched')`;
/** The note on a pending contact cancelled because its row left the file. */
export const REMOVED_NOTE = 'removed from the CSV';
/** A contact an import cancelled because its row left the file, which a later import may restore. */
export const RESTORABLE = `removed_pass IS NOT NULL AND state = 'excluded' AND note = '${REMOVED_NOTE}'`;
export const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
export const parse = <T>(s: unknown): T | null => (typeof s === 'string' ? (JSON.parse(s) as T) : null);

export function toContact(r: Record<string, unknown>): ContactRow {
  return {
    campaignId: r.campaign_id as string,
    contactId: r.contact_id as string,
    line: r.line as number,
    phone: r.phone as string,
    name: r.name as string,
    appointmentId: (r.appointment_id as string | null) ?? null,
    zones: (r.zones as string).split('|'),
    zoneSource: r.zone_source as string,
    fields: JSON.parse(r.fields as string) as Record<string, string>,
    state: r.state as ContactState,
    attempts: r.attempts as number,
    nextAt: r.next_at as number,
    room: (r.room as string | null) ?? null,
    owner: (r.owner as string | null) ?? null,
    leaseUntil: (r.lease_until as number | null) ?? null,
    dispatchedAt: (r.dispatched_at as number | null) ?? null,
    lastOutcome: (r.last_outcome as OutcomeKind | null) ?? null,
    outcome: parse<CallOutcome>(r.outcome),
    result: parse<Record<string, unknown>>(r.result),
    note: (r.note as string | null) ?? null,
  };
}

export function toCampaign(r: Record<string, unknown>): CampaignInfo {
  return {
    id: r.id as string,
    source: (r.source as string | null) ?? null,
    importedKey: (r.imported_key as string | null) ?? null,
    rows: r.rows as number,
    createdAt: r.created_at as string,
  };
}

/** A contact as `campaign export` writes it. */
export function toExportRow(c: ContactRow): ExportRow {
  return {
    contactId: c.contactId,
    line: c.line,
    name: c.name,
    phone: c.phone,
    state: c.state,
    attempts: c.attempts,
    finalOutcome: c.state === 'done' ? (c.lastOutcome ?? 'unknown') : c.state,
    outcome: c.outcome,
    result: c.result,
    room: c.room,
    note: c.note,
  };
}

/** An import's changes from the counting and listing queries' rows (both backends run the same ones). */
export function changesFrom(
  pass: number | null,
  counts: { kind: ImportChange['kind']; n: number }[],
  items: Record<string, unknown>[],
): ImportChanges {
  const out: ImportChanges = { pass, removed: 0, numberChanged: 0, restored: 0, items: [] };
  for (const r of counts) {
    if (r.kind === 'removed') out.removed = r.n;
    else if (r.kind === 'number_changed') out.numberChanged = r.n;
    else out.restored = r.n;
  }
  out.items = items.map((r) => ({
    kind: r.kind as ImportChange['kind'],
    contactId: r.contact_id as string,
    line: r.line as number,
    oldPhone: (r.old_phone as string | null) ?? null,
    newPhone: (r.new_phone as string | null) ?? null,
    stateBefore: r.state_before as ContactState,
  }));
  return out;
}

/** Stats from the counting queries' rows (both backends run the same ones). */
export function statsFrom(
  id: string,
  p: CampaignProgress,
  outcomes: { k: string; n: number }[],
  attemptRows: { k: string; n: number }[],
  badRows: number,
): CampaignStats {
  const byOutcome: Record<string, number> = {};
  for (const r of outcomes) byOutcome[r.k] = r.n;
  if (p.excluded > 0) byOutcome.excluded = p.excluded;
  const attemptsByOutcome: Record<string, number> = {};
  let attempts = 0;
  for (const r of attemptRows) {
    attemptsByOutcome[r.k] = r.n;
    attempts += r.n;
  }
  return {
    campaignId: id,
    contacts: p.pending + p.dispatching + p.dispatched + p.done + p.excluded,
    ...p,
    byOutcome,
    attempts,
    attemptsByOutcome,
    inFlight: p.dispatching + p.dispatched,
    badRows,
  };
}

/**
 * Calls per second as a shared GCRA bucket: `tat` (the campaign's `rate_tat_ms`) is the theoretical
 * time of the next call; a burst of at most max(1, cps/20) calls (50 ms worth) may go at once.
 * Returns how many of `budget` may be claimed now, or when the next one may.
 */
export function cpsBudget(o: Pick<ClaimOptions, 'cps' | 'now'>, tat: number, budget: number): { start: number; interval: number; budget: number } | { waitUntil: number } {
  if (o.cps <= 0) return { start: 0, interval: 0, budget };
  const interval = 1000 / o.cps;
  const burst = Math.max(1, Math.floor(o.cps / 20));
  const start = Math.max(tat, o.now - interval * (burst - 1));
  if (start > o.now) return { waitUntil: start };
  return { start, interval, budget: Math.min(budget, Math.floor((o.now - start) / interval) + 1) };
}

function isUnique(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class SqliteCampaignStore implements CampaignStore {
  private readonly s: ReturnType<SqliteCampaignStore['prepare']>;

  constructor(private readonly db: DB) {
    this.s = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      getCampaign: db.prepare('SELECT * FROM campaigns WHERE id = ?'),
      insertCampaign: db.prepare(
        'INSERT INTO campaigns (id, source, created_at) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING',
      ),
      setSource: db.prepare('UPDATE campaigns SET source = ? WHERE id = ? AND source IS NOT ?'),
      bumpPass: db.prepare('UPDATE campaigns SET import_pass = import_pass + 1 WHERE id = ? RETURNING import_pass'),
      insertContact: db.prepare(
        `INSERT INTO campaign_contacts (campaign_id, contact_id, line, seen_pass, phone, name, appointment_id, zones,
           zone_source, fields, state, next_at, updated_at)
         VALUES (@campaignId, @contactId, @line, @pass, @phone, @name, @appointmentId, @zones, @zoneSource, @fields,
           'pending', 0, @now)`,
      ),
      findClash: db.prepare(
        `SELECT contact_id, line, seen_pass, phone, state, note, removed_pass FROM campaign_contacts
         WHERE campaign_id = ? AND (contact_id = ? OR phone = ?) ORDER BY (contact_id = ?) DESC LIMIT 1`,
      ),
      // A row seen in an earlier pass is this row again (a resumed import); refresh what the CSV says
      // about it, except for the dial state.
      // A row removed by an earlier import and now back in the file is pending again.
      refreshContact: db.prepare(
        `UPDATE campaign_contacts SET line = @line, seen_pass = @pass, name = @name, appointment_id = @appointmentId,
           zones = @zones, zone_source = @zoneSource, fields = @fields,
           state = CASE WHEN ${RESTORABLE} THEN 'pending' ELSE state END,
           next_at = CASE WHEN ${RESTORABLE} THEN 0 ELSE next_at END,
           note = CASE WHEN ${RESTORABLE} THEN NULL ELSE note END,
           removed_pass = NULL
         WHERE campaign_id = @campaignId AND contact_id = @contactId AND phone = @phone`,
      ),
      // A corrected number under the same contact_id: a new line to try, whatever the old one did.
      replaceNumber: db.prepare(
        `UPDATE campaign_contacts SET phone = @phone, line = @line, seen_pass = @pass, name = @name,
           appointment_id = @appointmentId, zones = @zones, zone_source = @zoneSource, fields = @fields,
           state = 'pending', next_at = 0, note = NULL, removed_pass = NULL, updated_at = @now
         WHERE campaign_id = @campaignId AND contact_id = @contactId AND NOT ${IN_FLIGHT}`,
      ),
      touchSeen: db.prepare('UPDATE campaign_contacts SET seen_pass = ? WHERE campaign_id = ? AND contact_id = ?'),
      insertChange: db.prepare(
        `INSERT INTO campaign_changes (campaign_id, pass, kind, contact_id, line, old_phone, new_phone, state_before)
         VALUES (@campaignId, @pass, @kind, @contactId, @line, @oldPhone, @newPhone, @stateBefore)`,
      ),
      // Contacts an import pass did not see are no longer in the file: record, then cancel the pending ones.
      noteRemoved: db.prepare(
        `INSERT INTO campaign_changes (campaign_id, pass, kind, contact_id, line, old_phone, new_phone, state_before)
         SELECT campaign_id, @pass, 'removed', contact_id, line, phone, NULL, state FROM campaign_contacts
         WHERE campaign_id = @id AND seen_pass < @pass AND removed_pass IS NULL ORDER BY line`,
      ),
      markRemoved: db.prepare(
        `UPDATE campaign_contacts SET removed_pass = @pass,
           state = CASE WHEN state = 'pending' THEN 'excluded' ELSE state END,
           note = CASE WHEN state = 'pending' THEN '${REMOVED_NOTE}' ELSE note END
         WHERE campaign_id = @id AND seen_pass < @pass AND removed_pass IS NULL`,
      ),
      lastChangePass: db.prepare('SELECT max(pass) AS pass FROM campaign_changes WHERE campaign_id = ?'),
      changeCounts: db.prepare('SELECT kind, count(*) AS n FROM campaign_changes WHERE campaign_id = ? AND pass = ? GROUP BY kind'),
      changeItems: db.prepare(
        'SELECT * FROM campaign_changes WHERE campaign_id = ? AND pass = ? ORDER BY rowid LIMIT ?',
      ),
      upsertBad: db.prepare(
        `INSERT INTO campaign_bad_rows (campaign_id, line, reason, seen_pass) VALUES (?, ?, ?, ?)
         ON CONFLICT(campaign_id, line) DO UPDATE SET reason = excluded.reason, seen_pass = excluded.seen_pass`,
      ),
      exclude: db.prepare(
        `UPDATE campaign_contacts SET state = 'excluded', note = ?, updated_at = ?
         WHERE campaign_id = ? AND phone = ? AND state = 'pending'`,
      ),
      dropOldBad: db.prepare('DELETE FROM campaign_bad_rows WHERE campaign_id = ? AND seen_pass < ?'),
      finishImport: db.prepare('UPDATE campaigns SET imported_key = ?, rows = ? WHERE id = ?'),
      finishImportKeepKey: db.prepare('UPDATE campaigns SET imported_key = NULL, rows = ? WHERE id = ?'),
      due: db.prepare(
        // Ties in next_at come in index order (insertion, i.e. CSV order); ordering by line as well
        // would sort every pending contact on each call.
        `SELECT * FROM campaign_contacts WHERE campaign_id = ? AND state = 'pending' AND next_at <= ?
         ORDER BY next_at LIMIT ?`,
      ),
      park: db.prepare(
        `UPDATE campaign_contacts SET next_at = ?, updated_at = ?
         WHERE campaign_id = ? AND contact_id = ? AND state = 'pending'`,
      ),
      inFlight: db.prepare(`SELECT count(*) AS n FROM campaign_contacts WHERE campaign_id = ? AND ${IN_FLIGHT}`),
      rate: db.prepare('SELECT rate_tat_ms AS tat FROM campaigns WHERE id = ?'),
      setRate: db.prepare('UPDATE campaigns SET rate_tat_ms = ? WHERE id = ?'),
      // The room is derived here, in the claiming transaction, from ids that were sanitised to
      // [A-Za-z0-9_-] on import: `${campaignId}-${contactId}-a${attempt}` (see campaign/ids.ts).
      claimOne: db.prepare(
        `UPDATE campaign_contacts SET state = 'dispatching', attempts = attempts + 1,
           room = campaign_id || '-' || contact_id || '-a' || (attempts + 1),
           owner = @owner, lease_until = @leaseUntil, dispatched_at = NULL, updated_at = @now
         WHERE campaign_id = @campaignId AND contact_id = @contactId AND state = 'pending' AND next_at <= @now
         RETURNING *`,
      ),
      insertAttempt: db.prepare(
        `INSERT INTO campaign_attempts (campaign_id, contact_id, attempt, room, owner, claimed_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      markDispatched: db.prepare(
        `UPDATE campaign_contacts SET state = 'dispatched', dispatched_at = @now, updated_at = @now
         WHERE campaign_id = @campaignId AND contact_id = @contactId AND attempts = @attempt AND state = 'dispatching'`,
      ),
      attemptDispatched: db.prepare(
        `UPDATE campaign_attempts SET dispatched_at = coalesce(dispatched_at, ?)
         WHERE campaign_id = ? AND contact_id = ? AND attempt = ?`,
      ),
      othersDispatching: db.prepare(
        `SELECT * FROM campaign_contacts WHERE campaign_id = ? AND state = 'dispatching' AND owner IS NOT ? LIMIT ?`,
      ),
      takeOver: db.prepare(
        `UPDATE campaign_contacts SET owner = @owner, lease_until = @leaseUntil, updated_at = @now
         WHERE campaign_id = @campaignId AND contact_id = @contactId AND state = 'dispatching'
           AND owner IS @oldOwner AND attempts = @attempt`,
      ),
      renew: db.prepare(`UPDATE campaign_contacts SET lease_until = ? WHERE owner = ? AND state = 'dispatching'`),
      finished: db.prepare(
        `SELECT c.contact_id, c.attempts, c.room, r.id AS call_id, r.outcome, r.result
         FROM campaign_contacts c JOIN call_records r ON r.room = c.room AND r.ended_at IS NOT NULL
         WHERE c.campaign_id = ? AND c.state = 'dispatched' LIMIT ?`,
      ),
      overdue: db.prepare(
        `SELECT c.contact_id, c.attempts, c.room, c.dispatched_at,
           EXISTS (SELECT 1 FROM call_records r WHERE r.room = c.room) AS started
         FROM campaign_contacts c
         WHERE c.campaign_id = ? AND c.state = 'dispatched' AND c.dispatched_at < ?
           AND NOT EXISTS (SELECT 1 FROM call_records r WHERE r.room = c.room AND r.ended_at IS NOT NULL)
         LIMIT ?`,
      ),
      // A contact removed from the file while its call was out gets no retry.
      outcome: db.prepare(
        `UPDATE campaign_contacts SET state = CASE WHEN removed_pass IS NOT NULL THEN 'done' ELSE @state END,
           next_at = CASE WHEN removed_pass IS NOT NULL THEN 0 ELSE @nextAt END, last_outcome = @kind, outcome = @outcome,
           result = @result, owner = NULL, lease_until = NULL, updated_at = @now
         WHERE campaign_id = @campaignId AND contact_id = @contactId AND attempts = @attempt AND ${IN_FLIGHT}`,
      ),
      attemptOutcome: db.prepare(
        `UPDATE campaign_attempts SET ended_at = @now, outcome_kind = @kind, outcome = @outcome, result = @result,
           call_id = @callId
         WHERE campaign_id = @campaignId AND contact_id = @contactId AND attempt = @attempt`,
      ),
      redispatch: db.prepare(
        'UPDATE campaign_attempts SET redispatches = redispatches + 1 WHERE campaign_id = ? AND contact_id = ? AND attempt = ?',
      ),
      counts: db.prepare('SELECT state, count(*) AS n FROM campaign_contacts WHERE campaign_id = ? GROUP BY state'),
      nextAt: db.prepare(
        `SELECT min(next_at) AS t FROM campaign_contacts WHERE campaign_id = ? AND state = 'pending'`,
      ),
      byOutcome: db.prepare(
        `SELECT last_outcome AS k, count(*) AS n FROM campaign_contacts WHERE campaign_id = ? AND state = 'done'
         GROUP BY last_outcome`,
      ),
      attempts: db.prepare(
        `SELECT coalesce(outcome_kind, CASE WHEN ended_at IS NULL THEN 'in_flight' END) AS k, count(*) AS n
         FROM campaign_attempts WHERE campaign_id = ? GROUP BY k`,
      ),
      badCount: db.prepare('SELECT count(*) AS n FROM campaign_bad_rows WHERE campaign_id = ?'),
      badRows: db.prepare('SELECT line, reason FROM campaign_bad_rows WHERE campaign_id = ? ORDER BY line LIMIT ?'),
      exportPage: db.prepare(
        `SELECT * FROM campaign_contacts WHERE campaign_id = @id AND (line > @line OR (line = @line AND contact_id > @cid))
         ORDER BY line, contact_id LIMIT 1000`,
      ),
    };
  }

  async ensure(id: string, source: string | null, now: number): Promise<CampaignInfo> {
    this.s.insertCampaign.run(id, source, new Date(now).toISOString());
    if (source !== null) this.s.setSource.run(source, id, source);
    return toCampaign(this.s.getCampaign.get(id) as Record<string, unknown>);
  }

  async get(id: string): Promise<CampaignInfo | undefined> {
    const row = this.s.getCampaign.get(id) as Record<string, unknown> | undefined;
    return row ? toCampaign(row) : undefined;
  }

  async beginImport(id: string): Promise<number> {
    const row = this.s.bumpPass.get(id) as { import_pass: number } | undefined;
    if (!row) throw new Error(`campaign ${id} does not exist`);
    return row.import_pass;
  }

  async importRows(id: string, pass: number, rows: ContactInput[], now: number): Promise<ImportRowResult[]> {
    return this.db.transaction(() => rows.map((c) => this.importOne(id, pass, c, now)))();
  }

  private importOne(campaignId: string, pass: number, c: ContactInput, now: number): ImportRowResult {
    const params = {
      campaignId,
      contactId: c.contactId,
      line: c.line,
      pass,
      phone: c.phone,
      name: c.name,
      appointmentId: c.appointmentId,
      zones: c.zones.join('|'),
      zoneSource: c.zoneSource,
      fields: JSON.stringify(c.fields),
      now,
    };
    try {
      this.s.insertContact.run(params);
      return { status: 'new' };
    } catch (err) {
      if (!isUnique(err)) throw err;
    }
    const clash = this.s.findClash.get(campaignId, c.contactId, c.phone, c.contactId) as
      | { contact_id: string; line: number; seen_pass: number; phone: string; state: ContactState; note: string | null; removed_pass: number | null }
      | undefined;
    if (!clash) throw new Error(`contact ${c.contactId} clashed with a row that is gone`);
    const same = clash.contact_id === c.contactId && clash.phone === c.phone;
    const change = (kind: ImportChange['kind'], oldPhone: string | null, newPhone: string | null) =>
      this.s.insertChange.run({ campaignId, pass, kind, contactId: c.contactId, line: c.line, oldPhone, newPhone, stateBefore: clash.state });
    // The same row again: from an earlier pass (resume, an edited file), or from a concurrent importer of the same file.
    if (same && (clash.seen_pass < pass || clash.line === c.line)) {
      if (clash.seen_pass < pass) {
        this.s.refreshContact.run(params);
        if (clash.removed_pass !== null && clash.state === 'excluded' && clash.note === REMOVED_NOTE) {
          change('restored', null, c.phone);
          return { status: 'restored' };
        }
      }
      return { status: 'seen' };
    }
    // The file now gives this contact another number (the old one was wrong).
    if (clash.contact_id === c.contactId && clash.seen_pass < pass) {
      if (clash.state === 'dispatching' || clash.state === 'dispatched') {
        this.s.touchSeen.run(pass, campaignId, c.contactId);
        return { status: 'in_flight', phone: clash.phone };
      }
      try {
        this.s.replaceNumber.run(params);
      } catch (err) {
        if (!isUnique(err)) throw err;
        const other = this.s.findClash.get(campaignId, '', c.phone, '') as { line: number };
        return { status: 'duplicate', of: other.line, by: 'phone' };
      }
      change('number_changed', clash.phone, c.phone);
      return { status: 'changed', from: clash.phone };
    }
    return { status: 'duplicate', of: clash.line, by: clash.phone === c.phone ? 'phone' : 'contact_id' };
  }

  async recordBadRows(id: string, pass: number, rows: BadRow[]): Promise<void> {
    this.db.transaction(() => {
      for (const r of rows) this.s.upsertBad.run(id, r.line, r.reason, pass);
    })();
  }

  async excludePhones(id: string, phones: string[], note: string, now: number): Promise<number> {
    return this.db.transaction(() => phones.reduce((n, p) => n + this.s.exclude.run(note, now, id, p).changes, 0))();
  }

  async finishImport(id: string, pass: number, key: string | null, rows: number): Promise<{ removed: number }> {
    return this.db.transaction(() => {
      this.s.dropOldBad.run(id, pass);
      this.s.noteRemoved.run({ id, pass });
      const removed = this.s.markRemoved.run({ id, pass }).changes;
      if (key === null) this.s.finishImportKeepKey.run(rows, id);
      else this.s.finishImport.run(key, rows, id);
      return { removed };
    })();
  }

  async importChanges(id: string, limit = 1000): Promise<ImportChanges> {
    const pass = (this.s.lastChangePass.get(id) as { pass: number | null }).pass;
    if (pass === null) return changesFrom(null, [], []);
    return changesFrom(
      pass,
      this.s.changeCounts.all(id, pass) as { kind: ImportChange['kind']; n: number }[],
      this.s.changeItems.all(id, pass, limit) as Record<string, unknown>[],
    );
  }

  async due(id: string, now: number, limit: number): Promise<ContactRow[]> {
    return (this.s.due.all(id, now, limit) as Record<string, unknown>[]).map(toContact);
  }

  async park(id: string, parks: { contactId: string; until: number }[], now: number): Promise<void> {
    this.db.transaction(() => {
      for (const p of parks) this.s.park.run(Math.round(p.until), now, id, p.contactId);
    })();
  }

  async claim(id: string, o: ClaimOptions): Promise<ClaimResult> {
    // IMMEDIATE: the write lock is taken before the in-flight count is read, so two dispatchers
    // cannot both see room for the last slot.
    return this.db
      .transaction((): ClaimResult => {
        const inFlight = (this.s.inFlight.get(id) as { n: number }).n;
        let budget = Math.min(o.contactIds.length, o.maxInFlight - inFlight);
        if (budget <= 0) return { claimed: [], limitedBy: o.contactIds.length > 0 ? 'concurrency' : 'none' };
        let limitedBy: ClaimResult['limitedBy'] = budget < o.contactIds.length ? 'concurrency' : 'none';
        const rate = cpsBudget(o, (this.s.rate.get(id) as { tat: number } | undefined)?.tat ?? 0, budget);
        if ('waitUntil' in rate) return { claimed: [], limitedBy: 'cps', nextSlotAt: rate.waitUntil };
        const { start, interval } = rate;
        if (rate.budget < budget) {
          budget = rate.budget;
          limitedBy = 'cps';
        }
        const claimed: ContactRow[] = [];
        const leaseUntil = o.now + o.leaseMs;
        for (const contactId of o.contactIds) {
          if (claimed.length >= budget) break;
          const row = this.s.claimOne.get({ owner: o.owner, leaseUntil, now: o.now, campaignId: id, contactId }) as
            | Record<string, unknown>
            | undefined;
          if (!row) continue; // another dispatcher took it, or it is no longer due
          const c = toContact(row);
          this.s.insertAttempt.run(id, c.contactId, c.attempts, c.room, o.owner, o.now);
          claimed.push(c);
        }
        let nextSlotAt: number | undefined;
        if (o.cps > 0 && claimed.length > 0) {
          nextSlotAt = start + claimed.length * interval;
          this.s.setRate.run(nextSlotAt, id);
        }
        return nextSlotAt === undefined ? { claimed, limitedBy } : { claimed, limitedBy, nextSlotAt };
      })
      .immediate();
  }

  async markDispatched(id: string, contactId: string, attempt: number, now: number): Promise<boolean> {
    return this.db.transaction(() => {
      const changed = this.s.markDispatched.run({ now, campaignId: id, contactId, attempt }).changes === 1;
      if (changed) this.s.attemptDispatched.run(now, id, contactId, attempt);
      return changed;
    })();
  }

  async othersDispatching(id: string, owner: string, limit: number): Promise<ContactRow[]> {
    return (this.s.othersDispatching.all(id, owner, limit) as Record<string, unknown>[]).map(toContact);
  }

  async takeOver(
    id: string,
    row: Pick<ContactRow, 'contactId' | 'owner' | 'attempts'>,
    owner: string,
    leaseUntil: number,
  ): Promise<boolean> {
    const info = this.s.takeOver.run({
      owner,
      leaseUntil,
      now: Date.now(),
      campaignId: id,
      contactId: row.contactId,
      oldOwner: row.owner,
      attempt: row.attempts,
    });
    return info.changes === 1;
  }

  async renewLeases(owner: string, leaseUntil: number): Promise<number> {
    return this.s.renew.run(leaseUntil, owner).changes;
  }

  async finishedAttempts(id: string, limit: number): Promise<FinishedAttempt[]> {
    const rows = this.s.finished.all(id, limit) as Record<string, unknown>[];
    return rows.map((r) => ({
      contactId: r.contact_id as string,
      attempt: r.attempts as number,
      room: r.room as string,
      callId: r.call_id as string,
      outcome: (parse<CallOutcome>(r.outcome) ?? { kind: 'error', error: 'call record finished without an outcome' }),
      result: parse<Record<string, unknown>>(r.result),
    }));
  }

  async overdue(id: string, dispatchedBefore: number, limit: number): Promise<OverdueAttempt[]> {
    const rows = this.s.overdue.all(id, dispatchedBefore, limit) as Record<string, unknown>[];
    return rows.map((r) => ({
      contactId: r.contact_id as string,
      attempt: r.attempts as number,
      room: r.room as string,
      dispatchedAt: r.dispatched_at as number,
      started: r.started === 1,
    }));
  }

  async recordOutcome(id: string, u: OutcomeUpdate): Promise<boolean> {
    return this.db.transaction(() => {
      const common = {
        campaignId: id,
        contactId: u.contactId,
        attempt: u.attempt,
        kind: u.outcome.kind,
        outcome: JSON.stringify(u.outcome),
        result: json(u.result),
      };
      const changed =
        this.s.outcome.run({
          ...common,
          state: u.next.state,
          nextAt: u.next.state === 'pending' ? Math.round(u.next.nextAt) : 0,
          now: u.endedAt,
        }).changes === 1;
      if (changed) this.s.attemptOutcome.run({ ...common, now: u.endedAt, callId: u.callId });
      return changed;
    })();
  }

  async noteRedispatch(id: string, contactId: string, attempt: number): Promise<void> {
    this.s.redispatch.run(id, contactId, attempt);
  }

  async activity(id: string): Promise<{ inFlight: number; nextAt: number | null }> {
    return {
      inFlight: (this.s.inFlight.get(id) as { n: number }).n,
      nextAt: (this.s.nextAt.get(id) as { t: number | null }).t,
    };
  }

  async progress(id: string): Promise<CampaignProgress> {
    const p: CampaignProgress = { pending: 0, dispatching: 0, dispatched: 0, done: 0, excluded: 0, nextAt: null };
    for (const r of this.s.counts.all(id) as { state: ContactState; n: number }[]) p[r.state] = r.n;
    p.nextAt = (this.s.nextAt.get(id) as { t: number | null }).t;
    return p;
  }

  async stats(id: string): Promise<CampaignStats> {
    return statsFrom(
      id,
      await this.progress(id),
      this.s.byOutcome.all(id) as { k: string; n: number }[],
      this.s.attempts.all(id) as { k: string; n: number }[],
      (this.s.badCount.get(id) as { n: number }).n,
    );
  }

  async badRows(id: string, limit = 1_000_000): Promise<BadRow[]> {
    return this.s.badRows.all(id, limit) as BadRow[];
  }

  async *exportRows(id: string): AsyncIterable<ExportRow> {
    // Page by line so memory stays flat and the connection is free between pages.
    let after = { line: -1, cid: '' };
    for (;;) {
      const page = this.s.exportPage.all({ id, ...after }) as Record<string, unknown>[];
      if (page.length === 0) return;
      for (const raw of page) {
        const c = toContact(raw);
        after = { line: c.line, cid: c.contactId };
        yield toExportRow(c);
      }
    }
  }
}
