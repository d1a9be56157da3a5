/**
 * PostgreSQL backend of the campaign store: the claim/lease protocol of campaignStore.ts for
 * dispatchers on several hosts. A claim locks the campaign row (`FOR UPDATE`), which serialises
 * claims per campaign as SQLite's write lock does, so the concurrency limit and the shared
 * calls-per-second bucket hold across dispatchers; the contacts it takes are locked with
 * `FOR UPDATE SKIP LOCKED`, so rows another transaction is updating (an outcome, a park) are passed
 * over rather than waited for. Every later step is a guarded UPDATE (state, owner, attempt), which
 * PostgreSQL re-checks after any lock wait, so exactly one of two racing dispatchers wins it.
 */
import type pg from 'pg';
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
import { transaction } from './postgresTx.js';
import { changesFrom, cpsBudget, json, parse, REMOVED_NOTE, RESTORABLE, statsFrom, toCampaign, toContact, toExportRow } from './sqliteCampaignStore.js';
import type { CallOutcome } from './types.js';

type Row = Record<string, unknown>;
const IN_FLIGHT = `state IN ('dispatching','dispatched')`;

export class PostgresCampaignStore implements CampaignStore {
  constructor(private readonly pool: pg.Pool) {}

  private q(sql: string, params: unknown[] = []) {
    return this.pool.query(sql, params);
  }

