// One side (caller or agent) of a call recording: the µ-law samples of that
// side that are not on disk yet, placed on the shared 8 kHz call timeline.
// CallRecorder owns two of these and decides when to flush; this file only
// knows how to place audio.
//
// Placement rule: audio goes right after the side's previous audio, unless its
// atMs is more than GAP_TOLERANCE later, in which case the gap is silence.
// That serves both sides: caller frames arrive in real time with slightly
// jittery timestamps (absorbed), agent TTS arrives in bursts ahead of real
// time (placed back to back, as it will play).
//
// PCM at 16/24/48 kHz goes through a streaming resampler whose 4 ms delay is
// cancelled by dropping its lead-in, so audio lands where atMs says. A run of
// contiguous audio is one resampler "segment"; when a gap, a rate change or a
// flush ends it, the filter is drained with zeros so its last few ms land too.

import { encodeMuLaw, MULAW_SILENCE } from './g711.js';
import { samplesPer10ms } from './rates.js';
import { StreamResampler } from './resampler.js';

/** Later-than-contiguous audio within this many 8 kHz samples (20 ms) is still treated as contiguous. */
export const GAP_TOLERANCE = 160;

interface Segment {
  resampler: StreamResampler;
  /** Timeline position of the segment's first sample. */
  start: number;
  /** Timeline position where the next resampled sample goes. */
  cursor: number;
  /** Resampler lead-in samples still to drop. */
  skip: number;
  /** Input samples fed so far (including those waiting in `carry`). */
  inputTotal: number;
  /** Input that does not fill a 10 ms block yet. */
  carry: Int16Array;
  carryLength: number;
}

export function msToSamples(atMs: number): number {
  return Math.round(atMs * 8);
}

export class RecorderTrack {
  /** Timeline position of buf[0]; everything earlier is on disk. */
  base = 0;
  /** Timeline position just after this side's last audio (including audio still inside the resampler). */
  end = 0;
  /** Pending bytes for [base, base + buf.length); always silence past `end`. */
  private buf = new Uint8Array(8000).fill(MULAW_SILENCE);
  private segment: Segment | null = null;
  private readonly resamplers = new Map<number, StreamResampler>();
  private resampled = new Int16Array(480);

  /** Timeline position up to which this side's bytes are final. */
  get settled(): number {
    return this.segment === null ? this.end : this.segment.cursor;
  }

  /** True while resampled audio is still inside the filter. */
  get inFlight(): boolean {
    return this.segment !== null;
  }

  writeMuLaw(codes: Uint8Array, atMs: number): void {
    if (codes.length === 0) return;
    this.endSegment();
    const at = this.placement(atMs);
    this.reserve(at + codes.length);
    this.buf.set(codes, at - this.base);
    this.end = at + codes.length;
  }

  writePcm(pcm: Int16Array, sampleRate: number, atMs: number): void {
    if (pcm.length === 0) return;
    if (sampleRate === 8000) {
      this.endSegment();
      const at = this.placement(atMs);
      this.reserve(at + pcm.length);
      encodeMuLaw(pcm, this.buf.subarray(at - this.base, at - this.base + pcm.length));
      this.end = at + pcm.length;
      return;
    }
    const at = this.placement(atMs);
    let seg = this.segment;
    if (seg !== null && (seg.resampler.inputRate !== sampleRate || at !== this.end)) {
      this.endSegment();
      seg = null;
    }
    if (seg === null) seg = this.startSegment(sampleRate, at);
    // Advance `end` first: place() never writes past it.
    seg.inputTotal += pcm.length;
    this.end = seg.start + Math.floor((seg.inputTotal * 8000) / sampleRate);
    this.feed(seg, pcm);
  }

  /** Silence everything from `cut` on (barge-in: it never played). Returns the position actually cut at. */
  truncate(cut: number): number {
    this.endSegment();
    const from = Math.max(cut, this.base);
    if (this.end > from) {
      this.buf.fill(MULAW_SILENCE, from - this.base, this.end - this.base);
      this.end = from;
    }
    return from;
  }

