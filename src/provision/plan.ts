/**
 * The shape every `switchboard setup …` run shares: an ordered list of steps, each of which
 * reads the provider's current state, decides create / update / nothing, and (unless this is a
 * dry run) does it. Steps run in order and stop at the first failure, and the result always says
 * what was done and what was not, so a run that fails halfway never leaves the operator guessing
 * what exists.
 *
 * Dry runs still READ (list/get) so the plan is the one a real run would carry out; they never
 * send a request that changes anything. Planned requests are recorded with secrets redacted.
 */

export type StepStatus =
  | 'created'
  | 'updated'
  | 'unchanged'
  /** Dry run: would be created / updated. */
  | 'would create'
  | 'would update'
  /** Not applicable with this configuration (e.g. no inbound numbers). */
  | 'skipped'
  | 'failed'
  /** An earlier step failed, so this one never ran. */
  | 'not run';

export interface StepResult {
  /** What kind of resource, e.g. "inbound trunk". */
  step: string;
  /** The name it is found by. */
  name: string;
  status: StepStatus;
  /** Provider id (trunk id, SID) once known. */
  id?: string;
  /** Which fields differed, for updates. */
  changes?: string[];
  note?: string;
  error?: string;
}

/** A request that changes something: sent in a real run, only printed in a dry run. */
export interface PlannedRequest {
  step: string;
  /** e.g. "SIP.CreateSIPInboundTrunk" or "POST https://trunking.twilio.com/v1/Trunks". */
  call: string;
  /** The request body, secrets replaced by "[redacted]". */
  body: unknown;
}

export interface ProvisionResult {
  ok: boolean;
  provider: string;
  /** Where the requests go (API base URL). */
  target: string;
  dryRun: boolean;
  steps: StepResult[];
  /** Changing requests: sent (real run) or that would be sent (dry run). */
  requests: PlannedRequest[];
  /** Values the operator needs next (trunk ids, domains), by name. */
  outputs: Record<string, string>;
  /** What to do next, one sentence each. */
  next: string[];
  error?: string;
}

/** A failure after some steps may already have run; `result` says which. */
export class ProvisionError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
    readonly result: ProvisionResult,
  ) {
    super(message);
    this.name = 'ProvisionError';
  }
}

/** A step found the settings wrong (e.g. a number not in the account): exit code 2. */
export class StepInputError extends Error {
  override name = 'StepInputError';
}

/** The context a step runs with. */
export interface StepContext {
  readonly dryRun: boolean;
  /** Records a changing request (redacted) before it is sent, or instead of sending it. */
  plan(call: string, body: unknown): void;
}

export interface Step {
  step: string;
  name: string;
  /** Returns how it went; throws on failure. */
  run(ctx: StepContext): Promise<Omit<StepResult, 'step' | 'name'>>;
}

const SECRET_KEY = /pass(word)?|secret|token|credential_?password/i;

/**
 * A copy of `value` with every secret-looking field (password, secret, token) and every string
 * equal to one of `secrets` replaced by "[redacted]".
 */
export function redact(value: unknown, secrets: readonly string[] = []): unknown {
  const known = new Set(secrets.filter((s) => s.length > 0));
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') {
      if (known.has(v)) return '[redacted]';
      if (key !== undefined && SECRET_KEY.test(key) && v !== '') return '[redacted]';
      return v;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, k);
      return out;
    }
    return v;
  };
  return walk(value);
}

/** How a provider error is explained: the message, and whether it was bad input (exit 2). */
export interface Explained {
  message: string;
  badInput: boolean;
}

export interface RunOptions {
  provider: string;
  target: string;
  dryRun: boolean;
  /** Secret values that must never appear in the planned requests. */
  secrets: readonly string[];
  explain(err: unknown): Explained;
}

/**
 * Runs the steps in order. Resolves with the result when all succeed; otherwise throws a
 * ProvisionError whose result lists the steps done, the one that failed, and those not run.
 */
export async function runSteps(steps: Step[], options: RunOptions): Promise<ProvisionResult> {
  const result: ProvisionResult = {
    ok: true,
    provider: options.provider,
    target: options.target,
    dryRun: options.dryRun,
    steps: [],
    requests: [],
    outputs: {},
    next: [],
  };
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    const ctx: StepContext = {
      dryRun: options.dryRun,
      plan: (call, body) => result.requests.push({ step: s.step, call, body: redact(body, options.secrets) }),
    };
    try {
      const done = await s.run(ctx);
      result.steps.push({ step: s.step, name: s.name, ...done });
    } catch (err) {
      const why = err instanceof StepInputError ? { message: err.message, badInput: true } : options.explain(err);
      result.ok = false;
      result.error = `${s.step} "${s.name}": ${why.message}`;
      result.steps.push({ step: s.step, name: s.name, status: 'failed', error: why.message });
      for (const rest of steps.slice(i + 1)) result.steps.push({ step: rest.step, name: rest.name, status: 'not run' });
      throw new ProvisionError(`${result.error}${partialNote(result)}`, why.badInput ? 2 : 1, result);
    }
  }
  return result;
}

/** " (already done: …; not done: …)" so a half-finished run says so in its one-line error. */
function partialNote(result: ProvisionResult): string {
  const changed = result.steps.filter((s) => s.status === 'created' || s.status === 'updated');
  const notDone = result.steps.filter((s) => s.status === 'failed' || s.status === 'not run');
  const list = (xs: StepResult[]) => xs.map((s) => `${s.step} "${s.name}"${s.id ? ` ${s.id}` : ''} ${s.status}`).join(', ');
  const parts: string[] = [];
  if (changed.length > 0) parts.push(`changed before the failure: ${list(changed)}`);
  parts.push(`not done: ${list(notDone)}`);
  return ` (${parts.join('; ')}; re-running after the fix picks up where this stopped)`;
}

/** Set equality for string lists, ignoring order and duplicates. */
export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  if (sa.size !== sb.size) return false;
  for (const x of sa) if (!sb.has(x)) return false;
  return true;
}
