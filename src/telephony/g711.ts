// G.711 µ-law (PCMU) and A-law (PCMA) codecs, bit-exact with the ITU-T G.191
// Software Tool Library reference (ulaw_compress/ulaw_expand and
// alaw_compress/alaw_expand in STL g711.c) for all 65,536 inputs and 256 codes.
//
// Why G.191 and not the "Sun" formula used by most npm codecs (alawmulaw,
// x-law, g711): G.191 is the conformance reference that trunks and test
// vectors are checked against. The two agree everywhere except 127 negative
// inputs per law that sit exactly on a decision threshold (µ-law: -4, -12,
// -20, …; A-law: -16, -32, …). G.191 forms the magnitude of a negative
// sample with a one's complement (~x, i.e. -x-1) before dropping the low bits,
// so a threshold sample rounds toward zero; Sun negates (two's complement) and
// rounds it away (µ-law -4 → G.191 0x7F = 0, Sun 0x7E = -8). The decoders of
// both families are identical.
//
// Everything is table-driven so a 20 ms frame costs a few hundred ns:
// µ-law only looks at the top 14 bits of a sample and A-law at the top 12, so
// the encode tables are indexed by those bits (16 Ki and 4 Ki entries, small
// enough to stay cache-resident), and the decode tables have 256 entries.

export type G711Codec = 'pcmu' | 'pcma';

/** Code a G.711 line carries for digital silence (decodes to 0). */
export const MULAW_SILENCE = 0xff;
/** Code a G.711 line carries for digital silence (decodes to +8, the smallest level). */
export const ALAW_SILENCE = 0xd5;

// Facts from G.191 ulaw_compress: |x| is taken on the 14-bit value (one's
// complement for negatives), biased by 33 (the gap between the µ-law and A-law
// decision thresholds), clipped to 13 bits; the segment is the position of the
// leading one above bit 5, the mantissa the four bits under it, and the code
// is stored inverted with the sign bit set for x >= 0.
function muLawCompressSample(x: number): number {
  let mag = (x < 0 ? ~x >> 2 : x >> 2) + 33;
  if (mag > 0x1fff) mag = 0x1fff;
  let segment = 1;
  for (let i = mag >> 6; i !== 0; i >>= 1) segment++;
  const code = ((8 - segment) << 4) | (15 - ((mag >> segment) & 0x0f));
  return x >= 0 ? code | 0x80 : code;
}

// Facts from G.191 ulaw_expand: the reconstruction level is the middle of the
// quantisation step, ((132 + 8·mantissa) << exponent) - 132, range ±32124.
function muLawExpandCode(code: number): number {
  const inv = ~code & 0xff;
  const exponent = (inv >> 4) & 0x07;
  const mantissa = inv & 0x0f;
  const magnitude = ((132 + 8 * mantissa) << exponent) - 132;
  return code < 0x80 ? -magnitude : magnitude;
}

// Facts from G.191 alaw_compress: 12-bit magnitude (one's complement for
// negatives); segment 0 is linear, higher segments drop the leading one; the
// sign bit is set for x >= 0 and the even bits are toggled (XOR 0x55).
function aLawCompressSample(x: number): number {
  let ix = x < 0 ? ~x >> 4 : x >> 4;
  if (ix > 15) {
    let exponent = 1;
    while (ix > 31) {
      ix >>= 1;
      exponent++;
    }
    ix = ix - 16 + (exponent << 4);
  }
  if (x >= 0) ix |= 0x80;
  return ix ^ 0x55;
}

// Facts from G.191 alaw_expand: mid-step reconstruction, range ±32256.
function aLawExpandCode(code: number): number {
  const ix = (code ^ 0x55) & 0x7f;
  const exponent = ix >> 4;
  let mantissa = ix & 0x0f;
  if (exponent > 0) mantissa += 16;
  mantissa = (mantissa << 4) + 8;
  if (exponent > 1) mantissa <<= exponent - 1;
  return code > 127 ? mantissa : -mantissa;
}

