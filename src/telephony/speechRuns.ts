/**
 * Where a recording channel has sound: runs of 20 ms windows louder than -40 dBFS, merged across
 * gaps shorter than 300 ms (the pauses inside a spoken line). For checking recordings, not for
 * deciding anything during a call (that is the VAD's job).
 */
export interface SpeechRun {
  /** ms from the start of the channel. */
  start: number;
  end: number;
}

export function speechRuns(pcm: Int16Array, rate: number): SpeechRun[] {
  const win = rate / 50;
  const runs: SpeechRun[] = [];
  for (let i = 0; i + win <= pcm.length; i += win) {
    let sum = 0;
    for (let j = i; j < i + win; j++) sum += pcm[j]! * pcm[j]!;
    const loud = Math.sqrt(sum / win) / 32768 > 0.01;
    const t = (i / rate) * 1000;
    if (!loud) continue;
    const last = runs.at(-1);
    if (last && t - last.end < 300) last.end = t + 20;
    else runs.push({ start: t, end: t + 20 });
  }
  return runs;
}
