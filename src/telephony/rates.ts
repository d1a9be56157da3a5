// The sample rates the telephony leaf deals in: the 8 kHz line and the rates
// LiveKit rooms, STT and TTS engines use. Kept apart from resampler.ts so code
// that only needs the list (the WAV reader) does not load the WASM resampler.

export const SUPPORTED_RATES = [8000, 16000, 24000, 48000] as const;
export type TelephonyRate = (typeof SUPPORTED_RATES)[number];

export function isTelephonyRate(rate: number): rate is TelephonyRate {
  return (SUPPORTED_RATES as readonly number[]).includes(rate);
}

/** Samples in 10 ms at `rate`: the granularity every streaming frame must respect. */
export function samplesPer10ms(rate: number): number {
  return rate / 100;
}
