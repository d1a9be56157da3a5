/**
 * Failure injection for simulated calls (scenario `fault:` and `slowStore:` steps), in one place so
 * every way a scenario breaks the world goes through the same wrapper: an appointment book that
 * can be made slow (a loaded database) or failing (a database gone away mid-call), and provider
 * outages played by the sandbox's emulators on this call's traffic.
 */
import { delay } from '@livekit/agents';
import type { SimSandbox } from '../sandbox/sandbox.js';
import type { AppointmentStore, Store } from '../store/index.js';
import type { Fault } from './scenario.js';

/** The faults a scenario can inject into one call. */
export interface CallFaults {
  /** The store the call is given: the real one, until a store fault or a slowdown is injected. */
  store: Store;
  /** The fault takes effect now (the driver picks the moment). */
  inject(fault: Fault): void;
  /** From now on every appointment-store call takes `ms` longer. */
  slowStore(ms: number): void;
}

/**
 * One call's faults. `emulators` is null when the providers are real: a live run cannot make a
 * real provider fail on cue, so a provider fault is an error there.
 */
export function callFaults(inner: Store, emulators: SimSandbox | null, key: string): CallFaults {
  let failing = false;
  let slowMs = 0;
  const appointments = new Proxy(inner.appointments, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (slowMs > 0) await delay(slowMs);
        // Checked after the wait: a query already waiting on a slow database meets the outage too.
        if (failing) throw new Error('emulated fault: the appointment database is unreachable');
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as AppointmentStore;
  return {
    store: { ...pick(inner), appointments },
    inject(fault) {
      if (fault === 'store') failing = true;
      else if (emulators) applyProviderFault(emulators, key, fault);
      else throw new Error(`the ${fault} fault needs the provider emulators; a live run cannot fail a real provider on cue`);
    },
    slowStore(ms) {
      slowMs = ms;
    },
  };
}

/** The store's parts as plain properties (a spread of a class instance would drop its getters' owner). */
function pick(s: Store): Store {
  return { calls: s.calls, appointments: s.appointments, campaigns: s.campaigns, webhooks: s.webhooks, messages: s.messages, retention: s.retention, schema: s.schema, close: () => s.close() };
}

/** What each fault is, in a simulated call's narration. */
export const FAULT_NOTES: Record<Fault, string> = {
  store: 'the appointment store starts failing',
  'stt-drop': "Deepgram drops the call's connection",
  'stt-down': "Deepgram drops the call's connection and refuses new ones",
  tts: 'Cartesia starts failing every generation',
};

/**
 * A provider fault on this call's traffic (the emulators route by the call's key `key`): Deepgram
 * closes the socket mid-stream as its servers do (1011), optionally refusing reconnects (503);
 * Cartesia answers every generation with a 500 error.
 */
function applyProviderFault(sandbox: SimSandbox, key: string, fault: Exclude<Fault, 'store'>): void {
  const missing = () => new Error(`the ${fault} fault needs the in-process sandbox (its emulators' fault controls)`);
  if (fault === 'tts') {
    if (!sandbox.cartesia) throw missing();
    sandbox.cartesia.failNext(key, { status: 500, message: 'emulated fault: Cartesia is down', count: Infinity });
    return;
  }
  const dg = sandbox.deepgram;
  if (!dg.dropConnections || !dg.setBehaviour) throw missing();
  if (fault === 'stt-down') dg.setBehaviour(key, { rejectStatus: 503 });
  dg.dropConnections(key);
}
