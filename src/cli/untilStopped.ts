/**
 * For commands that run services until Ctrl-C (`sandbox`, `stack`): on SIGINT or SIGTERM, close
 * them, release rtc-node (its native side keeps the process alive until disposed), and exit 0.
 */
import { dispose } from '@livekit/rtc-node';

export function untilStopped(close: () => Promise<void>): void {
  const stop = async () => {
    await close();
    await dispose();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