// Index = the sample's top 14 (µ-law) / 12 (A-law) bits as an unsigned
// number, i.e. (x >> 2) & 0x3fff; every sample sharing those bits codes the
// same, so the low bits are filled with zeros when building.
const MULAW_ENCODE = new Uint8Array(1 << 14);
for (let i = 0; i < MULAW_ENCODE.length; i++) MULAW_ENCODE[i] = muLawCompressSample(((i << 18) >> 16));
const ALAW_ENCODE = new Uint8Array(1 << 12);
for (let i = 0; i < ALAW_ENCODE.length; i++) ALAW_ENCODE[i] = aLawCompressSample(((i << 20) >> 16));
const MULAW_DECODE = new Int16Array(256);
const ALAW_DECODE = new Int16Array(256);
for (let c = 0; c < 256; c++) {
  MULAW_DECODE[c] = muLawExpandCode(c);
  ALAW_DECODE[c] = aLawExpandCode(c);
}

function checkOut(what: string, n: number, out: { length: number }): void {
  if (out.length < n) {
    throw new RangeError(`${what}: output buffer holds ${out.length} samples but the input has ${n}`);
  }
}

// The loops are unrolled by four by hand: V8 neither unrolls nor vectorises
// typed-array loops, and this cuts the per-sample loop overhead by about a
// third. `shift`/`mask` pick the 14 (µ-law) or 12 (A-law) bits the table is
// indexed by.
function encodeWith(table: Uint8Array, shift: number, mask: number, pcm: Int16Array, dst: Uint8Array): Uint8Array {
  const n = pcm.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    dst[i] = table[(pcm[i]! >> shift) & mask]!;
    dst[i + 1] = table[(pcm[i + 1]! >> shift) & mask]!;
    dst[i + 2] = table[(pcm[i + 2]! >> shift) & mask]!;
    dst[i + 3] = table[(pcm[i + 3]! >> shift) & mask]!;
  }
  for (; i < n; i++) dst[i] = table[(pcm[i]! >> shift) & mask]!;
  return dst.length === n ? dst : dst.subarray(0, n);
}

function decodeWith(table: Int16Array, codes: Uint8Array, dst: Int16Array): Int16Array {
  const n = codes.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    dst[i] = table[codes[i]!]!;
    dst[i + 1] = table[codes[i + 1]!]!;
    dst[i + 2] = table[codes[i + 2]!]!;
    dst[i + 3] = table[codes[i + 3]!]!;
  }
  for (; i < n; i++) dst[i] = table[codes[i]!]!;
  return dst.length === n ? dst : dst.subarray(0, n);
}

/**
 * µ-law-encode 16-bit PCM. Pass `out` (length >= pcm.length) to reuse a
 * buffer in a frame loop; the result is `out` itself when the lengths match,
 * otherwise a view of its first pcm.length bytes.
 */
export function encodeMuLaw(pcm: Int16Array, out?: Uint8Array): Uint8Array {
  if (out === undefined) out = new Uint8Array(pcm.length);
  else checkOut('encodeMuLaw', pcm.length, out);
  return encodeWith(MULAW_ENCODE, 2, 0x3fff, pcm, out);
}

/** Decode µ-law codes to 16-bit PCM; `out` works as in {@link encodeMuLaw}. */
export function decodeMuLaw(codes: Uint8Array, out?: Int16Array): Int16Array {
  if (out === undefined) out = new Int16Array(codes.length);
  else checkOut('decodeMuLaw', codes.length, out);
  return decodeWith(MULAW_DECODE, codes, out);
}

/** A-law-encode 16-bit PCM; `out` works as in {@link encodeMuLaw}. */
export function encodeALaw(pcm: Int16Array, out?: Uint8Array): Uint8Array {
  if (out === undefined) out = new Uint8Array(pcm.length);
  else checkOut('encodeALaw', pcm.length, out);
  return encodeWith(ALAW_ENCODE, 4, 0x0fff, pcm, out);
}

/** Decode A-law codes to 16-bit PCM; `out` works as in {@link encodeMuLaw}. */
export function decodeALaw(codes: Uint8Array, out?: Int16Array): Int16Array {
  if (out === undefined) out = new Int16Array(codes.length);
  else checkOut('decodeALaw', codes.length, out);
  return decodeWith(ALAW_DECODE, codes, out);
}

/** Encode with the codec a trunk negotiated. */
export function encodeG711(codec: G711Codec, pcm: Int16Array, out?: Uint8Array): Uint8Array {
  return codec === 'pcmu' ? encodeMuLaw(pcm, out) : encodeALaw(pcm, out);
}

/** Decode with the codec a trunk negotiated. */
export function decodeG711(codec: G711Codec, codes: Uint8Array, out?: Int16Array): Int16Array {
  return codec === 'pcmu' ? decodeMuLaw(codes, out) : decodeALaw(codes, out);
}