  async ensure(id: string, source: string | null, now: number): Promise<CampaignInfo> {
    await this.q('INSERT INTO campaigns (id, source, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [
      id,
      source,
      new Date(now).toISOString(),
    ]);
    if (source !== null) await this.q('UPDATE campaigns SET source = $1 WHERE id = $2 AND source IS DISTINCT FROM $1', [source, id]);
    return toCampaign((await this.q('SELECT * FROM campaigns WHERE id = $1', [id])).rows[0] as Row);
  }

  async get(id: string): Promise<CampaignInfo | undefined> {
    const row = (await this.q('SELECT * FROM campaigns WHERE id = $1', [id])).rows[0] as Row | undefined;
    return row ? toCampaign(row) : undefined;
  }

  async beginImport(id: string): Promise<number> {
    const row = (await this.q('UPDATE campaigns SET import_pass = import_pass + 1 WHERE id = $1 RETURNING import_pass', [id])).rows[0];
    if (!row) throw new Error(`campaign ${id} does not exist`);
    return row.import_pass as number;
  }

  async importRows(id: string, pass: number, rows: ContactInput[], now: number): Promise<ImportRowResult[]> {
    return transaction(this.pool, async (c) => {
      const out: ImportRowResult[] = [];
      for (const row of rows) out.push(await importOne(c, id, pass, row, now));
      return out;
    });
  }

  async recordBadRows(id: string, pass: number, rows: BadRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.q(
      `INSERT INTO campaign_bad_rows (campaign_id, line, reason, seen_pass)
       SELECT $1, l, r, $4 FROM unnest($2::int[], $3::text[]) AS t(l, r)
       ON CONFLICT (campaign_id, line) DO UPDATE SET reason = excluded.reason, seen_pass = excluded.seen_pass`,
      [id, rows.map((r) => r.line), rows.map((r) => r.reason), pass],
    );
  }

  async excludePhones(id: string, phones: string[], note: string, now: number): Promise<number> {
    const res = await this.q(
      `UPDATE campaign_contacts SET state = 'excluded', note = $1, updated_at = $2
       WHERE campaign_id = $3 AND phone = ANY($4::text[]) AND state = 'pending'`,
      [note, now, id, phones],
    );
    return res.rowCount ?? 0;
  }

  async finishImport(id: string, pass: number, key: string | null, rows: number): Promise<{ removed: number }> {
    return transaction(this.pool, async (c) => {
      await c.query('DELETE FROM campaign_bad_rows WHERE campaign_id = $1 AND seen_pass < $2', [id, pass]);
      // Contacts this pass did not see are no longer in the file: record, then cancel the pending ones.
      await c.query(
        `INSERT INTO campaign_changes (campaign_id, pass, kind, contact_id, line, old_phone, new_phone, state_before)
         SELECT campaign_id, $2, 'removed', contact_id, line, phone, NULL, state FROM campaign_contacts
         WHERE campaign_id = $1 AND seen_pass < $2 AND removed_pass IS NULL ORDER BY line`,
        [id, pass],
      );
      const removed = await c.query(
        `UPDATE campaign_contacts SET removed_pass = $2,
           state = CASE WHEN state = 'pending' THEN 'excluded' ELSE state END,
           note = CASE WHEN state = 'pending' THEN '${REMOVED_NOTE}' ELSE note END
         WHERE campaign_id = $1 AND seen_pass < $2 AND removed_pass IS NULL`,
        [id, pass],
      );
      await c.query('UPDATE campaigns SET imported_key = $1, rows = $2 WHERE id = $3', [key, rows, id]);
      return { removed: removed.rowCount ?? 0 };
    });
  }

  async importChanges(id: string, limit = 1000): Promise<ImportChanges> {
    const pass = ((await this.q('SELECT max(pass) AS pass FROM campaign_changes WHERE campaign_id = $1', [id])).rows[0]!.pass ?? null) as
      | number
      | null;
    if (pass === null) return changesFrom(null, [], []);
    const counts = await this.q('SELECT kind, count(*) AS n FROM campaign_changes WHERE campaign_id = $1 AND pass = $2 GROUP BY kind', [id, pass]);
    const items = await this.q('SELECT * FROM campaign_changes WHERE campaign_id = $1 AND pass = $2 ORDER BY seq LIMIT $3', [id, pass, limit]);
    return changesFrom(pass, counts.rows as { kind: ImportChange['kind']; n: number }[], items.rows as Row[]);
  }

  async due(id: string, now: number, limit: number): Promise<ContactRow[]> {
    // `line` breaks ties as SQLite's insertion order does: CSV order.
    const { rows } = await this.q(
      `SELECT * FROM campaign_contacts WHERE campaign_id = $1 AND state = 'pending' AND next_at <= $2
       ORDER BY next_at, line LIMIT $3`,
      [id, now, limit],
    );
    return (rows as Row[]).map(toContact);
  }

  async park(id: string, parks: { contactId: string; until: number }[], now: number): Promise<void> {
    if (parks.length === 0) return;
    await this.q(
      `UPDATE campaign_contacts c SET next_at = p.until, updated_at = $2
       FROM unnest($3::text[], $4::bigint[]) AS p(contact_id, until)
       WHERE c.campaign_id = $1 AND c.contact_id = p.contact_id AND c.state = 'pending'`,
      [id, now, parks.map((p) => p.contactId), parks.map((p) => Math.round(p.until))],
    );
  }

  async claim(id: string, o: ClaimOptions): Promise<ClaimResult> {
    return transaction(this.pool, async (c): Promise<ClaimResult> => {
      // The campaign row is the claim lock: the in-flight count and the rate bucket read below
      // cannot change under us until we commit.
      const camp = (await c.query('SELECT rate_tat_ms AS tat FROM campaigns WHERE id = $1 FOR UPDATE', [id])).rows[0];
      const inFlight = (await c.query(`SELECT count(*) AS n FROM campaign_contacts WHERE campaign_id = $1 AND ${IN_FLIGHT}`, [id]))
        .rows[0].n as number;
      let budget = Math.min(o.contactIds.length, o.maxInFlight - inFlight);
      if (budget <= 0) return { claimed: [], limitedBy: o.contactIds.length > 0 ? 'concurrency' : 'none' };
      let limitedBy: ClaimResult['limitedBy'] = budget < o.contactIds.length ? 'concurrency' : 'none';
      const rate = cpsBudget(o, (camp?.tat as number | undefined) ?? 0, budget);
      if ('waitUntil' in rate) return { claimed: [], limitedBy: 'cps', nextSlotAt: rate.waitUntil };
      if (rate.budget < budget) {
        budget = rate.budget;
        limitedBy = 'cps';
      }
      // Candidates in the caller's order of preference; the room is derived here, in the claiming
      // transaction, exactly as in SQLite (see campaign/ids.ts).
      const { rows } = await c.query(
        `WITH picked AS (
           SELECT contact_id FROM campaign_contacts
           WHERE campaign_id = $1 AND contact_id = ANY($2::text[]) AND state = 'pending' AND next_at <= $3
           ORDER BY array_position($2::text[], contact_id) LIMIT $4
           FOR UPDATE SKIP LOCKED)
         UPDATE campaign_contacts c SET state = 'dispatching', attempts = c.attempts + 1,
           room = c.campaign_id || '-' || c.contact_id || '-a' || (c.attempts + 1),
           owner = $5, lease_until = $6, dispatched_at = NULL, updated_at = $3
         FROM picked WHERE c.campaign_id = $1 AND c.contact_id = picked.contact_id
         RETURNING c.*`,
        [id, o.contactIds, o.now, budget, o.owner, o.now + o.leaseMs],
      );
      const order = new Map(o.contactIds.map((cid, i) => [cid, i]));
      const claimed = (rows as Row[]).map(toContact).sort((a, b) => order.get(a.contactId)! - order.get(b.contactId)!);
      if (claimed.length > 0) {
        await c.query(
          `INSERT INTO campaign_attempts (campaign_id, contact_id, attempt, room, owner, claimed_at)
           SELECT $1, cid, n, room, $5, $6 FROM unnest($2::text[], $3::int[], $4::text[]) AS t(cid, n, room)`,
          [id, claimed.map((r) => r.contactId), claimed.map((r) => r.attempts), claimed.map((r) => r.room), o.owner, o.now],
        );
      }
      if (o.cps > 0 && claimed.length > 0) {
        const nextSlotAt = rate.start + claimed.length * rate.interval;
        await c.query('UPDATE campaigns SET rate_tat_ms = $1 WHERE id = $2', [nextSlotAt, id]);
        return { claimed, limitedBy, nextSlotAt };
      }
      return { claimed, limitedBy };
    });
  }

  async markDispatched(id: string, contactId: string, attempt: number, now: number): Promise<boolean> {
    return transaction(this.pool, async (c) => {
      const res = await c.query(
        `UPDATE campaign_contacts SET state = 'dispatched', dispatched_at = $1, updated_at = $1
         WHERE campaign_id = $2 AND contact_id = $3 AND attempts = $4 AND state = 'dispatching'`,
        [now, id, contactId, attempt],
      );
      if (res.rowCount !== 1) return false;
      await c.query(
        `UPDATE campaign_attempts SET dispatched_at = coalesce(dispatched_at, $1)
         WHERE campaign_id = $2 AND contact_id = $3 AND attempt = $4`,
        [now, id, contactId, attempt],
      );
      return true;
    });
  }

  async othersDispatching(id: string, owner: string, limit: number): Promise<ContactRow[]> {
    const { rows } = await this.q(
      `SELECT * FROM campaign_contacts WHERE campaign_id = $1 AND state = 'dispatching' AND owner IS DISTINCT FROM $2 LIMIT $3`,
      [id, owner, limit],
    );
    return (rows as Row[]).map(toContact);
  }

  async takeOver(id: string, row: Pick<ContactRow, 'contactId' | 'owner' | 'attempts'>, owner: string, leaseUntil: number): Promise<boolean> {
    const res = await this.q(
      `UPDATE campaign_contacts SET owner = $1, lease_until = $2, updated_at = $3
       WHERE campaign_id = $4 AND contact_id = $5 AND state = 'dispatching' AND owner IS NOT DISTINCT FROM $6 AND attempts = $7`,
      [owner, leaseUntil, Date.now(), id, row.contactId, row.owner, row.attempts],
    );
    return res.rowCount === 1;
  }

  async renewLeases(owner: string, leaseUntil: number): Promise<number> {
    const res = await this.q(`UPDATE campaign_contacts SET lease_until = $1 WHERE owner = $2 AND state = 'dispatching'`, [leaseUntil, owner]);
    return res.rowCount ?? 0;
  }

  async finishedAttempts(id: string, limit: number): Promise<FinishedAttempt[]> {
    const { rows } = await this.q(
      `SELECT c.contact_id, c.attempts, c.room, r.id AS call_id, r.outcome, r.result
       FROM campaign_contacts c JOIN call_records r ON r.room = c.room AND r.ended_at IS NOT NULL
       WHERE c.campaign_id = $1 AND c.state = 'dispatched' LIMIT $2`,
      [id, limit],
    );
    return (rows as Row[]).map((r) => ({
      contactId: r.contact_id as string,
      attempt: r.attempts as number,
      room: r.room as string,
      callId: r.call_id as string,
      outcome: parse<CallOutcome>(r.outcome) ?? { kind: 'error', error: 'call record finished without an outcome' },
      result: parse<Record<string, unknown>>(r.result),
    }));
  }

  async overdue(id: string, dispatchedBefore: number, limit: number): Promise<OverdueAttempt[]> {
    const { rows } = await this.q(
      `SELECT c.contact_id, c.attempts, c.room, c.dispatched_at,
         EXISTS (SELECT 1 FROM call_records r WHERE r.room = c.room) AS started
       FROM campaign_contacts c
       WHERE c.campaign_id = $1 AND c.state = 'dispatched' AND c.dispatched_at < $2
         AND NOT EXISTS (SELECT 1 FROM call_records r WHERE r.room = c.room AND r.ended_at IS NOT NULL)
       LIMIT $3`,
      [id, dispatchedBefore, limit],
    );
    return (rows as Row[]).map((r) => ({
      contactId: r.contact_id as string,
      attempt: r.attempts as number,
      room: r.room as string,
      dispatchedAt: r.dispatched_at as number,
      started: r.started === true,
    }));
  }

  async recordOutcome(id: string, u: OutcomeUpdate): Promise<boolean> {
    const kind = u.outcome.kind;
    const outcome = JSON.stringify(u.outcome);
    const result = json(u.result);
    return transaction(this.pool, async (c) => {
      const res = await c.query(
        // A contact removed from the file while its call was out gets no retry.
        `UPDATE campaign_contacts SET state = CASE WHEN removed_pass IS NOT NULL THEN 'done' ELSE $1 END,
           next_at = CASE WHEN removed_pass IS NOT NULL THEN 0 ELSE $2::bigint END, last_outcome = $3, outcome = $4, result = $5,
           owner = NULL, lease_until = NULL, updated_at = $6
         WHERE campaign_id = $7 AND contact_id = $8 AND attempts = $9 AND ${IN_FLIGHT}`,
        [u.next.state, u.next.state === 'pending' ? Math.round(u.next.nextAt) : 0, kind, outcome, result, u.endedAt, id, u.contactId, u.attempt],
      );
      if (res.rowCount !== 1) return false;
      await c.query(
        `UPDATE campaign_attempts SET ended_at = $1, outcome_kind = $2, outcome = $3, result = $4, call_id = $5
         WHERE campaign_id = $6 AND contact_id = $7 AND attempt = $8`,
        [u.endedAt, kind, outcome, result, u.callId, id, u.contactId, u.attempt],
      );
      return true;
    });
  }

  async noteRedispatch(id: string, contactId: string, attempt: number): Promise<void> {
    await this.q('UPDATE campaign_attempts SET redispatches = redispatches + 1 WHERE campaign_id = $1 AND contact_id = $2 AND attempt = $3', [
      id,
      contactId,
      attempt,
    ]);
  }

  async activity(id: string): Promise<{ inFlight: number; nextAt: number | null }> {
    const { rows } = await this.q(
      `SELECT (SELECT count(*) FROM campaign_contacts WHERE campaign_id = $1 AND ${IN_FLIGHT}) AS n,
         (SELECT min(next_at) FROM campaign_contacts WHERE campaign_id = $1 AND state = 'pending') AS t`,
      [id],
    );
    return { inFlight: rows[0].n as number, nextAt: (rows[0].t as number | null) ?? null };
  }

  async progress(id: string): Promise<CampaignProgress> {
    const p: CampaignProgress = { pending: 0, dispatching: 0, dispatched: 0, done: 0, excluded: 0, nextAt: null };
    const counts = await this.q('SELECT state, count(*) AS n FROM campaign_contacts WHERE campaign_id = $1 GROUP BY state', [id]);
    for (const r of counts.rows as { state: ContactState; n: number }[]) p[r.state] = r.n;
    p.nextAt = (await this.activity(id)).nextAt;
    return p;
  }

  async stats(id: string): Promise<CampaignStats> {
    const outcomes = await this.q(
      `SELECT last_outcome AS k, count(*) AS n FROM campaign_contacts WHERE campaign_id = $1 AND state = 'done' GROUP BY last_outcome`,
      [id],
    );
    const attempts = await this.q(
      `SELECT coalesce(outcome_kind, CASE WHEN ended_at IS NULL THEN 'in_flight' END) AS k, count(*) AS n
       FROM campaign_attempts WHERE campaign_id = $1 GROUP BY 1`,
      [id],
    );
    const bad = await this.q('SELECT count(*) AS n FROM campaign_bad_rows WHERE campaign_id = $1', [id]);
    return statsFrom(id, await this.progress(id), outcomes.rows as { k: string; n: number }[], attempts.rows as { k: string; n: number }[], bad.rows[0].n as number);
  }

  async badRows(id: string, limit = 1_000_000): Promise<BadRow[]> {
    const { rows } = await this.q('SELECT line, reason FROM campaign_bad_rows WHERE campaign_id = $1 ORDER BY line LIMIT $2', [id, limit]);
    return rows as BadRow[];
  }

  async *exportRows(id: string): AsyncIterable<ExportRow> {
    // Page by line so memory stays flat and no connection is held between pages.
    let after = { line: -1, cid: '' };
    for (;;) {
      const { rows } = await this.q(
        `SELECT * FROM campaign_contacts WHERE campaign_id = $1 AND (line > $2 OR (line = $2 AND contact_id > $3))
         ORDER BY line, contact_id LIMIT 1000`,
        [id, after.line, after.cid],
      );
      if (rows.length === 0) return;
      for (const raw of rows as Row[]) {
        const c = toContact(raw);
        after = { line: c.line, cid: c.contactId };
        yield toExportRow(c);
      }
    }
  }
}

