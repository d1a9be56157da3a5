/**
 * Where the store lives, parsed once: `sqlite:<file>` (or a bare file path, or `:memory:`) and
 * `postgres://…`. Errors name the setting the location came from (STORE_URL, or STORE_PATH, its
 * deprecated alias) and never show a password.
 */
import { StoreError } from './store.js';

export type StoreLocation =
  | { backend: 'sqlite'; path: string; setting: string; shown: string }
  | { backend: 'postgres'; url: string; setting: string; shown: string };

/** A location as given, and the setting it came from (for error messages). */
export interface StoreTarget {
  url: string;
  setting?: string;
}

export function parseStoreLocation(target: string | StoreTarget | StoreLocation): StoreLocation {
  if (typeof target !== 'string' && 'backend' in target) return target;
  const { url, setting = 'STORE_URL' } = typeof target === 'string' ? { url: target } : target;
  if (/^postgres(ql)?:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new StoreError(`${setting}: not a valid postgres:// URL`, { code: 'bad_location' });
    }
    if (parsed.password) parsed.password = '***';
    return { backend: 'postgres', url, setting, shown: parsed.toString() };
  }
  // sqlite:///abs/path.db and sqlite://./rel.db, the URL spellings people also use.
  if (url.startsWith('sqlite://')) return parseStoreLocation({ url: `sqlite:${url.slice('sqlite://'.length)}`, setting });
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new StoreError(`${setting}: unsupported store ${JSON.stringify(url.split(':')[0])}; use sqlite:<file> or postgres://…`, {
      code: 'bad_location',
    });
  }
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  if (path === '') throw new StoreError(`${setting}: sqlite: needs a file path, e.g. sqlite:./data/switchboard.db`, { code: 'bad_location' });
  return { backend: 'sqlite', path, setting, shown: path };
}

/** "the store at <where> (<SETTING>)", for every message that must say which store. */
export function named(loc: Pick<StoreLocation, 'shown' | 'setting'>): string {
  return `the store at ${loc.shown} (${loc.setting})`;
}
