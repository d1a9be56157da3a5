/**
 * Messages between the worker (supervisor) and a call host process. Every message carries a
 * `host` field, so other traffic on the same IPC channel (a benchmark's own messages) passes by.
 * It all crosses process.send() as JSON, as the framework's own job IPC does: the job arrives
 * in the protobuf's JSON form, which is what the framework's job processes see too.
 */
import type { RunningJobInfo } from '@livekit/agents';
import type { MetricOp } from '../observe/metrics.js';

export interface HostInit {
  host: 'init';
  /** Module whose default export is the agent (defineAgent: prewarm + entry). */
  agentModule: string;
  logger: { pretty: boolean; level?: string };
  /** How long a closing job may take to let its entry function finish, then its session close. */
  entryShutdownMs: number;
  sessionCloseMs: number;
  /** How often the host reports its resident memory. */
  statsEveryMs: number;
}

export type ToHost =
  | HostInit
  | { host: 'start'; jobId: string; info: RunningJobInfo }
  | { host: 'shutdown'; jobId: string; reason: string }
  /** Finish every job (they end the way a shutdown request ends them), then exit. */
  | { host: 'close' }
  | { host: 'inferenceResponse'; requestId: string; data?: unknown; error?: string };

export type FromHost =
  | { host: 'ready'; pid: number; prewarmMs: number }
  | { host: 'done'; jobId: string; error?: string }
  | { host: 'stats'; rssBytes: number; jobs: number }
  /** Measurements the host's calls made, for the worker's /metrics (src/observe/metrics.ts). */
  | { host: 'metrics'; ops: MetricOp[] }
  | { host: 'inferenceRequest'; requestId: string; method: string; data: unknown };

export function isHostMessage(m: unknown): m is { host: string } {
  return typeof m === 'object' && m !== null && typeof (m as { host?: unknown }).host === 'string';
}
