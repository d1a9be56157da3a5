/**
 * Which call the code running now belongs to, so every log line and span of a call says so.
 *
 * A call host runs many calls in one process, and the framework logs through one global pino
 * logger (`log()`), so a line from the framework's session code cannot be told apart from another
 * call's by where it was written. The call's `callId` and `room` are kept in an AsyncLocalStorage
 * for the whole of `runCall` (everything the call starts, the framework's streams included, runs
 * inside it), and a pino mixin on the framework's logger adds them to every line written from
 * there. Lines that pass their own `callId` keep it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { log } from '@livekit/agents';
import type { Logger } from 'pino';
import { symbols } from 'pino';

export interface CallContext {
  callId: string;
  room: string;
}

const current = new AsyncLocalStorage<CallContext>();
const withMixin = new WeakSet<object>();

type Mixin = (obj: object, level: number, logger: Logger) => object;

/** Adds the current call to every line of the framework's logger (once per logger instance). */
function installMixin(): void {
  let root: Logger;
  try {
    root = log();
  } catch {
    return; // no logger yet (a unit test without one): nothing to annotate
  }
  if (withMixin.has(root)) return;
  withMixin.add(root);
  const holder = root as unknown as Record<symbol, Mixin | undefined>;
  const previous = holder[symbols.mixinSym];
  holder[symbols.mixinSym] = (obj, level, logger) => {
    const call = current.getStore();
    const before = previous ? previous(obj, level, logger) : {};
    return call ? { ...before, callId: call.callId, room: call.room } : before;
  };
}

/** Runs `fn` as part of a call: its log lines and spans carry the call's id and room. */
export function withCallContext<T>(call: CallContext, fn: () => T): T {
  installMixin();
  return current.run({ callId: call.callId, room: call.room }, fn);
}

/** The call the running code belongs to, if any. */
export function currentCall(): CallContext | undefined {
  return current.getStore();
}
