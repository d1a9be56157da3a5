/**
 * Who holds a row: `<host>:<pid>:<random>`. Campaign claims and open call records carry one.
 *
 * A claim whose lease ran out is anyone's; so is one whose owner was a process on this host that
 * no longer exists — which is what lets `campaign run` resume at once after a SIGKILL instead of
 * waiting out the lease, and lets a restarted worker end the calls its killed run left open.
 * `host` is the machine's name by default; a worker in a container, whose host name changes at
 * each restart, names itself with WORKER_ID instead.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export function newOwner(host = hostname()): string {
  return `${host}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** The host part of an owner (what `newOwner` was given). */
export function ownerHost(owner: string): string | undefined {
  const parts = owner.split(':');
  return parts.length < 3 ? undefined : parts.slice(0, -2).join(':');
}

/** True only when we can tell for sure: same host and no such pid. */
export function ownerIsDead(owner: string | null, host = hostname()): boolean {
  if (!owner) return true;
  const parts = owner.split(':');
  if (parts.length < 3) return false;
  const pid = Number(parts[parts.length - 2]);
  if (ownerHost(owner) !== host || !Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
