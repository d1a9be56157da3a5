import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MIGRATIONS } from '../src/store/sqliteMigrations.js';
import { BACKENDS } from './helpers/backends.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');

async function migrate(env: NodeJS.ProcessEnv): Promise<{ code: number | null; json: Record<string, unknown>; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'db', 'migrate', '--json'], { env: { ...process.env, LOG_LEVEL: 'error', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  return { code, json: JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>, stderr };
}

for (const backend of BACKENDS) {
  describe(`switchboard db migrate (${backend.name})`, () => {
    it('applies every migration once, then has nothing to do', async () => {
      const url = await backend.location();
      const first = await migrate({ STORE_URL: url });
      assert.equal(first.code, 0, first.stderr);
      const all = MIGRATIONS.map((_, i) => i + 1);
      assert.deepEqual([first.json.backend, first.json.from, first.json.version, first.json.applied], [backend.name, 0, all.length, all]);
      const again = await migrate({ STORE_URL: url });
      assert.deepEqual([again.json.from, again.json.applied], [all.length, []]);
    });
  });
}

describe('switchboard db migrate: a store that cannot be opened', () => {
  it('fails naming the setting the location came from (STORE_PATH, the deprecated alias, too)', async () => {
    // A file where a directory of the path should be.
    const file = join(mkdtempSync(join(tmpdir(), 'sb-db-')), 'plain-file');
    writeFileSync(file, 'x');
    const r = await migrate({ STORE_URL: '', STORE_PATH: join(file, 'sub', 'store.db') });
    assert.equal(r.code, 1);
    assert.equal(r.json.ok, false);
    assert.match(String(r.json.error), /cannot open the store at \S+plain-file\/sub\/store\.db \(STORE_PATH\): ENOTDIR/);
    assert.match(r.stderr, /STORE_PATH is deprecated: set STORE_URL=sqlite:<file> instead/);
  });
});
