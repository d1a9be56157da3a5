/**
 * Failure injection for simulated calls: a store whose appointment book can be made to fail on
 * demand, the way a database that goes away mid-call would.
 */
import type { AppointmentStore, Store } from '../store/index.js';

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
  const store: Store = { calls: inner.calls, appointments, close: () => inner.close() };
  return { store, fail: () => (failing = true) };
}
