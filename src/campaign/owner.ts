/**
 * Who holds a claim: `<host>:<pid>:<random>`. A claim whose lease ran out is anyone's; so is one
 * whose owner was a process on this host that no longer exists — which is what lets `campaign run`
 * resume at once after a SIGKILL instead of waiting out the lease.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export function newOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** True only when we can tell for sure: same host and no such pid. */
export function ownerIsDead(owner: string | null): boolean {
  if (!owner) return true;
  const parts = owner.split(':');
  if (parts.length < 3) return false;
  const pid = Number(parts[parts.length - 2]);
  const host = parts.slice(0, -2).join(':');
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
