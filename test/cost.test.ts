import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { callCost, describeCost, type CallUsage } from '../src/cost/costModel.js';
import { DEFAULT_PRICES, loadPriceTable, PriceTableError, type PriceTable } from '../src/cost/prices.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'cost');
const fixture = (name: string) => join(FIXTURES, name);

function near(actual: number | null, expected: number, what = 'value'): void {
  assert.ok(actual !== null, `${what}: got null, expected ${expected}`);
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: got ${actual}, expected ${expected}`);
}

/** Rounds like a person quoting a price: half up on the decimal value. */
function rounded(value: number, decimals: number): number {
  return Math.round(Number((value * 10 ** decimals).toPrecision(12))) / 10 ** decimals;
}

function call(over: Partial<CallUsage> = {}): CallUsage {
  return { durationSeconds: 60, direction: 'browser', trunk: null, stt: [], llm: [], tts: [], ...over };
}

function prices(edit?: (p: PriceTable) => void): PriceTable {
  const p = loadPriceTable();
  edit?.(p);
  return p;
}

function loadError(file: string): PriceTableError {
  try {
    loadPriceTable(file);
  } catch (err) {
    assert.ok(err instanceof PriceTableError, `expected a PriceTableError, got ${String(err)}`);
    return err;
  }
  assert.fail(`${file} loaded without error`);
}

describe('cost: default price table', () => {
  it('holds the May 2025 list prices, each entry with its source and date', () => {
    const p = loadPriceTable();
    assert.equal(p.livekit.perMinute, 0.003);
    assert.equal(p.livekit.monthlyFee, 500);
    assert.equal(p.livekit.includedMinutes, 45_000);
    assert.equal(p.livekit.feeAttribution, 'marginal');
    assert.equal(p.stt['deepgram']?.perMinute, 0.0047);
    assert.deepEqual(
      [p.llm['gpt-4.1-mini']?.cachedInputPerMTokens, p.llm['gpt-4.1-mini']?.inputPerMTokens, p.llm['gpt-4.1-mini']?.outputPerMTokens],
      [0.1, 0.4, 1.6],
    );
    assert.equal(p.tts['cartesia']?.perMinute, 0.0299);
    assert.equal(p.tts['elevenlabs']?.perMinute, 0.06);
    assert.deepEqual([p.sip['twilio']?.terminationPerMinute, p.sip['twilio']?.originationPerMinute], [0.0011, 0.0034]);
    assert.deepEqual([p.sip['telnyx']?.terminationPerMinute, p.sip['telnyx']?.originationPerMinute], [0.005, 0.0035]);
    const entries = [p.livekit, ...Object.values(p.stt), ...Object.values(p.llm), ...Object.values(p.tts), ...Object.values(p.sip)];
    for (const e of entries) {
      assert.match(e.source, /Piacquadio.*dev\.to, 2025-05-20/);
      assert.equal(e.asOf, '2025-05');
    }
  });

  it('hands out a copy: changing it leaves the defaults alone', () => {
    const p = loadPriceTable();
    p.livekit.perMinute = 99;
    assert.equal(DEFAULT_PRICES.livekit.perMinute, 0.003);
    assert.equal(loadPriceTable().livekit.perMinute, 0.003);
    assert.throws(() => {
      (DEFAULT_PRICES.livekit as { perMinute: number }).perMinute = 1;
    }, TypeError);
  });
});

describe('cost: components', () => {
  it('LiveKit bills every session minute at the marginal rate by default, browser calls included', () => {
    const c = callCost(call({ durationSeconds: 95 }), prices());
    near(c.breakdown.livekit, (95 / 60) * 0.003, 'livekit');
    near(c.totalUsd, (95 / 60) * 0.003, 'total');
    assert.equal(c.estimated, false);
    assert.deepEqual(c.notes, []);
  });

  it('LiveKit rounds each call up to the billing increment when one is set', () => {
    const c = callCost(call({ durationSeconds: 61 }), prices((p) => (p.livekit.billingIncrementSeconds = 60)));
    near(c.breakdown.livekit, 2 * 0.003, 'livekit');
    near(c.perMinuteUsd, 0.006 / (61 / 60), 'perMinute (of real minutes)');
  });

  it('LiveKit amortised: the average minute at the expected monthly volume, fee included, instead of the marginal rate', () => {
    const atIncluded = callCost(call({ durationSeconds: 60 }), prices((p) => (p.livekit.feeAttribution = 'amortised')));
    near(atIncluded.breakdown.livekit, 500 / 45_000, 'at the included 45,000 min');
    assert.match(atIncluded.notes.join('\n'), /amortised over 45000 min\/month/);
    assert.equal(atIncluded.estimated, false);

    const busy = prices((p) => {
      p.livekit.feeAttribution = 'amortised';
      p.livekit.expectedMonthlyMinutes = 100_000;
    });
    near(callCost(call(), busy).breakdown.livekit, (500 + 0.003 * 55_000) / 100_000, 'at 100,000 min');
    const quiet = prices((p) => {
      p.livekit.feeAttribution = 'amortised';
      p.livekit.expectedMonthlyMinutes = 20_000;
    });
    near(callCost(call(), quiet).breakdown.livekit, 500 / 20_000, 'at 20,000 min (fee over fewer minutes)');
  });

  it('STT bills minutes of audio sent, summed over providers', () => {
    const c = callCost(
      call({ stt: [{ provider: 'deepgram', audioSeconds: 90 }, { provider: 'Deepgram', audioSeconds: 30 }] }),
      prices(),
    );
    near(c.breakdown.stt, 2 * 0.0047, 'stt');
    assert.equal(c.estimated, false);
  });

  it('LLM bills uncached input, cached input and output tokens at their own rates', () => {
    const c = callCost(
      call({ llm: [{ model: 'gpt-4.1-mini', inputTokens: 10_000, cachedInputTokens: 4_000, outputTokens: 1_000 }] }),
      prices(),
    );
    near(c.breakdown.llm, (6_000 * 0.4 + 4_000 * 0.1 + 1_000 * 1.6) / 1e6, 'llm');
    assert.equal(c.estimated, false);
  });

  it('LLM: a dated snapshot prices as its model, without being an estimate', () => {
    const c = callCost(
      call({ llm: [{ model: 'gpt-4.1-mini-2025-04-14', inputTokens: 1e6, cachedInputTokens: 0, outputTokens: 0 }] }),
      prices(),
    );
    near(c.breakdown.llm, 0.4, 'llm');
    assert.equal(c.estimated, false);
  });

  it('LLM: cached tokens above the input are capped and flagged', () => {
    const c = callCost(
      call({ llm: [{ model: 'gpt-4.1-mini', inputTokens: 1_000, cachedInputTokens: 5_000, outputTokens: 0 }] }),
      prices(),
    );
    near(c.breakdown.llm, (1_000 * 0.1) / 1e6, 'llm');
    assert.equal(c.estimated, true);
    assert.match(c.notes.join('\n'), /cachedInputTokens \(5000\) exceeds inputTokens \(1000\)/);
  });

  it('TTS bills minutes of synthesized audio per provider', () => {
    const c = callCost(
      call({
        tts: [
          { provider: 'cartesia', characters: 1_000, audioSeconds: 60 },
          { provider: 'elevenlabs', characters: 500, audioSeconds: 30 },
        ],
      }),
      prices(),
    );
    near(c.breakdown.tts, 0.0299 + 0.03, 'tts');
  });

  it('TTS bills characters when the entry has a per-character price', () => {
    const p = prices((t) => {
      t.tts['cartesia']!.perMCharacters = 38;
    });
    const c = callCost(call({ tts: [{ provider: 'cartesia', characters: 2_000, audioSeconds: 120 }] }), p);
    near(c.breakdown.tts, (2_000 / 1e6) * 38, 'tts');
  });

  it('TTS with characters but no audio duration is estimated from speaking rate, and flagged', () => {
    const c = callCost(call({ tts: [{ provider: 'cartesia', characters: 900, audioSeconds: 0 }] }), prices());
    near(c.breakdown.tts, (900 / 15 / 60) * 0.0299, 'tts');
    assert.equal(c.estimated, true);
    assert.match(c.notes.join('\n'), /no audio duration reported; 900 characters taken as 60\.0 s/);
  });
});

describe('cost: SIP leg by direction', () => {
  const threeMin = { durationSeconds: 180 };

  it('inbound pays the carrier origination rate', () => {
    near(callCost(call({ ...threeMin, direction: 'inbound', trunk: 'twilio' }), prices()).breakdown.sip, 3 * 0.0034, 'twilio in');
    near(callCost(call({ ...threeMin, direction: 'inbound', trunk: 'telnyx' }), prices()).breakdown.sip, 3 * 0.0035, 'telnyx in');
  });

  it('outbound pays the carrier termination rate', () => {
    near(callCost(call({ ...threeMin, direction: 'outbound', trunk: 'twilio' }), prices()).breakdown.sip, 3 * 0.0011, 'twilio out');
    near(callCost(call({ ...threeMin, direction: 'outbound', trunk: 'telnyx' }), prices()).breakdown.sip, 3 * 0.005, 'telnyx out');
  });

  it('browser calls have no SIP leg, even if a trunk is named', () => {
    const none = callCost(call({ ...threeMin, direction: 'browser', trunk: null }), prices());
    assert.equal(none.breakdown.sip, 0);
    assert.deepEqual(none.notes, []);
    const named = callCost(call({ ...threeMin, direction: 'browser', trunk: 'twilio' }), prices());
    assert.equal(named.breakdown.sip, 0);
    assert.equal(named.estimated, false);
    assert.match(named.notes.join('\n'), /browser call has no SIP leg/);
  });

  it('a phone call with no trunk named is not priced for SIP, and says so', () => {
    const c = callCost(call({ ...threeMin, direction: 'inbound', trunk: null }), prices());
    assert.equal(c.breakdown.sip, 0);
    assert.equal(c.estimated, true);
    assert.match(c.notes.join('\n'), /inbound phone call with no trunk named/);
  });

  it('an unknown trunk is priced as the fallback carrier and flagged', () => {
    const c = callCost(call({ ...threeMin, direction: 'outbound', trunk: 'bandwidth' }), prices());
    near(c.breakdown.sip, 3 * 0.0011, 'sip');
    assert.equal(c.estimated, true);
    assert.match(c.notes.join('\n'), /trunk 'bandwidth' is not in the price table; priced as 'twilio'/);
  });

  it('the SIP leg rounds up to the carrier billing increment when one is set', () => {
    const p = prices((t) => (t.sip['twilio']!.billingIncrementSeconds = 60));
    near(callCost(call({ durationSeconds: 125, direction: 'inbound', trunk: 'twilio' }), p).breakdown.sip, 3 * 0.0034, 'sip');
  });
});

describe('cost: unknown names and bad usage never break a call', () => {
  it('an unknown LLM model is priced as the fallback entry, flagged estimated with the reason', () => {
    const usage = { inputTokens: 20_000, cachedInputTokens: 0, outputTokens: 2_000 };
    const known = callCost(call({ llm: [{ model: 'gpt-4.1-mini', ...usage }] }), prices());
    const unknown = callCost(call({ llm: [{ model: 'gpt-9-turbo', ...usage }] }), prices());
    near(unknown.breakdown.llm, known.breakdown.llm, 'priced as the fallback');
    assert.equal(known.estimated, false);
    assert.equal(unknown.estimated, true);
    assert.deepEqual(unknown.notes, [
      "llm[0] model 'gpt-9-turbo' is not in the price table; priced as 'gpt-4.1-mini' (the fallback entry)",
    ]);
  });

  it('unknown STT and TTS providers are flagged the same way', () => {
    const c = callCost(
      call({ stt: [{ provider: 'assemblyai', audioSeconds: 60 }], tts: [{ provider: 'playht', characters: 0, audioSeconds: 60 }] }),
      prices(),
    );
    near(c.breakdown.stt, 0.0047, 'stt as deepgram');
    near(c.breakdown.tts, 0.0299, 'tts as cartesia');
    assert.equal(c.estimated, true);
    assert.equal(c.notes.length, 2);
  });

  it('garbage usage is counted as 0 with a note, not thrown', () => {
    const garbage = {
      durationSeconds: Number.NaN,
      direction: 'sideways',
      trunk: null,
      stt: 'lots',
      llm: [{ model: 42, inputTokens: -5 }],
      tts: [null],
    } as unknown as CallUsage;
    const c = callCost(garbage, prices());
    assert.equal(c.totalUsd, 0);
    assert.equal(c.perMinuteUsd, null);
    assert.equal(c.estimated, true);
    const notes = c.notes.join('\n');
    assert.match(notes, /durationSeconds: null is not a usable quantity/);
    assert.match(notes, /stt: not a list/);
    assert.match(notes, /llm\[0\] model 42 is not in the price table/);
    assert.match(notes, /llm\[0\]\.inputTokens: -5/);
    assert.match(notes, /unknown direction "sideways"/);
  });

  it('per minute is the total over the real call length, and null for a 0-second call', () => {
    const c = callCost(call({ durationSeconds: 120, direction: 'outbound', trunk: 'telnyx' }), prices());
    near(c.perMinuteUsd, c.totalUsd / 2, 'perMinute');
    assert.equal(callCost(call({ durationSeconds: 0 }), prices()).perMinuteUsd, null);
  });
});

/**
 * The article's reference call (Piacquadio, dev.to, 2025-05-20): 3 minutes, the AI speaking half
 * (1.5 min of TTS) and the caller half (1.5 min of audio to STT). Economy stack (Cartesia, Twilio,
 * Deepgram, GPT-4.1 mini, LiveKit) $0.0929; premium (ElevenLabs, Telnyx, same others) $0.150.
 * The article's token counts are not in the reference notes; see src/cost/README.md.
 */
function articleCall(stack: 'economy' | 'premium', direction: 'inbound' | 'outbound', tokens: { input: number; output: number }): CallUsage {
  return {
    durationSeconds: 180,
    direction,
    trunk: stack === 'economy' ? 'twilio' : 'telnyx',
    stt: [{ provider: 'deepgram', audioSeconds: 90 }],
    llm: [{ model: 'gpt-4.1-mini', inputTokens: tokens.input, cachedInputTokens: 0, outputTokens: tokens.output }],
    tts: [{ provider: stack === 'economy' ? 'cartesia' : 'elevenlabs', characters: 0, audioSeconds: 90 }],
  };
}

describe("cost: the article's reference call", () => {
  it('each non-LLM component at the article rates', () => {
    const eco = callCost(articleCall('economy', 'outbound', { input: 0, output: 0 }), prices());
    near(eco.breakdown.livekit, 0.009, 'LiveKit 3 min × $0.003');
    near(eco.breakdown.stt, 0.00705, 'Deepgram 1.5 min × $0.0047');
    near(eco.breakdown.tts, 0.04485, 'Cartesia 1.5 min × $0.0299');
    near(eco.breakdown.sip, 0.0033, 'Twilio termination 3 min × $0.0011');
    const pre = callCost(articleCall('premium', 'outbound', { input: 0, output: 0 }), prices());
    near(pre.breakdown.tts, 0.09, 'ElevenLabs 1.5 min × $0.06');
    near(pre.breakdown.sip, 0.015, 'Telnyx termination 3 min × $0.005');
  });

  // The two published totals differ only in TTS and carrier, so their difference does not depend
  // on the (unpublished) token counts, LiveKit fee attribution or STT minutes: a real check.
  // $0.150 is given to 3 decimals and $0.0929 to 4, so the difference lies in [0.05655, 0.05765].
  it('premium − economy reproduces $0.150 − $0.0929 for any token count, with SIP at the termination rate', () => {
    for (const tokens of [{ input: 0, output: 0 }, { input: 5_000, output: 1_500 }, { input: 63_800, output: 2_000 }]) {
      const diff = (direction: 'inbound' | 'outbound') =>
        callCost(articleCall('premium', direction, tokens), prices()).totalUsd -
        callCost(articleCall('economy', direction, tokens), prices()).totalUsd;
      const outbound = diff('outbound');
      near(outbound, 1.5 * (0.06 - 0.0299) + 3 * (0.005 - 0.0011), 'outbound difference');
      assert.ok(outbound >= 0.150 - 0.0005 - 0.09295 && outbound <= 0.150 + 0.0005 - 0.09285, `outbound diff ${outbound}`);
      // Priced at origination (our inbound) the two totals could not both be the article's.
      const inbound = diff('inbound');
      assert.ok(inbound < 0.150 - 0.0005 - 0.09295, `inbound diff ${inbound} should miss the article`);
    }
  });

  // The token counts below are FITTED to $0.0929 (one free number from one equation); the premium
  // total then follows from the model with nothing left to fit, and must round to $0.150.
  it('with the plan fee amortised over the 45,000 included minutes, 5,000 input + 1,500 output tokens give both totals', () => {
    const p = prices((t) => (t.livekit.feeAttribution = 'amortised'));
    const tokens = { input: 5_000, output: 1_500 };
    const eco = callCost(articleCall('economy', 'outbound', tokens), p);
    near(eco.breakdown.llm, 0.0044, 'LLM share');
    assert.equal(rounded(eco.totalUsd, 4), 0.0929, `economy ${eco.totalUsd}`);
    const pre = callCost(articleCall('premium', 'outbound', tokens), p);
    assert.equal(rounded(pre.totalUsd, 3), 0.15, `premium ${pre.totalUsd}`);
  });

  it('with the default marginal LiveKit rate, 63,800 input + 2,000 output tokens give both totals', () => {
    const tokens = { input: 63_800, output: 2_000 };
    const eco = callCost(articleCall('economy', 'outbound', tokens), prices());
    near(eco.breakdown.llm, 0.02872, 'LLM share');
    assert.equal(rounded(eco.totalUsd, 4), 0.0929, `economy ${eco.totalUsd}`);
    const pre = callCost(articleCall('premium', 'outbound', tokens), prices());
    assert.equal(rounded(pre.totalUsd, 3), 0.15, `premium ${pre.totalUsd}`);
  });
});

describe('cost: override file', () => {
  it('is deep-merged over the defaults: changed fields change, the rest stay', () => {
    const p = loadPriceTable(fixture('override-ok.json'));
    assert.equal(p.llm['gpt-4.1-mini']?.outputPerMTokens, 1.8);
    assert.equal(p.llm['gpt-4.1-mini']?.inputPerMTokens, 0.4, 'untouched sibling field');
    assert.equal(p.llm['gpt-4.1']?.outputPerMTokens, 8, 'added model');
    assert.equal(p.llm['gpt-4.1']?.source, 'test fixture');
    assert.equal(p.sip['twilio']?.originationPerMinute, 0.0045);
    assert.equal(p.sip['twilio']?.terminationPerMinute, 0.0011);
    assert.equal(p.sip['telnyx']?.terminationPerMinute, 0.005, 'untouched entry');
    assert.equal(p.tts['cartesia']?.perMinute, 0.0299);
    assert.equal(p.livekit.feeAttribution, 'amortised');
    assert.equal(p.livekit.expectedMonthlyMinutes, 100_000);
    assert.equal(p.livekit.monthlyFee, 500);
  });

  it('an entry whose prices the file changes names the file as its source', () => {
    const p = loadPriceTable(fixture('override-ok.json'));
    assert.match(p.llm['gpt-4.1-mini']!.source, /override file .*override-ok\.json/);
    assert.match(p.llm['gpt-4.1-mini']!.asOf, /^\d{4}-\d{2}-\d{2}$/);
    assert.match(p.sip['telnyx']!.source, /Piacquadio/, 'untouched entries keep the article');
  });

  it('the merged prices are the ones callCost uses', () => {
    const p = loadPriceTable(fixture('override-ok.json'));
    const c = callCost(
      call({
        durationSeconds: 60,
        direction: 'inbound',
        trunk: 'twilio',
        llm: [{ model: 'gpt-4.1', inputTokens: 1e6, cachedInputTokens: 0, outputTokens: 1e6 }],
      }),
      p,
    );
    near(c.breakdown.sip, 0.0045, 'sip');
    near(c.breakdown.llm, 2 + 8, 'llm');
    near(c.breakdown.livekit, (500 + 0.003 * 55_000) / 100_000, 'livekit');
    assert.equal(c.estimated, false);
  });

  const bad: [string, RegExp][] = [
    ['bad-negative.json', /^.*bad-negative\.json: llm\.gpt-4\.1-mini\.outputPerMTokens: must be a non-negative number$/],
    ['bad-string.json', /^.*bad-string\.json: stt\.deepgram\.perMinute: must be a non-negative number$/],
    ['bad-unknown-field.json', /^.*bad-unknown-field\.json: tts\.cartesia\.perMinuteUsd: unknown field$/],
    ['bad-new-entry.json', /bad-new-entry\.json: llm\.my-model\.cachedInputPerMTokens: required \(my-model is a new llm entry, so it must give every field\)/],
    ['bad-fallback.json', /bad-fallback\.json: fallback\.tts: 'playht' is not an entry of tts \(entries: cartesia, elevenlabs\)/],
    ['bad-syntax.json', /bad-syntax\.json: not valid JSON: .*line 3/],
    ['bad-reserved.json', /bad-reserved\.json: llm\.__proto__: reserved name, not allowed/],
    ['missing.json', /missing\.json: cannot read the price file \(no such file\)/],
  ];
  for (const [name, expected] of bad) {
    it(`${name}: refused with the file and field named, exit code 2`, () => {
      const err = loadError(fixture(name));
      assert.equal(err.exitCode, 2);
      assert.match(err.message, expected);
      assert.equal(err.file, fixture(name));
    });
  }

  it('reports every problem in the file at once', () => {
    const err = loadError(fixture('bad-several.json'));
    assert.equal(err.problems.length, 3, err.message);
    assert.match(err.message, /livekit\.feeAttribution: must be 'marginal' or 'amortised'/);
    assert.match(err.message, /sip\.telnyx\.terminationPerMinute: must be a non-negative number/);
    assert.match(err.message, /sip\.telnyx\.asOf: must be a date, YYYY-MM-DD or YYYY-MM/);
  });

  it('no file (PRICES_FILE unset or empty) means the defaults', () => {
    assert.deepEqual(loadPriceTable(undefined), DEFAULT_PRICES);
    assert.deepEqual(loadPriceTable(''), DEFAULT_PRICES);
  });
});

describe('cost: describeCost', () => {
  it('one line per component, then total and per minute, then notes', () => {
    const c = callCost(articleCall('economy', 'outbound', { input: 63_800, output: 2_000 }), prices());
    const lines = describeCost(c).split('\n');
    assert.deepEqual(lines, [
      'livekit    $0.0090 (10%)',
      'stt        $0.0071 (8%)',
      'llm        $0.0287 (31%)',
      'tts        $0.0449 (48%)',
      'sip        $0.0033 (4%)',
      'total      $0.0929  $0.0310/min',
    ]);
  });

  it('marks an estimate and lists why', () => {
    const c = callCost(call({ llm: [{ model: 'mystery', inputTokens: 1, cachedInputTokens: 0, outputTokens: 1 }] }), prices());
    const text = describeCost(c);
    assert.match(text, /^total .*\(estimated\)$/m);
    assert.match(text, /^note: llm\[0\] model 'mystery' is not in the price table/m);
  });
});
