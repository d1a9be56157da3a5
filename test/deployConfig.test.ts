// The deployment files agree with each other and with the config: docker-compose.yml,
// livekit.yaml, docker/sip.yaml and the Dockerfile are parsed (no Docker needed) and checked for
// the same key pair, Redis, ports and agent name. Each check is shown to fail on a broken copy.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../src/config.js';

const ROOT = join(import.meta.dirname, '..', '..');

// Parsed YAML: checked field by field below.
type Y = Record<string, any>;

interface Files {
  compose: Y;
  livekit: Y;
  sip: Y;
  dockerfile: string;
  dockerignore: string;
}

function load(): Files {
  const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
  return {
    compose: parse(read('docker-compose.yml')) as Y,
    livekit: parse(read('livekit.yaml')) as Y,
    sip: parse(read('docker/sip.yaml')) as Y,
    dockerfile: read('Dockerfile'),
    dockerignore: read('.dockerignore'),
  };
}

interface PortMapping {
  host: [number, number];
  container: [number, number];
  proto: string;
}

/** "7880:7880", "5060:5060/udp", "10000-20000:10000-20000/udp" (short syntax only). */
function parsePort(spec: string): PortMapping {
  const m = /^(?:[\d.]+:)?(\d+)(?:-(\d+))?:(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/.exec(String(spec));
  if (!m) throw new Error(`unparsed port mapping ${spec}`);
  const range = (a: string, b?: string): [number, number] => [Number(a), Number(b ?? a)];
  return { host: range(m[1]!, m[2]), container: range(m[3]!, m[4]), proto: m[5] ?? 'tcp' };
}

function publishes(service: Y | undefined, from: number, to: number, proto: string): boolean {
  return ((service?.ports ?? []) as string[]).map(parsePort).some(
    (p) => p.proto === proto && p.container[0] === from && p.container[1] === to && p.host[0] === from && p.host[1] === to,
  );
}

/** Environment of a compose service as a map (accepts both the map and the list form). */
function environment(service: Y | undefined): Record<string, string> {
  const env = service?.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((e: string) => [e.split('=')[0], e.slice(e.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

/** The value a compose `${VAR:-default}` resolves to with VAR unset. */
function composeDefault(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^\$\{\w+:?-([^}]*)\}$/.exec(value);
  return m ? m[1] : value;
}

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions per stage (continuations joined, comments dropped). */
function dockerStages(text: string): { name: string; from: string; body: Instruction[] }[] {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: { name: string; from: string; body: Instruction[] }[] = [];
  for (const line of lines) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const args = m[2]!;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args)!;
      stages.push({ from: f[1]!, name: f[2] ?? `stage${stages.length}`, body: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.body.push({ op, args });
    }
  }
  return stages;
}

/** Every problem with the files, as sentences; empty when they agree. */
function checkDeployment(f: Files): string[] {
  const problems: string[] = [];
  const cfg = loadConfig({});
  const services = (f.compose.services ?? {}) as Y;
  const agent = services.agent as Y | undefined;
  const agentEnv = environment(agent);

  for (const name of ['redis', 'livekit', 'sip', 'agent']) if (!services[name]) problems.push(`compose: no "${name}" service`);

  // API key pair.
  const keys = Object.entries((f.livekit.keys ?? {}) as Record<string, string>);
  if (keys.length !== 1) problems.push(`livekit.yaml: expected exactly one key pair, found ${keys.length}`);
  const [key, secret] = keys[0] ?? ['', ''];
  if (f.sip.api_key !== key) problems.push(`docker/sip.yaml api_key ${f.sip.api_key} != livekit.yaml key ${key}`);
  if (f.sip.api_secret !== secret) problems.push('docker/sip.yaml api_secret differs from livekit.yaml');
  if (agentEnv.LIVEKIT_API_KEY !== key) problems.push(`compose agent LIVEKIT_API_KEY ${agentEnv.LIVEKIT_API_KEY} != livekit.yaml key ${key}`);
  if (agentEnv.LIVEKIT_API_SECRET !== secret) problems.push('compose agent LIVEKIT_API_SECRET differs from livekit.yaml');
  if (cfg.LIVEKIT_API_KEY !== key || cfg.LIVEKIT_API_SECRET !== secret) problems.push('livekit.yaml dev keys differ from the config defaults (LIVEKIT_API_KEY/SECRET)');

  // Redis: one instance shared by livekit-server and livekit/sip.
  const lkRedis = f.livekit.redis?.address as string | undefined;
  const sipRedis = f.sip.redis?.address as string | undefined;
  if (!lkRedis) problems.push('livekit.yaml: no redis.address (SIP needs livekit-server on Redis)');
  if (lkRedis !== sipRedis) problems.push(`Redis differs: livekit.yaml ${lkRedis} vs docker/sip.yaml ${sipRedis}`);
  const [redisHost, redisPort] = (lkRedis ?? '').split(':');
  if (!String(services[redisHost ?? '']?.image ?? '').startsWith('redis')) problems.push(`Redis host ${redisHost} is not a redis service in compose`);
  if (redisPort !== '6379') problems.push(`Redis port ${redisPort} is not 6379`);

  // How the SIP service and the agent reach LiveKit.
  const lkPort = Number(f.livekit.port);
  const internalUrl = `ws://livekit:${lkPort}`;
  if (f.sip.ws_url !== internalUrl) problems.push(`docker/sip.yaml ws_url ${f.sip.ws_url} != ${internalUrl}`);
  if (agentEnv.LIVEKIT_URL !== internalUrl) problems.push(`compose agent LIVEKIT_URL ${agentEnv.LIVEKIT_URL} != ${internalUrl}`);
  if (new URL(cfg.LIVEKIT_URL).port !== String(lkPort)) problems.push(`config default LIVEKIT_URL port != livekit.yaml port ${lkPort}`);

  // Published ports.
  const lk = services.livekit as Y | undefined;
  const sip = services.sip as Y | undefined;
  if (lkPort !== 7880 || !publishes(lk, 7880, 7880, 'tcp')) problems.push('livekit must listen on and publish 7880/tcp');
  if (!publishes(lk, f.livekit.rtc?.tcp_port, f.livekit.rtc?.tcp_port, 'tcp') || f.livekit.rtc?.tcp_port !== 7881) problems.push('livekit must publish rtc.tcp_port 7881/tcp');
  const [udpFrom, udpTo] = [f.livekit.rtc?.port_range_start, f.livekit.rtc?.port_range_end];
  if (!publishes(lk, udpFrom, udpTo, 'udp')) problems.push(`livekit must publish its UDP range ${udpFrom}-${udpTo}/udp`);
  const sipPort = Number(f.sip.sip_port);
  if (sipPort !== 5060 || !publishes(sip, 5060, 5060, 'udp') || !publishes(sip, 5060, 5060, 'tcp')) problems.push('sip must use and publish 5060/udp and 5060/tcp');
  const rtp = /^(\d+)-(\d+)$/.exec(String(f.sip.rtp_port));
  if (!rtp) problems.push(`docker/sip.yaml rtp_port ${f.sip.rtp_port} is not a start-end range`);
  else if (!publishes(sip, Number(rtp[1]), Number(rtp[2]), 'udp')) problems.push(`sip must publish its RTP range ${f.sip.rtp_port}/udp`);

  // Config files are mounted where the services read them.
  const lkCommand = ([] as string[]).concat(lk?.command ?? []).join(' ');
  const lkConfigPath = /--config[= ](\S+)/.exec(lkCommand)?.[1];
  if (!lkConfigPath || !((lk?.volumes ?? []) as string[]).some((v) => v.startsWith(`./livekit.yaml:${lkConfigPath}`))) problems.push('livekit: livekit.yaml is not mounted at its --config path');
  if (!((sip?.volumes ?? []) as string[]).some((v) => v.startsWith('./docker/sip.yaml:/sip/config.yaml'))) problems.push('sip: docker/sip.yaml is not mounted at /sip/config.yaml');
  const dependsOn = (s: Y | undefined) => (Array.isArray(s?.depends_on) ? (s?.depends_on as string[]) : Object.keys(s?.depends_on ?? {}));
  if (!dependsOn(lk).includes('redis')) problems.push('livekit must depend on redis');
  if (!['redis', 'livekit'].every((d) => dependsOn(sip).includes(d))) problems.push('sip must depend on redis and livekit');

  // The agent: built from our Dockerfile, env from .env, our agent name, time to drain.
  if (agent?.build?.context !== '.' || (agent?.build?.dockerfile ?? 'Dockerfile') !== 'Dockerfile') problems.push('agent must be built from ./Dockerfile');
  const envFiles = ([] as (string | Y)[]).concat(agent?.env_file ?? []).map((e) => (typeof e === 'string' ? e : e.path));
  if (!envFiles.includes('.env')) problems.push('agent must take its environment from .env');
  const agentName = composeDefault(agentEnv.AGENT_NAME);
  if (agentName !== cfg.AGENT_NAME) problems.push(`compose AGENT_NAME defaults to ${agentName}, config to ${cfg.AGENT_NAME}`);
  const grace = /^(\d+)(s|m)$/.exec(String(agent?.stop_grace_period ?? ''));
  const graceSeconds = grace ? Number(grace[1]) * (grace[2] === 'm' ? 60 : 1) : 0;
  if (graceSeconds < cfg.MAX_CALL_SECONDS) problems.push(`agent stop_grace_period (${agent?.stop_grace_period}) is shorter than MAX_CALL_SECONDS ${cfg.MAX_CALL_SECONDS}s: calls would be cut, not drained`);

  // Dockerfile.
  const stages = dockerStages(f.dockerfile);
  const final = stages[stages.length - 1];
  if (!final) return [...problems, 'Dockerfile: no FROM'];
  const ops = (op: string) => final.body.filter((i) => i.op === op);
  const user = ops('USER').pop()?.args.trim();
  if (!user || /^(root|0)(:|$)/.test(user)) problems.push(`Dockerfile: the runtime stage runs as ${user ?? 'root (no USER)'}`);
  const health = ops('HEALTHCHECK').pop()?.args ?? '';
  if (!/\b8081\b/.test(health)) problems.push('Dockerfile: no HEALTHCHECK on the worker health port 8081');
  const cmd = ops('CMD').pop()?.args ?? '';
  let argv: unknown;
  try {
    argv = JSON.parse(cmd);
  } catch {
    argv = undefined;
  }
  if (!Array.isArray(argv)) problems.push(`Dockerfile: CMD is not exec form (JSON array): ${cmd}`);
  else if (argv[0] !== 'node' || !argv.includes('dist/src/worker.js') || !argv.includes('start')) problems.push(`Dockerfile: CMD must run node dist/src/worker.js start directly, not ${cmd}`);
  if (ops('ENTRYPOINT').length > 0) problems.push('Dockerfile: an ENTRYPOINT would stand between the signal and node');
  if (ops('STOPSIGNAL').pop()?.args.trim() !== 'SIGTERM') problems.push('Dockerfile: STOPSIGNAL SIGTERM missing');
  const chain = (s: (typeof stages)[number] | undefined): Instruction[] => (s ? [...chain(stages.find((x) => x.name === s.from)), ...s.body] : []);
  for (const s of stages) {
    const all = chain(s);
    const ci = all.findIndex((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
    if (ci >= 0 && !all.slice(0, ci).some((i) => i.op === 'COPY' && /\.npmrc\b/.test(i.args))) problems.push(`Dockerfile: stage ${s.name} runs npm ci before copying .npmrc`);
    // npm ci's postinstall applies patches/; without them it installs the unpatched framework quietly.
    if (ci >= 0 && !all.slice(0, ci).some((i) => i.op === 'COPY' && /^patches\b/.test(i.args.trim()))) problems.push(`Dockerfile: stage ${s.name} runs npm ci before copying patches/`);
  }
  const prodStage = stages.find((s) => s.body.some((i) => i.op === 'RUN' && /\bnpm ci\b.*--omit=dev/.test(i.args)));
  if (!prodStage) problems.push('Dockerfile: no stage installs production deps with npm ci --omit=dev');
  else if (!ops('COPY').some((i) => new RegExp(`--from=${prodStage.name}\\b.*node_modules`).test(i.args))) problems.push('Dockerfile: the runtime stage does not take node_modules from the --omit=dev stage');
  if (!ops('RUN').some((i) => /silero_vad\.onnx/.test(i.args))) problems.push('Dockerfile: the runtime stage does not check the Silero model is present');
  const ignored = f.dockerignore.split(/\r?\n/).map((l) => l.trim());
  for (const must of ['.env', 'node_modules']) if (!ignored.includes(must)) problems.push(`.dockerignore must exclude ${must}`);
  if (ignored.includes('.npmrc')) problems.push('.dockerignore must not exclude .npmrc (npm ci needs it)');
  return problems;
}

/** A deep copy to break. */
const copy = (f: Files): Files => structuredClone(f);

describe('deployment files agree', () => {
  test('docker-compose.yml, livekit.yaml, docker/sip.yaml and the Dockerfile are consistent', () => {
    assert.deepEqual(checkDeployment(load()), []);
  });

  test('the key pair is the config default dev pair everywhere', () => {
    const f = load();
    assert.deepEqual(f.livekit.keys, { devkey: 'secret' });
    assert.equal(f.sip.api_key, 'devkey');
    assert.equal(environment(f.compose.services.agent).LIVEKIT_API_KEY, 'devkey');
  });

  test('the RTP range is livekit/sip\'s default and SIP signalling is 5060 over UDP and TCP', () => {
    const f = load();
    assert.equal(f.sip.rtp_port, '10000-20000');
    assert.equal(f.sip.sip_port, 5060);
    assert.ok(publishes(f.compose.services.sip, 10000, 20000, 'udp'));
  });

  test('a changed key in any one file is caught', () => {
    let f = copy(load());
    f.sip.api_secret = 'another-secret';
    assert.match(checkDeployment(f).join('\n'), /api_secret differs/);
    f = copy(load());
    f.livekit.keys = { devkey: 'rotated-secret-rotated-secret-rotated' };
    assert.match(checkDeployment(f).join('\n'), /api_secret differs[\s\S]*LIVEKIT_API_SECRET differs[\s\S]*config defaults/);
    f = copy(load());
    f.compose.services.agent.environment.LIVEKIT_API_KEY = 'APIother';
    assert.match(checkDeployment(f).join('\n'), /agent LIVEKIT_API_KEY APIother != livekit\.yaml key devkey/);
  });

  test('a different Redis, a missing port mapping or a narrowed range is caught', () => {
    let f = copy(load());
    f.sip.redis.address = 'redis:6380';
    assert.match(checkDeployment(f).join('\n'), /Redis differs/);
    f = copy(load());
    f.compose.services.sip.ports = f.compose.services.sip.ports.filter((p: string) => !p.includes('/tcp'));
    assert.match(checkDeployment(f).join('\n'), /5060\/udp and 5060\/tcp/);
    f = copy(load());
    f.livekit.rtc.port_range_end = 60000;
    assert.match(checkDeployment(f).join('\n'), /UDP range 50000-60000\/udp/);
    f = copy(load());
    f.sip.rtp_port = '10000-30000';
    assert.match(checkDeployment(f).join('\n'), /RTP range 10000-30000/);
  });

  test('an agent name default that differs from the config is caught', () => {
    const f = copy(load());
    f.compose.services.agent.environment.AGENT_NAME = '${AGENT_NAME:-hotline}';
    assert.match(checkDeployment(f).join('\n'), /AGENT_NAME defaults to hotline, config to switchboard/);
  });

  test('a Dockerfile running as root, without the health check, or through npm is caught', () => {
    const base = load();
    const broken = (from: RegExp, to: string) => checkDeployment({ ...copy(base), dockerfile: base.dockerfile.replace(from, to) }).join('\n');
    assert.match(broken(/^USER node$/m, 'USER root'), /runs as root/);
    assert.match(broken(/^USER node$/m, ''), /runs as root \(no USER\)/);
    assert.match(broken(/^HEALTHCHECK[\s\S]*?process\.exit\(1\)\)"\]$/m, ''), /no HEALTHCHECK on the worker health port 8081/);
    assert.match(broken(/^CMD .*$/m, 'CMD npm start'), /CMD is not exec form/);
    assert.match(broken(/^CMD .*$/m, 'CMD ["npm", "start"]'), /must run node dist\/src\/worker\.js start directly/);
    assert.match(broken(/^STOPSIGNAL SIGTERM$/m, ''), /STOPSIGNAL SIGTERM missing/);
    assert.match(broken(/ \.npmrc \.\//, ' ./'), /runs npm ci before copying \.npmrc/);
    assert.match(broken(/^COPY patches .*$/m, ''), /stage build runs npm ci before copying patches\//);
    assert.match(broken(/--from=deps /, '--from=build '), /does not take node_modules from the --omit=dev stage/);
  });

  test('a grace period too short to drain calls is caught', () => {
    const f = copy(load());
    f.compose.services.agent.stop_grace_period = '10s';
    assert.match(checkDeployment(f).join('\n'), /shorter than MAX_CALL_SECONDS/);
  });
});
