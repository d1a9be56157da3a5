// WAV container bits the telephony leaf needs: the G.711 header the call
// recorder streams behind, a 16-bit PCM writer for tools and fixtures, and a
// strict reader for tests and tools that says exactly what it rejects.

import { decodeALaw, decodeMuLaw } from './g711.js';
import { isTelephonyRate, SUPPORTED_RATES, type TelephonyRate } from './rates.js';

export const WAVE_FORMAT_PCM = 1;
export const WAVE_FORMAT_ALAW = 6;
export const WAVE_FORMAT_MULAW = 7;
export const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

export type WavEncoding = 'pcm16' | 'mulaw' | 'alaw';

/**
 * Size of the header g711WavHeader writes: RIFF + 18-byte fmt (non-PCM
 * formats carry cbSize) + fact + data chunk header.
 */
export const G711_WAV_HEADER_BYTES = 58;

/**
 * Data size written while a recording is still open. Readers that honour the
 * streaming convention (ffmpeg, readWav) then read to end of file, so a
 * recording cut short by a crash is still playable.
 */
export const WAV_SIZE_UNKNOWN = 0xffffffff;

export interface G711WavHeaderOptions {
  encoding: 'mulaw' | 'alaw';
  sampleRate: number;
  channels: number;
  /** Samples per channel, or null while still streaming. */
  frames: number | null;
}

/** Header for 8-bit G.711 WAV data; the spec requires a fact chunk for non-PCM formats. */
export function g711WavHeader(options: G711WavHeaderOptions): Uint8Array {
  const { encoding, sampleRate, channels, frames } = options;
  const dataBytes = frames === null ? WAV_SIZE_UNKNOWN : frames * channels;
  if (dataBytes > WAV_SIZE_UNKNOWN - G711_WAV_HEADER_BYTES && frames !== null) {
    throw new RangeError(`WAV data of ${dataBytes} bytes exceeds the 4 GiB RIFF limit`);
  }
  const header = new Uint8Array(G711_WAV_HEADER_BYTES);
  const v = new DataView(header.buffer);
  const tag = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) header[at + i] = s.charCodeAt(i);
  };
  tag(0, 'RIFF');
  v.setUint32(4, frames === null ? WAV_SIZE_UNKNOWN : G711_WAV_HEADER_BYTES - 8 + dataBytes, true);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  v.setUint32(16, 18, true);
  v.setUint16(20, encoding === 'mulaw' ? WAVE_FORMAT_MULAW : WAVE_FORMAT_ALAW, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * channels, true);
  v.setUint16(32, channels, true);
  v.setUint16(34, 8, true);
  v.setUint16(36, 0, true);
  tag(38, 'fact');
  v.setUint32(42, 4, true);
  v.setUint32(46, frames === null ? WAV_SIZE_UNKNOWN : frames, true);
  tag(50, 'data');
  v.setUint32(54, dataBytes, true);
  return header;
}

/** A complete 16-bit PCM WAV file; `samples` is interleaved when channels > 1. */
export function pcm16Wav(samples: Int16Array, sampleRate: number, channels = 1): Uint8Array {
  const dataBytes = samples.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  const v = new DataView(out.buffer);
  const tag = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  tag(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes, true);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, WAVE_FORMAT_PCM, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * channels * 2, true);
  v.setUint16(32, channels * 2, true);
  v.setUint16(34, 16, true);
  tag(36, 'data');
  v.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) v.setInt16(44 + 2 * i, samples[i]!, true);
  return out;
}

export interface WavFile {
  encoding: WavEncoding;
  sampleRate: TelephonyRate;
  channelCount: number;
  /** Samples per channel. */
  frameCount: number;
  durationMs: number;
  /** The data chunk exactly as stored (interleaved; G.711 codes or little-endian PCM). */
  data: Uint8Array;
  /** Decoded 16-bit PCM, one array per channel. */
  channels: Int16Array[];
}

const FORMAT_NAMES: Record<number, string> = {
  1: 'PCM',
  3: 'IEEE float',
  6: 'A-law',
  7: 'µ-law',
  0xfffe: 'extensible',
};

function fourcc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}

