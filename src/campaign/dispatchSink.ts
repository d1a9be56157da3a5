/**
 * Where dispatches go. `livekitSink.ts` implements it over AgentDispatchClient; tests and the
 * benchmark use their own. Kept apart from the SDK so the dispatcher loads without it.
 */
export interface DispatchSink {
  /** CreateDispatch of the agent into `room` (created if missing) with the job as metadata. */
  dispatch(room: string, metadata: string): Promise<void>;
  /** Whether the room has a dispatch of our agent; a missing room has none. */
  hasDispatch(room: string): Promise<boolean>;
  /** Removes our agent's dispatches from the room (best effort; a missing room is fine). */
  cancel(room: string): Promise<void>;
}

/** Auth and permission failures: retrying cannot help, the run must stop and say so. */
export function isFatalApiError(err: unknown): boolean {
  const e = err as { status?: number; code?: string };
  return e.status === 401 || e.status === 403 || e.code === 'unauthenticated' || e.code === 'permission_denied';
}
