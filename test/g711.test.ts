import { test } from 'node:test';
import assert from 'node:assert/strict';
import alawmulaw from 'alawmulaw';
import {
  ALAW_SILENCE,
  decodeALaw,
  decodeG711,
  decodeMuLaw,
  encodeALaw,
  encodeG711,
  encodeMuLaw,
  MULAW_SILENCE,
} from '../src/telephony/g711.js';

// ---------------------------------------------------------------------------
// Independent oracle: a straight, loop-based transcription of the ITU-T G.191
// STL g711.c routines, with C `short` arithmetic emulated (s16 = store into a
// short). Deliberately not shared with the implementation under test.
// ---------------------------------------------------------------------------
const s16 = (x: number): number => (x << 16) >> 16;

function g191AlawCompress(lseg: number, linbuf: Int16Array, logbuf: Int16Array): void {
  for (let n = 0; n < lseg; n++) {
    const lin = linbuf[n]!;
    let ix = s16(lin < 0 ? ~lin >> 4 : lin >> 4);
    if (ix > 15) {
      let iexp = 1;
      while (ix > 16 + 15) {
        ix = s16(ix >> 1);
        iexp++;
      }
      ix = s16(ix - 16);
      ix = s16(ix + (iexp << 4));
    }
    if (lin >= 0) ix = s16(ix | 0x0080);
    logbuf[n] = ix ^ 0x0055;
  }
}

function g191AlawExpand(lseg: number, logbuf: Int16Array, linbuf: Int16Array): void {
  for (let n = 0; n < lseg; n++) {
    let ix = s16(logbuf[n]! ^ 0x0055);
    ix = s16(ix & 0x007f);
    const iexp = s16(ix >> 4);
    let mant = s16(ix & 0x000f);
    if (iexp > 0) mant = s16(mant + 16);
    mant = s16((mant << 4) + 0x0008);
    if (iexp > 1) mant = s16(mant << (iexp - 1));
    linbuf[n] = logbuf[n]! > 127 ? mant : -mant;
  }
}

function g191UlawCompress(lseg: number, linbuf: Int16Array, logbuf: Int16Array): void {
  for (let n = 0; n < lseg; n++) {
    const lin = linbuf[n]!;
    let absno = s16(lin < 0 ? (~lin >> 2) + 33 : (lin >> 2) + 33);
    if (absno > 0x1fff) absno = 0x1fff;
    let i = s16(absno >> 6);
    let segno = 1;
    while (i !== 0) {
      segno++;
      i = s16(i >> 1);
    }
    const highNibble = s16(0x0008 - segno);
    let lowNibble = s16((absno >> segno) & 0x000f);
    lowNibble = s16(0x000f - lowNibble);
    logbuf[n] = (highNibble << 4) | lowNibble;
    if (lin >= 0) logbuf[n] = logbuf[n]! | 0x0080;
  }
}

function g191UlawExpand(lseg: number, logbuf: Int16Array, linbuf: Int16Array): void {
  for (let n = 0; n < lseg; n++) {
    const sign = logbuf[n]! < 0x0080 ? -1 : 1;
    let mantissa = s16(~logbuf[n]!);
    const exponent = s16((mantissa >> 4) & 0x0007);
    const segment = s16(exponent + 1);
    mantissa = s16(mantissa & 0x000f);
    const step = s16(4 << segment);
    linbuf[n] = sign * ((0x0080 << exponent) + step * mantissa + step / 2 - 4 * 33);
  }
}

const ALL_INPUTS = (() => {
  const x = new Int16Array(65536);
  for (let i = 0; i < 65536; i++) x[i] = i - 32768;
  return x;
})();
const ALL_CODES = Int16Array.from({ length: 256 }, (_, i) => i);

function reference(fn: (n: number, a: Int16Array, b: Int16Array) => void, input: Int16Array): Int16Array {
  const out = new Int16Array(input.length);
  fn(input.length, input, out);
  return out;
}

test('µ-law encode is bit-exact with G.191 ulaw_compress on all 65,536 inputs', () => {
  const want = reference(g191UlawCompress, ALL_INPUTS);
  const got = encodeMuLaw(ALL_INPUTS);
  for (let i = 0; i < 65536; i++) {
    if (got[i] !== want[i]) assert.fail(`input ${ALL_INPUTS[i]}: got 0x${got[i]!.toString(16)}, G.191 0x${want[i]!.toString(16)}`);
  }
});

test('µ-law decode is bit-exact with G.191 ulaw_expand on all 256 codes', () => {
  const want = reference(g191UlawExpand, ALL_CODES);
  assert.deepEqual(Array.from(decodeMuLaw(Uint8Array.from(ALL_CODES))), Array.from(want));
});