/** Parse a 16-bit PCM, µ-law or A-law WAV at one of the telephony rates. */
export function readWav(buffer: Uint8Array): WavFile {
  const v = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (buffer.length < 12 || fourcc(buffer, 0) !== 'RIFF' || fourcc(buffer, 8) !== 'WAVE') {
    throw new Error('readWav: not a RIFF/WAVE file');
  }
  let fmt: { tag: number; channels: number; rate: number; bits: number } | null = null;
  let data: Uint8Array | null = null;
  for (let at = 12; at + 8 <= buffer.length; ) {
    const id = fourcc(buffer, at);
    const declared = v.getUint32(at + 4, true);
    const body = at + 8;
    let size = declared;
    if (body + size > buffer.length) {
      if (id === 'data' && declared === WAV_SIZE_UNKNOWN) size = buffer.length - body;
      else throw new Error(`readWav: '${id}' chunk declares ${declared} bytes but only ${buffer.length - body} remain`);
    }
    if (id === 'fmt ') {
      if (size < 16) throw new Error(`readWav: fmt chunk is ${size} bytes, need at least 16`);
      let tag = v.getUint16(body, true);
      // WAVE_FORMAT_EXTENSIBLE keeps the real format in the first two bytes of its sub-format GUID.
      if (tag === WAVE_FORMAT_EXTENSIBLE && size >= 40) tag = v.getUint16(body + 24, true);
      fmt = {
        tag,
        channels: v.getUint16(body + 2, true),
        rate: v.getUint32(body + 4, true),
        bits: v.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      data = buffer.subarray(body, body + size);
      break;
    }
    at = body + size + (size & 1);
  }
  if (fmt === null) throw new Error('readWav: no fmt chunk before the data');
  if (data === null) throw new Error('readWav: no data chunk');

  let encoding: WavEncoding;
  if (fmt.tag === WAVE_FORMAT_PCM && fmt.bits === 16) encoding = 'pcm16';
  else if (fmt.tag === WAVE_FORMAT_MULAW && fmt.bits === 8) encoding = 'mulaw';
  else if (fmt.tag === WAVE_FORMAT_ALAW && fmt.bits === 8) encoding = 'alaw';
  else {
    const name = FORMAT_NAMES[fmt.tag] ?? 'unknown';
    throw new Error(
      `readWav: unsupported WAV format: format tag ${fmt.tag} (${name}) with ${fmt.bits} bits per sample; ` +
        'accepted: 16-bit PCM (tag 1), 8-bit µ-law (tag 7), 8-bit A-law (tag 6)',
    );
  }
  if (!isTelephonyRate(fmt.rate)) {
    throw new Error(`readWav: unsupported sample rate ${fmt.rate} Hz; accepted: ${SUPPORTED_RATES.join(', ')} Hz`);
  }
  const channelCount = fmt.channels;
  if (channelCount < 1) throw new Error('readWav: fmt chunk declares 0 channels');
  const bytesPerSample = encoding === 'pcm16' ? 2 : 1;
  if (encoding === 'pcm16' && data.length % 2 !== 0) {
    throw new Error(`readWav: 16-bit PCM data has an odd byte count (${data.length}); the file is truncated or corrupt`);
  }
  const frameBytes = channelCount * bytesPerSample;
  if (data.length % frameBytes !== 0) {
    throw new Error(
      `readWav: data chunk of ${data.length} bytes is not a whole number of ${channelCount}-channel frames (${frameBytes} bytes each)`,
    );
  }
  const frameCount = data.length / frameBytes;
  const channels: Int16Array[] = [];
  for (let ch = 0; ch < channelCount; ch++) {
    const pcm = new Int16Array(frameCount);
    if (encoding === 'pcm16') {
      for (let i = 0; i < frameCount; i++) pcm[i] = v.getInt16(data.byteOffset - buffer.byteOffset + (i * channelCount + ch) * 2, true);
    } else {
      const codes = new Uint8Array(frameCount);
      for (let i = 0; i < frameCount; i++) codes[i] = data[i * channelCount + ch]!;
      if (encoding === 'mulaw') decodeMuLaw(codes, pcm);
      else decodeALaw(codes, pcm);
    }
    channels.push(pcm);
  }
  return {
    encoding,
    sampleRate: fmt.rate,
    channelCount,
    frameCount,
    durationMs: (frameCount * 1000) / fmt.rate,
    data,
    channels,
  };
}
