/**
 * The whole machine's CPU, from /proc/stat: other work on it (other tenants, builds) skews every
 * figure a benchmark takes, so benchmarks report how busy it was beside their own processes.
 */
import { readFileSync } from 'node:fs';

export interface MachineCpu {
  /** Jiffies summed over all cores: busy (user, nice, system, irq, softirq), and every state (total). */
  busy: number;
  total: number;
  /**
   * Time the hypervisor gave this virtual machine's runnable CPUs to someone else: a process
   * here simply does not run meanwhile, so it stalls whatever its own load.
   */
  steal: number;
}

/** Null where /proc/stat cannot be read (not Linux). */
export function machineCpu(): MachineCpu | null {
  try {
    const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user and nice).
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
    return { busy: user + nice + system + irq + softirq, total: user + nice + system + idle + iowait + irq + softirq + steal, steal };
  } catch {
    return null;
  }
}
