/**
 * Call records that survive a store that will not take them. The first and the final write of a
 * call record are retried with backoff; a final write that still fails is spooled to a local
 * journal file (NDJSON, one write per line) and replayed into the store on the next start, so a
 * locked or full database never leaves a record "in progress" forever (a campaign would wait 30
 * minutes for it and then count the call as an error).
 *
 * `withRecordJournal(store, …)` wraps a store's call records; nothing above the store changes. A
 * start that cannot be written is journaled too (the finish needs it) and then reported, so the
 * call lifecycle can end the call the way that deletes the room.
 */
import { appendFile, mkdir, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { CallRecordStore, Store } from './store.js';
import { StoreError, notFinishable } from './store.js';
import type { CallFinish, CallRecord, CallStart } from './types.js';

type Entry = { op: 'start'; call: CallStart } | { op: 'finish'; id: string; finish: CallFinish };

export interface JournalOptions {
  /** The journal file; replay reads it (and any replay a crash interrupted) and rewrites what is left. */
  path: string;
  /** Waits before each retry of the first write: short, because the caller is on the line. */
  startRetryMs?: readonly number[];
  /** Waits before each retry of the final write (jittered ±25%); the room is already gone by then. */
  finishRetryMs?: readonly number[];
  /** Told about every write that had to be retried or journaled. */
  onEvent?: (event: JournalEvent) => void;
}

export type JournalEvent =
  | { kind: 'retry'; op: 'start' | 'finish'; id: string; attempt: number; error: string }
  | { kind: 'journaled'; op: 'start' | 'finish'; id: string; path: string; error: string }
  | { kind: 'journal_failed'; op: 'start' | 'finish'; id: string; path: string; error: string };

const START_RETRY_MS = [100, 400];
const FINISH_RETRY_MS = [250, 500, 1000, 2000, 4000];

export function withRecordJournal(store: Store, options: JournalOptions): Store {
  const calls = new JournaledCalls(store.calls, options);
  return new Proxy(store, { get: (target, key, receiver) => (key === 'calls' ? calls : Reflect.get(target, key, receiver)) });
}

class JournaledCalls implements CallRecordStore {
  /** Records this process had to journal, so `get` can still answer while the store is down. */
  private readonly spooled = new Map<string, CallRecord>();

  constructor(
    private readonly inner: CallRecordStore,
    private readonly o: JournalOptions,
  ) {}

  async start(call: CallStart): Promise<void> {
    try {
      await this.retrying('start', call.id, this.o.startRetryMs ?? START_RETRY_MS, () => this.inner.start(call));
    } catch (err) {
      await this.spool({ op: 'start', call }, call.id, err);
      this.spooled.set(call.id, { ...call, finished: false });
      throw new StoreError(`call record ${call.id} could not be started (kept in ${this.o.path} for the next start): ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async finish(id: string, finish: CallFinish): Promise<void> {
    const spooledStart = this.spooled.get(id);
    if (spooledStart?.finished) throw notFinishable(id, true);
    try {
      // A start that only reached the journal: the finish goes there too, after it.
      if (spooledStart && !spooledStart.finished) throw new StoreError(`call record ${id} was journaled`, { code: 'not_found' });
      await this.retrying('finish', id, this.o.finishRetryMs ?? FINISH_RETRY_MS, () => this.inner.finish(id, finish));
    } catch (err) {
      const code = (err as StoreError).code;
      if (code === 'already_finished' || (code === 'not_found' && !spooledStart)) throw err;
      await this.spool({ op: 'finish', id, finish }, id, err);
      this.spooled.set(id, { ...(spooledStart ?? (await this.inner.get(id).catch(() => undefined)) ?? placeholder(id)), ...finish, finished: true });
    }
  }

  async get(id: string): Promise<CallRecord | undefined> {
    const mine = this.spooled.get(id);
    try {
      const rec = await this.inner.get(id);
      return mine?.finished && !rec?.finished ? mine : rec;
    } catch (err) {
      if (mine) return mine;
      throw err;
    }
  }

  findByRoom(room: string): Promise<CallRecord | undefined> {
    return this.inner.findByRoom(room);
  }

  list(options?: { limit?: number; campaignId?: string }): Promise<CallRecord[]> {
    return this.inner.list(options);
  }

  openOnHost(host: string): Promise<CallRecord[]> {
    return this.inner.openOnHost(host);
  }

  private async retrying(op: 'start' | 'finish', id: string, waits: readonly number[], write: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        const code = (err as StoreError).code;
        if (attempt >= waits.length || code === 'already_finished' || code === 'not_found') throw err;
        this.o.onEvent?.({ kind: 'retry', op, id, attempt: attempt + 1, error: (err as Error).message });
        await sleep(waits[attempt]! * (0.75 + Math.random() * 0.5));
      }
    }
  }

  private async spool(entry: Entry, id: string, cause: unknown): Promise<void> {
    const error = (cause as Error).message;
    try {
      await mkdir(dirname(this.o.path), { recursive: true });
      await appendFile(this.o.path, JSON.stringify(entry) + '\n');
    } catch (err) {
      this.o.onEvent?.({ kind: 'journal_failed', op: entry.op, id, path: this.o.path, error: (err as Error).message });
      throw new StoreError(`call record ${id} could be written neither to the store (${error}) nor to ${this.o.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.o.onEvent?.({ kind: 'journaled', op: entry.op, id, path: this.o.path, error });
  }
}

function placeholder(id: string): CallRecord {
  return { id, room: '', direction: 'inbound', callerNumber: null, startedAt: '', finished: false };
}

export interface ReplayResult {
  /** Entries now in the store (or found there already). */
  replayed: number;
  /** Entries the store still refused; left in the journal for the next start. */
  kept: number;
  /** Entries that can never apply (unreadable, or a finish for a call no journal or store knows): moved to `<path>.rejected`. */
  rejected: number;
}

/**
 * Puts journaled writes into the store, in order. Safe to run while other processes append: the
 * journal is moved aside first, and what is left goes back by appending.
 */
export async function replayRecordJournal(store: Store, path: string): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: 0, kept: 0, rejected: 0 };
  const dir = dirname(path);
  const names = await readdir(dir).catch(() => [] as string[]);
  const aside = names.filter((n) => n.startsWith(`${basename(path)}.replaying-`)).map((n) => join(dir, n));
  if (names.includes(basename(path))) {
    const mine = `${path}.replaying-${process.pid}-${Date.now()}`;
    await rename(path, mine);
    aside.push(mine);
  }
  for (const file of aside) {
    const kept: string[] = [];
    const rejected: string[] = [];
    const unstarted = new Set<string>();
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      if (!line.trim()) continue;
      let entry: Entry;
      try {
        entry = JSON.parse(line) as Entry;
      } catch {
        rejected.push(line);
        result.rejected++;
        continue;
      }
      const outcome = await apply(store, entry, unstarted);
      if (outcome === 'kept') kept.push(line);
      else if (outcome === 'rejected') rejected.push(line);
      result[outcome === 'done' ? 'replayed' : outcome]++;
    }
    if (kept.length > 0) await appendFile(path, kept.join('\n') + '\n');
    if (rejected.length > 0) await appendFile(`${path}.rejected`, rejected.join('\n') + '\n');
    await unlink(file);
  }
  return result;
}

async function apply(store: Store, entry: Entry, unstarted: Set<string>): Promise<'done' | 'kept' | 'rejected'> {
  if (entry.op === 'start') {
    try {
      await store.calls.start(entry.call);
      return 'done';
    } catch (err) {
      if (await store.calls.get(entry.call.id).catch(() => undefined)) return 'done';
      unstarted.add(entry.call.id);
      return 'kept';
    }
  }
  if (unstarted.has(entry.id)) return 'kept';
  try {
    await store.calls.finish(entry.id, entry.finish);
    return 'done';
  } catch (err) {
    const code = (err as StoreError).code;
    if (code === 'already_finished') return 'done';
    if (code === 'not_found') return 'rejected';
    return 'kept';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
