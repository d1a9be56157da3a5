import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';
import { configWarnings } from '../src/configWarnings.js';
import { redactUrl, waitForLiveKit } from '../src/livekit/waitForServer.js';

const WORKER = join(import.meta.dirname, '..', 'src', 'worker.js');

describe('config that would start a dead desk', () => {
  it('an unknown BUSINESS_TIMEZONE is a named problem at load', () => {
    assert.throws(
      () => loadConfig({ BUSINESS_TIMEZONE: 'Mars/Olympus' }),
      (e: ConfigError) => e instanceof ConfigError && e.exitCode === 2 && /BUSINESS_TIMEZONE: not an IANA time zone.*Mars\/Olympus/.test(e.message),
    );
    assert.equal(loadConfig({ BUSINESS_TIMEZONE: 'Europe/London' }).BUSINESS_TIMEZONE, 'Europe/London');
  });

  it('the worker exits 2 naming BUSINESS_TIMEZONE', () => {
    const r = spawnSync(process.execPath, [WORKER, 'start'], {
      env: { PATH: process.env.PATH, HOME: tmpdir(), BUSINESS_TIMEZONE: 'Mars/Olympus' },
      cwd: tmpdir(),
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /BUSINESS_TIMEZONE/);
  });

  it('warns on overnight or unsociable calling windows, not on the default', () => {
    const base = loadConfig({});
    assert.deepEqual(configWarnings(base), []);
    assert.match(configWarnings({ ...base, CALLING_WINDOW: '20:00-09:00' }).join('\n'), /CALLING_WINDOW=20:00-09:00 runs overnight/);
    assert.match(configWarnings({ ...base, CALLING_WINDOW: '07:00-22:30' }).join('\n'), /before 08:00 or after 21:00/);
  });

  it('warns on TRANSFER_ALLOWLIST entries that transfers will refuse (premium rate, emergency)', () => {
    const c = loadConfig({ TRANSFER_ALLOWLIST: '+15105550100,+19005550123,sip:911@carrier.example' });
    const w = configWarnings(c).join('\n');
    assert.match(w, /\+19005550123 will be refused: .*premium-rate/);
    assert.match(w, /sip:911@carrier\.example will be refused: .*emergency/);
    assert.doesNotMatch(w, /\+15105550100/);
  });

  it('credentials inside an invalid LIVEKIT_URL are not echoed in the config error either', () => {
    assert.throws(
      () => loadConfig({ LIVEKIT_URL: 'ftp://apikey:s3cret-value@lk.example.com' }),
      (e: Error) => /LIVEKIT_URL: .*ftp:\/\/apikey:\*\*\*@lk\.example\.com/.test(e.message) && !e.message.includes('s3cret-value'),
    );
  });

  it('credentials inside LIVEKIT_URL never reach the waiting line', async () => {
    assert.equal(redactUrl('wss://key:hunter2@lk.example.com:7880/?access_token=tok123'), 'wss://REDACTED:REDACTED@lk.example.com:7880/?access_token=REDACTED');
    const lines: string[] = [];
    const stop = new AbortController();
    // Port 9 on loopback: nothing listens, so the worker would wait and say so.
    const waiting = waitForLiveKit('ws://apikey:s3cret-value@127.0.0.1:9/?token=abc', (l) => {
      lines.push(l);
      stop.abort();
    }, { intervalMs: 10, signal: stop.signal });
    await waiting;
    assert.ok(lines.length > 0);
    const said = lines.join('\n');
    assert.ok(!said.includes('s3cret-value') && !said.includes('apikey') && !said.includes('abc'), said);
    assert.match(said, /127\.0\.0\.1:9/);
  });
});
