/**
 * A whole outbound campaign, offline: the real `campaign run` CLI dispatches through the
 * LiveKit API emulator, the sandbox turns each dispatch into a simulated call (the real agent
 * code, a callee on a G.711 line) whose SIP outcome is the one the emulator plays for that
 * number, and the outcomes reach the dispatcher through the shared store.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dispose } from '@livekit/rtc-node';
import { startSandboxService } from '../src/cli/sandbox.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, HOME: tmpdir(), ...env }, cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

after(async () => {
  await dispose();
});

describe('sandbox campaign', () => {
  it('answer, busy and voicemail numbers end as completed, busy and voicemail, each room deleted once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-camp-'));
    const storePath = join(dir, 'switchboard.db');
    const service = await startSandboxService({
      livekitPort: 0,
      storePath,
      speed: 4,
      msPerChar: 40,
      outcomes: { '+442079460001': 'answer', '+442079460002': 'busy', '+442079460003': 'voicemail' },
    });
    try {
      const csv = join(dir, 'contacts.csv');
      // The UK's drama range (020 7946 0xxx): valid numbers that are never assigned.
      writeFileSync(csv, 'phone,name,clinic_note\n+442079460001,Ana Diaz,front desk\n+442079460002,Bo Lee,\n+442079460003,Cy Park,\n');
      const env = { ...service.env, STORE_URL: `sqlite:${storePath}`, ALLOWED_COUNTRIES: 'GB', RETRY_MAX_ATTEMPTS: '1', CALLING_WINDOW: '00:00-23:59', CAMPAIGN_CPS: '0' };
      const r = await run(['campaign', 'run', csv, '--campaign', 'offline-1', '--json'], env);
      assert.equal(r.code, 0, r.stderr);
      const runReport = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      assert.equal(runReport.complete, true, r.stdout);

      const status = await run(['campaign', 'status', 'offline-1', '--json'], env);
      const s = JSON.parse(status.stdout.trim().split('\n').at(-1)!);
      assert.deepEqual(s.byOutcome, { busy: 1, completed: 1, voicemail: 1 });

      const lk = service.sandbox.livekit;
      assert.equal(lk.count('CreateDispatch'), 3);
      assert.equal(lk.count('CreateSIPParticipant'), 3);
      for (const req of lk.requests().filter((q) => q.method === 'CreateDispatch')) {
        const room = (req.body as { room: string }).room;
        assert.equal(lk.count('DeleteRoom', { room }), 1, `room ${room}`);
      }
      // The contact's extra column travelled in the dispatch metadata.
      const first = lk.requests().find((q) => q.method === 'CreateDispatch' && JSON.stringify(q.body).includes('+442079460001'))!;
      assert.match(JSON.stringify(first.body), /clinic_note.*front desk/);
    } finally {
      await service.close();
    }
  });
});