  /** Drain the resampler so every sample up to `end` is placed, and close the segment. */
  endSegment(): void {
    const seg = this.segment;
    if (seg === null) return;
    const block = samplesPer10ms(seg.resampler.inputRate);
    if (seg.carryLength > 0) {
      seg.carry.fill(0, seg.carryLength);
      seg.carryLength = block;
      this.feed(seg, new Int16Array(0));
    }
    const zeros = new Int16Array(block);
    while (seg.cursor < this.end) this.feed(seg, zeros);
    this.segment = null;
  }

  /**
   * Copy the first `count` pending samples into every second byte of `dst`
   * starting at `offset` (interleaving a stereo frame), then forget them.
   */
  takeInto(count: number, dst: Uint8Array, offset: number): void {
    const buf = this.buf;
    const used = Math.max(0, this.end - this.base);
    const audio = Math.min(count, used);
    for (let i = 0; i < audio; i++) dst[offset + 2 * i] = buf[i]!;
    for (let i = audio; i < count; i++) dst[offset + 2 * i] = MULAW_SILENCE;
    if (used > count) buf.copyWithin(0, count, used);
    buf.fill(MULAW_SILENCE, used - audio, used);
    this.base += count;
  }

  /** Bytes of pending-buffer memory held; stays bounded because CallRecorder flushes. */
  get capacity(): number {
    return this.buf.length;
  }

  private placement(atMs: number): number {
    const wanted = msToSamples(atMs);
    const at = wanted > this.end + GAP_TOLERANCE ? wanted : this.end;
    return Math.max(at, this.base);
  }

  private reserve(position: number): void {
    const need = position - this.base;
    if (need <= this.buf.length) return;
    let size = this.buf.length;
    while (size < need) size *= 2;
    const grown = new Uint8Array(size).fill(MULAW_SILENCE);
    grown.set(this.buf);
    this.buf = grown;
  }

  private startSegment(sampleRate: number, at: number): Segment {
    let resampler = this.resamplers.get(sampleRate);
    if (resampler === undefined) {
      resampler = new StreamResampler(sampleRate, 8000);
      this.resamplers.set(sampleRate, resampler);
    } else {
      resampler.reset();
    }
    this.segment = {
      resampler,
      start: at,
      cursor: at,
      skip: resampler.delaySamples,
      inputTotal: 0,
      carry: new Int16Array(samplesPer10ms(sampleRate)),
      carryLength: 0,
    };
    return this.segment;
  }

  /** Run whole 10 ms blocks of carry + pcm through the resampler; keep the remainder in carry. */
  private feed(seg: Segment, pcm: Int16Array): void {
    const block = seg.carry.length;
    let i = 0;
    if (seg.carryLength > 0) {
      const take = Math.min(block - seg.carryLength, pcm.length);
      seg.carry.set(pcm.subarray(0, take), seg.carryLength);
      seg.carryLength += take;
      i = take;
      if (seg.carryLength < block) return;
      this.place(seg, seg.resampler.process(seg.carry, this.scratch(80)));
      seg.carryLength = 0;
    }
    const whole = Math.floor((pcm.length - i) / block) * block;
    if (whole > 0) {
      const input = pcm.subarray(i, i + whole);
      this.place(seg, seg.resampler.process(input, this.scratch((whole / block) * 80)));
      i += whole;
    }
    if (i < pcm.length) {
      seg.carry.set(pcm.subarray(i), 0);
      seg.carryLength = pcm.length - i;
    }
  }

  private scratch(samples: number): Int16Array {
    if (this.resampled.length < samples) this.resampled = new Int16Array(samples);
    return this.resampled.subarray(0, samples);
  }

  /** Encode resampler output at the segment cursor, minus the lead-in and anything past `end`. */
  private place(seg: Segment, out8k: Int16Array): void {
    let from = 0;
    if (seg.skip > 0) {
      from = Math.min(seg.skip, out8k.length);
      seg.skip -= from;
    }
    const count = Math.min(out8k.length - from, this.end - seg.cursor);
    if (count <= 0) return;
    this.reserve(seg.cursor + count);
    const at = seg.cursor - this.base;
    encodeMuLaw(out8k.subarray(from, from + count), this.buf.subarray(at, at + count));
    seg.cursor += count;
  }
}
