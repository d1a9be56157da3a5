/**
 * The real LiveKit server and LiveKit SIP, built from their Go modules at pinned versions.
 *
 * Each binary has a small module of ours in `src/stack/go/<name>/` that requires the upstream
 * module at one released version (go.sum pins every hash), so `go build` of its `cmd/` package
 * gives exactly that release. Builds land in a cache folder outside the repository, keyed by
 * version, and are reused when present: the first build takes a few minutes, later runs none.
 *
 * Versions: livekit-server v1.8.4 (March 2025) and livekit-sip v1.0.0 (April 2025) share the
 * psrpc and mediatransportutil revisions they talk to each other over; the Go module proxy here
 * refuses livekit/sip v1.1 and later, so this is the newest pair that builds.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LiveKitBinary {
  name: 'livekit-server' | 'livekit-sip';
  /** The upstream module and the package of its command. */
  module: string;
  pkg: string;
}

export const BINARIES: readonly LiveKitBinary[] = [
  { name: 'livekit-server', module: 'github.com/livekit/livekit-server', pkg: 'github.com/livekit/livekit-server/cmd/server' },
  { name: 'livekit-sip', module: 'github.com/livekit/sip', pkg: 'github.com/livekit/sip/cmd/livekit-sip' },
];

export class StackBuildError extends Error {
  override name = 'StackBuildError';
}

/** The repository's `src/stack/go` folder (this file runs from `dist/src/stack/`). */
function goModulesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [resolve(here, 'go'), resolve(here, '../../../src/stack/go')]) {
    if (existsSync(join(candidate, 'livekit-server', 'go.mod'))) return candidate;
  }
  throw new StackBuildError(`cannot find src/stack/go (looked beside ${here})`);
}

/** The version our go.mod pins, read from it so there is one place to change it. */
export function pinnedVersion(b: LiveKitBinary): string {
  const goMod = readFileSync(join(goModulesDir(), b.name, 'go.mod'), 'utf8');
  const m = goMod.match(new RegExp(`^\\s*(?:require\\s+)?${b.module.replace(/[.]/g, '\\.')}\\s+(v\\S+)`, 'm'));
  if (!m) throw new StackBuildError(`src/stack/go/${b.name}/go.mod does not require ${b.module}`);
  return m[1]!;
}

/** `$SWITCHBOARD_CACHE`, else `$XDG_CACHE_HOME/switchboard`, else `~/.cache/switchboard`. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SWITCHBOARD_CACHE) return resolve(env.SWITCHBOARD_CACHE);
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'switchboard');
}

export function binaryPath(b: LiveKitBinary, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), `${b.name}-${pinnedVersion(b)}`, b.name);
}

/**
 * Paths of both binaries, building the missing ones. `log` hears one line per build (they take
 * minutes the first time); a missing Go or C library is an error that says what to install.
 */
export async function ensureBinaries(log: (line: string) => void = () => undefined): Promise<Record<LiveKitBinary['name'], string>> {
  const out = {} as Record<LiveKitBinary['name'], string>;
  for (const b of BINARIES) out[b.name] = await ensureBinary(b, log);
  return out;
}

async function ensureBinary(b: LiveKitBinary, log: (line: string) => void): Promise<string> {
  const target = binaryPath(b);
  if (existsSync(target)) return target;
  const version = pinnedVersion(b);
  log(`building ${b.name} ${version} into ${dirname(target)} (first run only; a few minutes)`);
  try {
    await run('go', ['version']);
  } catch {
    throw new StackBuildError(`${b.name}: Go is not installed (the real-stack suite builds LiveKit from its Go modules; install Go 1.24 or later)`);
  }
  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.partial-${process.pid}`;
  try {
    await run('go', ['build', '-trimpath', '-o', partial, b.pkg], {
      cwd: join(goModulesDir(), b.name),
      // livekit/sip is not in the public checksum database; go.sum pins its hash instead.
      env: { ...process.env, GONOSUMDB: 'github.com/livekit/sip', GOFLAGS: '-mod=readonly', CGO_ENABLED: '1' },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? (err as Error).message);
    const hint = /opus|soxr|pkg-config/i.test(stderr) ? ' (livekit-sip needs: apt-get install pkg-config libopus-dev libopusfile-dev libsoxr-dev)' : '';
    throw new StackBuildError(`go build ${b.pkg}@${version} failed${hint}:\n${stderr.trim().split('\n').slice(-15).join('\n')}`);
  }
  // Rename last: a build killed halfway never leaves a binary that looks finished.
  renameSync(partial, target);
  return target;
}