test('A-law encode is bit-exact with G.191 alaw_compress on all 65,536 inputs', () => {
  const want = reference(g191AlawCompress, ALL_INPUTS);
  const got = encodeALaw(ALL_INPUTS);
  for (let i = 0; i < 65536; i++) {
    if (got[i] !== want[i]) assert.fail(`input ${ALL_INPUTS[i]}: got 0x${got[i]!.toString(16)}, G.191 0x${want[i]!.toString(16)}`);
  }
});

test('A-law decode is bit-exact with G.191 alaw_expand on all 256 codes', () => {
  const want = reference(g191AlawExpand, ALL_CODES);
  assert.deepEqual(Array.from(decodeALaw(Uint8Array.from(ALL_CODES))), Array.from(want));
});

test('silence codes decode to the smallest level', () => {
  assert.equal(decodeMuLaw(Uint8Array.of(MULAW_SILENCE))[0], 0);
  assert.equal(encodeMuLaw(Int16Array.of(0))[0], MULAW_SILENCE);
  assert.equal(decodeALaw(Uint8Array.of(ALAW_SILENCE))[0], 8);
  assert.equal(encodeALaw(Int16Array.of(0))[0], ALAW_SILENCE);
});

test('documented difference from alawmulaw (Sun formula): 127 negative threshold inputs per law, e.g. -4', () => {
  const theirsMu = alawmulaw.mulaw.encode(ALL_INPUTS);
  const oursMu = encodeMuLaw(ALL_INPUTS);
  const muDiffs: number[] = [];
  for (let i = 0; i < 65536; i++) if (theirsMu[i] !== oursMu[i]) muDiffs.push(ALL_INPUTS[i]!);
  assert.equal(muDiffs.length, 127);
  assert.ok(muDiffs.every((x) => x < 0));
  // -4 is halfway between the 0 and -8 reconstruction levels: G.191 rounds toward zero.
  assert.equal(encodeMuLaw(Int16Array.of(-4))[0], 0x7f);
  assert.equal(alawmulaw.mulaw.encode(Int16Array.of(-4))[0], 0x7e);
  assert.ok(muDiffs.includes(-4));
  // Every difference is a decision threshold: the two codes are neighbours and
  // their levels bracket the input, G.191's being the one nearer zero.
  for (const x of muDiffs) {
    const ours = encodeMuLaw(Int16Array.of(x))[0]!;
    const theirs = alawmulaw.mulaw.encode(Int16Array.of(x))[0]!;
    assert.equal(ours - theirs, 1, `input ${x}: codes 0x${ours.toString(16)} / 0x${theirs.toString(16)} are not neighbours`);
    const a = decodeMuLaw(Uint8Array.of(ours))[0]!;
    const b = decodeMuLaw(Uint8Array.of(theirs))[0]!;
    assert.ok(b < x && x <= a, `input ${x}: levels ${a} / ${b} do not bracket it`);
  }

  const theirsA = alawmulaw.alaw.encode(ALL_INPUTS);
  const oursA = encodeALaw(ALL_INPUTS);
  const aDiffs: number[] = [];
  for (let i = 0; i < 65536; i++) if (theirsA[i] !== oursA[i]) aDiffs.push(ALL_INPUTS[i]!);
  assert.equal(aDiffs.length, 127);
  assert.ok(aDiffs.every((x) => x < 0 && x % 16 === 0));

  // The decoders agree everywhere.
  assert.deepEqual(Array.from(decodeMuLaw(Uint8Array.from(ALL_CODES))), Array.from(alawmulaw.mulaw.decode(Uint8Array.from(ALL_CODES))));
  assert.deepEqual(Array.from(decodeALaw(Uint8Array.from(ALL_CODES))), Array.from(alawmulaw.alaw.decode(Uint8Array.from(ALL_CODES))));
});

test('out buffers are reused, trimmed to the input, and checked for size', () => {
  const pcm = Int16Array.of(1000, -1000, 32767, -32768);
  const codes = new Uint8Array(4);
  assert.equal(encodeMuLaw(pcm, codes), codes);
  const longer = new Uint8Array(10);
  const view = encodeALaw(pcm, longer);
  assert.equal(view.buffer, longer.buffer);
  assert.equal(view.length, 4);
  const back = new Int16Array(4);
  assert.equal(decodeMuLaw(codes, back), back);
  assert.throws(() => encodeMuLaw(pcm, new Uint8Array(3)), /output buffer holds 3 samples but the input has 4/);
  assert.throws(() => decodeALaw(codes, new Int16Array(2)), /output buffer holds 2 samples but the input has 4/);
});

test('encodeG711/decodeG711 dispatch on the negotiated codec', () => {
  const pcm = Int16Array.of(0, 1234, -1234);
  assert.deepEqual(encodeG711('pcmu', pcm), encodeMuLaw(pcm));
  assert.deepEqual(encodeG711('pcma', pcm), encodeALaw(pcm));
  assert.deepEqual(decodeG711('pcma', encodeALaw(pcm)), decodeALaw(encodeALaw(pcm)));
});
