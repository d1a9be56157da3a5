import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDialable, dialledNumberOf } from '../src/telephony/dialPolicy.js';
import { callerIdNumber } from '../src/telephony/phoneNumber.js';

const US = { defaultRegion: 'US', allowedCountries: [] as string[] };

describe('caller ID numbers', () => {
  it('withheld caller ID is no number at all, never a shared "+"', () => {
    for (const raw of ['anonymous', 'Anonymous', 'Restricted', 'unknown', 'Unavailable', 'private', '', '   ', '+', undefined]) {
      assert.equal(callerIdNumber(raw, 'US'), null, JSON.stringify(raw));
    }
  });

  it('reads national-format caller IDs in DEFAULT_REGION, and E.164 as given', () => {
    assert.equal(callerIdNumber('020 7946 0001', 'GB'), '+442079460001');
    assert.equal(callerIdNumber('(212) 555-0101', 'US'), '+12125550101');
    assert.equal(callerIdNumber('+442079460001', 'US'), '+442079460001');
    assert.equal(callerIdNumber('sip:+15550001111@trunk.example', 'US'), '+15550001111');
  });
});

describe('numbers Switchboard never dials', () => {
  it('refuses emergency numbers from libphonenumber\'s set, written nationally or as E.164', () => {
    for (const [raw, region] of [
      ['911', 'US'], ['112', 'US'], ['112', 'DE'], ['999', 'GB'], ['000', 'AU'], ['110', 'JP'], ['15', 'FR'], ['+1911', 'US'], ['+44 999', 'US'],
    ] as const) {
      const r = checkDialable(raw, { defaultRegion: region, allowedCountries: ['*'] });
      assert.equal(r.ok, false, `${raw} in ${region}`);
      assert.equal(!r.ok && r.kind, 'emergency_number', `${raw} in ${region}`);
      assert.match(!r.ok ? r.reason : '', /emergency number/);
    }
  });

  it('refuses premium-rate numbers and short codes, each with its own reason', () => {
    const premium = checkDialable('+1 900 555 0123', US);
    assert.equal(!premium.ok && premium.kind, 'premium_rate');
    const gb = checkDialable('09098790000', { defaultRegion: 'GB', allowedCountries: [] });
    assert.equal(!gb.ok && gb.kind, 'premium_rate');
    const short = checkDialable('611', US);
    assert.equal(!short.ok && short.kind, 'short_code');
    assert.match(!short.ok ? short.reason : '', /short code/);
  });

  it('refuses countries outside ALLOWED_COUNTRIES (unset: DEFAULT_REGION only), and allows the rest', () => {
    const jm = checkDialable('+1 876 555 1234', US);
    assert.equal(!jm.ok && jm.kind, 'country_not_allowed');
    assert.match(!jm.ok ? jm.reason : '', /JM.*ALLOWED_COUNTRIES=US \(DEFAULT_REGION\)/);
    assert.equal(checkDialable('+442079460001', { defaultRegion: 'US', allowedCountries: ['US', 'GB'] }).ok, true);
    assert.equal(checkDialable('+442079460001', { defaultRegion: 'US', allowedCountries: ['*'] }).ok, true);
    const ok = checkDialable('(212) 555-0101', US);
    assert.deepEqual(ok.ok && ok.e164, '+12125550101');
  });

  it('an invalid number stays an invalid-number refusal', () => {
    const r = checkDialable('not-a-number', US);
    assert.equal(!r.ok && r.kind, 'invalid_number');
  });

  it('finds the number behind tel: and sip: transfer destinations', () => {
    assert.equal(dialledNumberOf('tel:+15551234567'), '+15551234567');
    assert.equal(dialledNumberOf('sip:911@carrier.example'), '911');
    assert.equal(dialledNumberOf('sip:frontdesk@pbx.example'), undefined);
  });
});
