/**
 * Failure injection for simulated calls (scenario `fault:` steps): a store whose appointment book
 * can be made to fail on demand, the way a database that goes away mid-call would, and provider
 * outages played by the sandbox's emulators on this call's traffic.
 */
import type { SimSandbox } from '../sandbox/sandbox.js';
import type { AppointmentStore, Store } from '../store/index.js';
import type { Fault } from './scenario.js';

export function faultableStore(inner: Store): { store: Store; fail: () => void } {
  let failing = false;
  const appointments = new Proxy(inner.appointments, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (failing) return Promise.reject(new Error('emulated fault: the appointment database is unreachable'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as AppointmentStore;
  const store: Store = { ...pick(inner), appointments };
  return { store, fail: () => (failing = true) };
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
export function applyProviderFault(sandbox: SimSandbox, key: string, fault: Exclude<Fault, 'store'>): void {
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
