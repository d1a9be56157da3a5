/**
 * Provider selection from config, and what a second provider buys: the framework's
 * FallbackAdapter moves to it when the first fails, and the caller still gets an answer.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { llm, stt, tts, voice } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import { loadConfig } from '../src/config.js';
import { OpenAIEmulator } from '../src/sandbox/openaiEmulator.js';
import { PROFILE_RATES, buildProviders, isPhoneProfile, phoneProfile } from '../src/session/providers.js';
import { roomIoOptions } from '../src/session/sessionFactory.js';
import { RestartableSTT } from '../src/session/restartableStt.js';

let emu: OpenAIEmulator;
before(async () => {
  emu = await new OpenAIEmulator().start();
});
after(async () => {
  await emu.close();
});

const keys = { DEEPGRAM_API_KEY: 'k', OPENAI_API_KEY: 'k', CARTESIA_API_KEY: 'k' };

describe('providers', () => {
  it('one provider of a kind is used directly, at the phone rates (the STT in a RestartableSTT)', () => {
    const p = buildProviders(loadConfig(keys), 'phone');
    assert.ok(p.stt instanceof RestartableSTT);
    assert.ok(p.stt.inner instanceof deepgram.STT);
    assert.equal(p.stt.label, 'deepgram.STT', "metrics keep the provider's label");
    assert.equal(p.tts.sampleRate, 8000);
    assert.ok(!(p.llm instanceof llm.FallbackAdapter));
    assert.equal(buildProviders(loadConfig(keys), 'browser').tts.sampleRate, 24000);
  });

  it('a wideband trunk (SIP_WIDEBAND) runs phone calls at 16 kHz end to end; a G.711 trunk stays at 8 kHz', () => {
    assert.equal(phoneProfile(loadConfig(keys)), 'phone');
    const profile = phoneProfile(loadConfig({ ...keys, SIP_WIDEBAND: 'true' }));
    assert.equal(profile, 'phone-wideband');
    assert.ok(isPhoneProfile(profile), 'still a phone call: transfers and keypad stay on');
    assert.ok(!isPhoneProfile('browser'));
    const p = buildProviders(loadConfig({ ...keys, SIP_WIDEBAND: 'true' }), profile);
    assert.equal(p.tts.sampleRate, 16000);
    assert.equal((p.stt as RestartableSTT).inner instanceof deepgram.STT, true);
    assert.equal(PROFILE_RATES[profile].stt, 16000);
    assert.deepEqual([roomIoOptions(profile, 'sip_x').inputOptions.audioSampleRate, roomIoOptions(profile, 'sip_x').outputOptions.audioSampleRate], [16000, 16000]);
    assert.equal(roomIoOptions('phone', 'sip_x').inputOptions.audioSampleRate, 8000);
  });

  it('a second provider of a kind is wrapped in the framework FallbackAdapter, in config order', () => {
    const p = buildProviders(
      loadConfig({ ...keys, STT_PROVIDERS: 'deepgram,cartesia', TTS_PROVIDERS: 'cartesia,deepgram', LLM_FALLBACK_MODEL: 'gpt-4.1-nano' }),
      'phone',
    );
    assert.ok(p.stt instanceof RestartableSTT && p.stt.inner instanceof stt.FallbackAdapter);
    assert.ok(p.tts instanceof tts.FallbackAdapter);
    assert.ok(p.llm instanceof llm.FallbackAdapter);
  });

  it('when the first LLM fails, the fallback answers the caller', async () => {
    emu.setBrain('primary-key', () => ({ error: { status: 503, message: 'overloaded' } }));
    emu.setBrain('fallback-key', () => ({ text: 'Fallback here, how can I help?' }));
    const config = loadConfig({
      ...keys,
      OPENAI_API_KEY: 'primary-key',
      OPENAI_BASE_URL: emu.baseURL,
      LLM_FALLBACK_MODEL: 'gpt-4.1-nano',
      LLM_FALLBACK_API_KEY: 'fallback-key',
    });
    const p = buildProviders(config, 'phone');
    const session = new voice.AgentSession({ llm: p.llm });
    await session.start({ agent: new voice.Agent({ instructions: 'Answer briefly.' }) });
    const r = await session.run({ userInput: 'Hello?' }).wait();
    const msg = r.expect.nextEvent().isMessage({ role: 'assistant' }).event().item;
    assert.equal(msg.textContent, 'Fallback here, how can I help?');
    assert.ok(emu.requestsFor('primary-key').length >= 1);
    assert.equal(emu.requestsFor('fallback-key').at(-1)?.model, 'gpt-4.1-nano');
    await session.close();
  });
});
