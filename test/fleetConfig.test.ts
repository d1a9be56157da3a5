import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, redactedConfig, storeTarget } from '../src/config.js';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

describe('fleet config: STORE_URL and webhooks', () => {
  it('STORE_URL defaults to the SQLite file; STORE_PATH still works as its deprecated alias; STORE_URL wins', () => {
    assert.deepEqual(storeTarget(loadConfig({})), { url: 'sqlite:./data/switchboard.db', setting: 'STORE_URL' });
    assert.deepEqual(storeTarget(loadConfig({ STORE_PATH: '/var/lib/sb.db' })), { url: 'sqlite:/var/lib/sb.db', setting: 'STORE_PATH' });
    assert.deepEqual(storeTarget(loadConfig({ STORE_PATH: '/var/lib/sb.db', STORE_URL: 'postgres://sb@db/sb' })), {
      url: 'postgres://sb@db/sb',
      setting: 'STORE_URL',
    });
  });

  it('a bad STORE_URL is named, and a password in it is never shown', () => {
    assert.throws(() => loadConfig({ STORE_URL: 'mysql://sb:hunter2@db/sb' }), (e: ConfigError) => {
      assert.match(e.message, /STORE_URL: must be sqlite:<file> or postgres:\/\/.* \(got "mysql:\/\/sb:\*\*\*@db\/sb"\)/);
      assert.doesNotMatch(e.message, /hunter2/);
      return true;
    });
    const shown = redactedConfig(loadConfig({ STORE_URL: 'postgres://sb:hunter2@db:5432/sb' }));
    assert.equal(shown.STORE_URL, 'postgres://sb:***@db:5432/sb');
  });

  it('WEBHOOK_URL takes several endpoints; a bad one is a named config error; a secret is required with it', () => {
    const c = loadConfig({ WEBHOOK_URL: 'https://a.example/hook, http://127.0.0.1:9000/x', WEBHOOK_SECRET: SECRET });
    assert.deepEqual(c.WEBHOOK_URL, ['https://a.example/hook', 'http://127.0.0.1:9000/x']);
    assert.throws(() => loadConfig({ WEBHOOK_URL: 'https://a.example/hook,ftp://b.example', WEBHOOK_SECRET: SECRET }), /WEBHOOK_URL: must be an http:\/\/ or https:\/\/ URL/);
    assert.throws(() => loadConfig({ WEBHOOK_URL: 'not a url', WEBHOOK_SECRET: SECRET }), /WEBHOOK_URL: must be a URL/);
    assert.throws(() => loadConfig({ WEBHOOK_URL: 'https://a.example/hook' }), /WEBHOOK_SECRET: not set .*needed because WEBHOOK_URL is set/);
    assert.throws(() => loadConfig({ WEBHOOK_URL: 'https://a.example/hook', WEBHOOK_SECRET: 'short' }), (e: ConfigError) => {
      assert.match(e.message, /WEBHOOK_SECRET: must be whsec_/);
      assert.doesNotMatch(e.message, /short"/, 'the secret is not echoed');
      return true;
    });
  });
});