/** One contact row of an import; the rules are SQLite's `importOne` (see there). */
async function importOne(c: pg.PoolClient, campaignId: string, pass: number, row: ContactInput, now: number): Promise<ImportRowResult> {
  const values = [campaignId, row.contactId, row.line, pass, row.phone, row.name, row.appointmentId, row.zones.join('|'), row.zoneSource, JSON.stringify(row.fields)];
  // ON CONFLICT DO NOTHING rather than catching the violation: in PostgreSQL a failed statement
  // would abort the whole import transaction.
  const ins = await c.query(
    `INSERT INTO campaign_contacts (campaign_id, contact_id, line, seen_pass, phone, name, appointment_id, zones,
       zone_source, fields, state, next_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, $11) ON CONFLICT DO NOTHING RETURNING contact_id`,
    [...values, now],
  );
  if (ins.rowCount === 1) return { status: 'new' };
  // Locked, so the state read here is the state changed below (SQLite's write lock gives the same):
  // a claim passes the row over (SKIP LOCKED), an outcome waits for this import to commit.
  const clash = (
    await c.query(
      `SELECT contact_id, line, seen_pass, phone, state, note, removed_pass FROM campaign_contacts
       WHERE campaign_id = $1 AND (contact_id = $2 OR phone = $3) ORDER BY (contact_id = $2) DESC LIMIT 1 FOR UPDATE`,
      [campaignId, row.contactId, row.phone],
    )
  ).rows[0] as
    | { contact_id: string; line: number; seen_pass: number; phone: string; state: ContactState; note: string | null; removed_pass: number | null }
    | undefined;
  if (!clash) throw new Error(`contact ${row.contactId} clashed with a row that is gone`);
  const same = clash.contact_id === row.contactId && clash.phone === row.phone;
  const change = (kind: ImportChange['kind'], oldPhone: string | null, newPhone: string | null) =>
    c.query(
      `INSERT INTO campaign_changes (campaign_id, pass, kind, contact_id, line, old_phone, new_phone, state_before)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [campaignId, pass, kind, row.contactId, row.line, oldPhone, newPhone, clash.state],
    );
  // The same row again: from an earlier pass (resume, an edited file), or from a concurrent importer of the same file.
  if (same && (clash.seen_pass < pass || clash.line === row.line)) {
    if (clash.seen_pass < pass) {
      // A row removed by an earlier import and now back in the file is pending again.
      await c.query(
        `UPDATE campaign_contacts SET line = $3, seen_pass = $4, name = $6, appointment_id = $7, zones = $8, zone_source = $9, fields = $10,
           state = CASE WHEN ${RESTORABLE} THEN 'pending' ELSE state END,
           next_at = CASE WHEN ${RESTORABLE} THEN 0 ELSE next_at END,
           note = CASE WHEN ${RESTORABLE} THEN NULL ELSE note END,
           removed_pass = NULL
         WHERE campaign_id = $1 AND contact_id = $2 AND phone = $5`,
        values,
      );
      if (clash.removed_pass !== null && clash.state === 'excluded' && clash.note === REMOVED_NOTE) {
        await change('restored', null, row.phone);
        return { status: 'restored' };
      }
    }
    return { status: 'seen' };
  }
  // The file now gives this contact another number (the old one was wrong).
  if (clash.contact_id === row.contactId && clash.seen_pass < pass) {
    if (clash.state === 'dispatching' || clash.state === 'dispatched') {
      await c.query('UPDATE campaign_contacts SET seen_pass = $1 WHERE campaign_id = $2 AND contact_id = $3', [pass, campaignId, row.contactId]);
      return { status: 'in_flight', phone: clash.phone };
    }
    // The new number may be another contact's: a savepoint keeps that unique violation from
    // aborting the whole import transaction.
    await c.query('SAVEPOINT replace_number');
    try {
      await c.query(
        `UPDATE campaign_contacts SET phone = $5, line = $3, seen_pass = $4, name = $6,
           appointment_id = $7, zones = $8, zone_source = $9, fields = $10,
           state = 'pending', next_at = 0, note = NULL, removed_pass = NULL, updated_at = $11
         WHERE campaign_id = $1 AND contact_id = $2 AND NOT ${IN_FLIGHT}`,
        [...values, now],
      );
      await c.query('RELEASE SAVEPOINT replace_number');
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err;
      await c.query('ROLLBACK TO SAVEPOINT replace_number');
      const other = (await c.query('SELECT line FROM campaign_contacts WHERE campaign_id = $1 AND phone = $2', [campaignId, row.phone])).rows[0] as {
        line: number;
      };
      return { status: 'duplicate', of: other.line, by: 'phone' };
    }
    await change('number_changed', clash.phone, row.phone);
    return { status: 'changed', from: clash.phone };
  }
  return { status: 'duplicate', of: clash.line, by: clash.phone === row.phone ? 'phone' : 'contact_id' };
}
