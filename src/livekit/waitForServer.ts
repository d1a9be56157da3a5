/**
 * Before the worker registers, make sure someone is listening at LIVEKIT_URL, and say so plainly
 * while nobody is. The framework's own reconnect loop logs stack traces and gives up after ten
 * tries; an operator starting the worker before the server deserves one clear line instead.
 */
import { connect } from 'node:net';

export function probe(url: string, timeoutMs = 1500): Promise<boolean> {
  const u = new URL(url);
  const port = Number(u.port) || (u.protocol === 'wss:' || u.protocol === 'https:' ? 443 : 80);
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * The URL as it may be printed: a LIVEKIT_URL can carry credentials (`wss://key:secret@host`, or a
 * token in the query), and the waiting line goes to terminals and log collectors.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '[unparseable URL]';
  }
  if (u.username) u.username = 'REDACTED';
  if (u.password) u.password = 'REDACTED';
  for (const key of [...u.searchParams.keys()]) u.searchParams.set(key, 'REDACTED');
  return u.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
}

export async function waitForLiveKit(
  url: string,
  say: (line: string) => void,
  options: { intervalMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const interval = options.intervalMs ?? 2000;
  if (await probe(url)) return;
  const shown = redactUrl(url);
  say(
    `Waiting for a LiveKit server at ${shown} (LIVEKIT_URL): nothing is answering there yet.\n` +
      '  Start one with `livekit-server --dev` or `docker compose up`, or point LIVEKIT_URL at LiveKit Cloud.\n' +
      '  To hear a whole call with no server and no accounts, run `npm run simulate`.',
  );
  let waited = 0;
  while (!options.signal?.aborted) {
    await new Promise((r) => setTimeout(r, interval));
    waited += interval;
    if (await probe(url)) {
      say(`LiveKit server at ${shown} is up; registering the worker.`);
      return;
    }
    if (waited % 30_000 < interval) say(`Still waiting for LiveKit at ${shown} (${Math.round(waited / 1000)} s).`);
  }
}
