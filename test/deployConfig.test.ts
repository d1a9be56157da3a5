// The deployment files agree with each other and with the config: docker-compose.yml,
// livekit.yaml, docker/sip.yaml and the Dockerfile are parsed (no Docker needed) and checked for
// the same key pair, Redis, ports and agent name. Each check is shown to fail on a broken copy.
// scripts/check-stack-config.sh (needs Go) parses livekit.yaml and docker/sip.yaml with the real
// config code of the pinned livekit-server and livekit-sip versions.
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
  /** package.json "engines".node */
  engines: string;
}

function load(): Files {
  const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
  return {
    // Compose resolves YAML merge keys (`<<: *anchor`); so must the parse.
    compose: parse(read('docker-compose.yml'), { merge: true }) as Y,
    livekit: parse(read('livekit.yaml')) as Y,
    sip: parse(read('docker/sip.yaml')) as Y,
    dockerfile: read('Dockerfile'),
    dockerignore: read('.dockerignore'),
    engines: (JSON.parse(read('package.json')) as { engines?: { node?: string } }).engines?.node ?? '',
  };
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

/** The versions of the real-stack e2e suite, which builds livekit-server and livekit-sip from source. */
const E2E_VERSIONS = { 'livekit/livekit-server': 'v1.8.4', 'livekit/sip': 'v1.0.0' } as const;

/** `${VAR:-default}` / `${VAR-default}` / `${VAR}` / `$VAR` as compose resolves them against `env`. */
function interpolate(value: string | undefined, env: Record<string, string>): string | undefined {
  if (value === undefined) return undefined;
  return value.replace(/\$\{(\w+)(?:(:?-)([^}]*))?\}|\$(\w+)/g, (_m, name: string | undefined, op: string | undefined, def: string | undefined, bare: string | undefined) => {
    const v = env[(name ?? bare)!];
    if (op === ':-') return v === undefined || v === '' ? def ?? '' : v;
    if (op === '-') return v === undefined ? def ?? '' : v;
    return v ?? '';
  });
}

/** The ports a service claims on the host: "6379/tcp", "10000-20000/udp" style, as [from, to, proto, what]. */
type Claim = [number, number, string, string];

/** Every problem with the files, as sentences; empty when they agree. */
function checkDeployment(f: Files): string[] {
  const problems: string[] = [];
  const cfg = loadConfig({});
  const services = (f.compose.services ?? {}) as Y;
  const agent = services.agent as Y | undefined;
  const lk = services.livekit as Y | undefined;
  const sip = services.sip as Y | undefined;
  const redis = services.redis as Y | undefined;
  const agentEnv = environment(agent);

  for (const name of ['redis', 'livekit', 'sip', 'agent']) if (!services[name]) problems.push(`compose: no "${name}" service`);

  // Images: the versions the e2e suite tests, never a moving tag.
  for (const [svc, image] of [[lk, 'livekit/livekit-server'], [sip, 'livekit/sip']] as const) {
    const want = `${image}:${E2E_VERSIONS[image]}`;
    if (svc?.image !== want) problems.push(`compose: image ${svc?.image} is not ${want} (the version the e2e suite builds)`);
  }

  // One key pair, from .env: no copy in livekit.yaml or docker/sip.yaml, and every service
  // resolves the same two variables (checked with and without them set).
  if (f.livekit.keys !== undefined || f.livekit.key_file !== undefined) problems.push('livekit.yaml: holds keys — the pair must come from .env only (compose sets LIVEKIT_KEYS)');
  if (f.sip.api_key !== undefined || f.sip.api_secret !== undefined) problems.push('docker/sip.yaml: holds api_key/api_secret — the pair must come from .env only (compose sets LIVEKIT_API_KEY/SECRET)');
  const lkEnv = environment(lk);
  const sipEnv = environment(sip);
  for (const env of [{}, { LIVEKIT_API_KEY: 'APIfromdotenv', LIVEKIT_API_SECRET: 'secret-from-dotenv-0123456789abcdef' }] as Record<string, string>[]) {
    const key = env.LIVEKIT_API_KEY ?? cfg.LIVEKIT_API_KEY;
    const secret = env.LIVEKIT_API_SECRET ?? cfg.LIVEKIT_API_SECRET;
    const when = env.LIVEKIT_API_KEY ? 'with the pair set in .env' : 'with no pair in .env';
    if (interpolate(lkEnv.LIVEKIT_KEYS, env) !== `${key}: ${secret}`) problems.push(`compose livekit LIVEKIT_KEYS does not resolve to "<LIVEKIT_API_KEY>: <LIVEKIT_API_SECRET>" ${when}`);
    for (const [name, e] of [['sip', sipEnv], ['agent', agentEnv]] as const) {
      if (interpolate(e.LIVEKIT_API_KEY, env) !== key) problems.push(`compose ${name} LIVEKIT_API_KEY does not resolve to LIVEKIT_API_KEY ${when}`);
      if (interpolate(e.LIVEKIT_API_SECRET, env) !== secret) problems.push(`compose ${name} LIVEKIT_API_SECRET does not resolve to LIVEKIT_API_SECRET ${when}`);
    }
  }

  // Networking: SIP and media on the host's network (no per-port proxies; the SDP announces
  // ports that are really open), talking over loopback.
  const hostNet = (s: Y | undefined) => s?.network_mode === 'host';
  for (const [name, s] of [['redis', redis], ['livekit', lk], ['sip', sip]] as const) {
    if (!hostNet(s)) problems.push(`compose: ${name} is not on the host network (network_mode: host)`);
    else if ((s?.ports ?? []).length > 0) problems.push(`compose: ${name} publishes ports on the host network, where Docker ignores them`);
  }
  const lkPort = Number(f.livekit.port);
  const sipUrl = `ws://127.0.0.1:${lkPort}`;
  if (f.sip.ws_url !== sipUrl) problems.push(`docker/sip.yaml ws_url ${f.sip.ws_url} != ${sipUrl} (livekit on the same host network)`);
  if (new URL(cfg.LIVEKIT_URL).port !== String(lkPort)) problems.push(`config default LIVEKIT_URL port != livekit.yaml port ${lkPort}`);
  if (hostNet(agent)) {
    if (agentEnv.LIVEKIT_URL !== sipUrl) problems.push(`compose agent LIVEKIT_URL ${agentEnv.LIVEKIT_URL} != ${sipUrl}`);
  } else {
    const gateway = /^ws:\/\/([\w.-]+):(\d+)$/.exec(agentEnv.LIVEKIT_URL ?? '');
    const hosts = ((agent?.extra_hosts ?? []) as string[]).map((h) => h.split(':'));
    if (!gateway || Number(gateway[2]) !== lkPort || !hosts.some(([h, ip]) => h === gateway[1] && ip === 'host-gateway')) {
      problems.push(`compose agent LIVEKIT_URL ${agentEnv.LIVEKIT_URL} must be ws://<name>:${lkPort} with <name>:host-gateway in extra_hosts (livekit is on the host network)`);
    }
  }

  // Redis: one instance shared by livekit-server and livekit/sip, on loopback.
  const lkRedis = f.livekit.redis?.address as string | undefined;
  const sipRedis = f.sip.redis?.address as string | undefined;
  if (!lkRedis) problems.push('livekit.yaml: no redis.address (SIP needs livekit-server on Redis)');
  if (lkRedis !== sipRedis) problems.push(`Redis differs: livekit.yaml ${lkRedis} vs docker/sip.yaml ${sipRedis}`);
  const redisArgs = ([] as string[]).concat(redis?.command ?? []);
  const arg = (flag: string) => (redisArgs.includes(flag) ? redisArgs[redisArgs.indexOf(flag) + 1] : undefined);
  const redisPort = Number(arg('--port') ?? 6379);
  if (!String(redis?.image ?? '').startsWith('redis')) problems.push('compose: the redis service does not run a redis image');
  if (lkRedis !== `127.0.0.1:${redisPort}` || arg('--bind') !== '127.0.0.1') problems.push(`Redis must listen on loopback only and be reached there: redis --bind ${arg('--bind')} --port ${redisPort}, livekit.yaml ${lkRedis}`);

  // Media: one muxed UDP port for WebRTC (livekit-server ignores udp_port while a range is set).
  const rtc = (f.livekit.rtc ?? {}) as Y;
  if (typeof rtc.udp_port !== 'number') problems.push(`livekit.yaml rtc.udp_port ${rtc.udp_port} is not a single port (one muxed UDP port)`);
  if (rtc.port_range_start !== undefined || rtc.port_range_end !== undefined) problems.push('livekit.yaml sets rtc.port_range_start/end: livekit-server then ignores rtc.udp_port');
  if (rtc.tcp_port !== 7881) problems.push(`livekit.yaml rtc.tcp_port ${rtc.tcp_port} is not 7881`);
  if (lkPort !== 7880) problems.push(`livekit.yaml port ${lkPort} is not 7880`);
  const sipPort = Number(f.sip.sip_port);
  if (sipPort !== 5060) problems.push(`docker/sip.yaml sip_port ${f.sip.sip_port} is not 5060`);
  const rtp = /^(\d+)-(\d+)$/.exec(String(f.sip.rtp_port));
  if (!rtp) problems.push(`docker/sip.yaml rtp_port ${f.sip.rtp_port} is not a start-end range`);

  // Metrics: both servers serve Prometheus (livekit-server: prometheus.port or the older prometheus_port).
  const lkMetrics = Number(f.livekit.prometheus?.port ?? f.livekit.prometheus_port ?? 0);
  const sipMetrics = Number(f.sip.prometheus_port ?? 0);
  if (!(lkMetrics > 0)) problems.push('livekit.yaml: no Prometheus port (prometheus.port)');
  if (!(sipMetrics > 0)) problems.push('docker/sip.yaml: no prometheus_port');

  // On the host network every port is the host's: none may be claimed twice.
  const claims: Claim[] = [
    [redisPort, redisPort, 'tcp', 'redis'],
    [lkPort, lkPort, 'tcp', 'livekit port'],
    [rtc.tcp_port, rtc.tcp_port, 'tcp', 'livekit rtc.tcp_port'],
    [rtc.udp_port, rtc.udp_port, 'udp', 'livekit rtc.udp_port'],
    [lkMetrics, lkMetrics, 'tcp', 'livekit prometheus'],
    [sipPort, sipPort, 'udp', 'sip sip_port'],
    [sipPort, sipPort, 'tcp', 'sip sip_port'],
    [sipMetrics, sipMetrics, 'tcp', 'sip prometheus_port'],
    ...(rtp ? [[Number(rtp[1]), Number(rtp[2]), 'udp', 'sip rtp_port'] as Claim] : []),
  ];
  for (const [i, a] of claims.entries()) {
    for (const b of claims.slice(i + 1)) {
      if (a[2] === b[2] && a[0] <= b[1] && b[0] <= a[1]) problems.push(`host port clash: ${a[3]} and ${b[3]} both claim ${Math.max(a[0], b[0])}/${a[2]}`);
    }
  }

  // Health: each service has a check on what it serves, and each waits for what it needs to be healthy.
  const probe = (s: Y | undefined) => ([] as string[]).concat(s?.healthcheck?.test ?? []).join(' ');
  if (!/redis-cli\b.*\bping\b/.test(probe(redis))) problems.push('compose: redis has no health check (redis-cli ping)');
  if (!probe(lk).includes(`127.0.0.1:${lkPort}/`)) problems.push(`compose: livekit has no health check on http://127.0.0.1:${lkPort}/`);
  if (!probe(sip).includes(`127.0.0.1:${sipMetrics}/`)) problems.push(`compose: sip has no health check on its metrics listener 127.0.0.1:${sipMetrics} (livekit-sip v1.0.0 serves nothing on health_port)`);
  const waits = (s: Y | undefined, on: string) => s?.depends_on?.[on]?.condition === 'service_healthy';
  if (!waits(lk, 'redis')) problems.push('compose: livekit must wait for redis service_healthy');
  if (!waits(sip, 'redis') || !waits(sip, 'livekit')) problems.push('compose: sip must wait for redis and livekit service_healthy');
  if (!waits(agent, 'livekit')) problems.push('compose: agent must wait for livekit service_healthy');
  if (agent?.healthcheck?.disable === true) problems.push('compose: agent disables the image health check');

  // Config files are mounted where the services read them.
  const lkCommand = ([] as string[]).concat(lk?.command ?? []).join(' ');
  const lkConfigPath = /--config[= ](\S+)/.exec(lkCommand)?.[1];
  if (!lkConfigPath || !((lk?.volumes ?? []) as string[]).some((v) => v.startsWith(`./livekit.yaml:${lkConfigPath}`))) problems.push('livekit: livekit.yaml is not mounted at its --config path');
  if (!((sip?.volumes ?? []) as string[]).some((v) => v.startsWith('./docker/sip.yaml:/sip/config.yaml'))) problems.push('sip: docker/sip.yaml is not mounted at /sip/config.yaml');

  // The agent: built from our Dockerfile, env from .env, our agent name, recordings kept, time to drain.
  if (agent?.build?.context !== '.' || (agent?.build?.dockerfile ?? 'Dockerfile') !== 'Dockerfile') problems.push('agent must be built from ./Dockerfile');
  const envFiles = ([] as (string | Y)[]).concat(agent?.env_file ?? []).map((e) => (typeof e === 'string' ? e : e.path));
  if (!envFiles.includes('.env')) problems.push('agent must take its environment from .env');
  const agentName = composeDefault(agentEnv.AGENT_NAME);
  if (agentName !== cfg.AGENT_NAME) problems.push(`compose AGENT_NAME defaults to ${agentName}, config to ${cfg.AGENT_NAME}`);
  const recordingDir = agentEnv.RECORDING_DIR;
  const mounts = ((agent?.volumes ?? []) as string[]).map((v) => v.split(':'));
  const recMount = mounts.find(([, target]) => target === recordingDir);
  if (!recordingDir) problems.push('compose agent: RECORDING_DIR is not set (calls would not be recorded)');
  else if (!recMount || !(recMount[0]! in (f.compose.volumes ?? {}))) problems.push(`compose agent: RECORDING_DIR ${recordingDir} is not on a named volume (recordings would be lost with the container)`);
  const grace = /^(\d+)(s|m)$/.exec(String(agent?.stop_grace_period ?? ''));
  const graceSeconds = grace ? Number(grace[1]) * (grace[2] === 'm' ? 60 : 1) : 0;
  if (graceSeconds < cfg.MAX_CALL_SECONDS) problems.push(`agent stop_grace_period (${agent?.stop_grace_period}) is shorter than MAX_CALL_SECONDS ${cfg.MAX_CALL_SECONDS}s: calls would be cut, not drained`);

  // Dockerfile.
  const stages = dockerStages(f.dockerfile);
  const final = stages[stages.length - 1];
  if (!final) return [...problems, 'Dockerfile: no FROM'];
  const ops = (op: string) => final.body.filter((i) => i.op === op);
  const chain = (s: (typeof stages)[number] | undefined): Instruction[] => (s ? [...chain(stages.find((x) => x.name === s.from)), ...s.body] : []);
  const user = ops('USER').pop()?.args.trim();
  if (!user || /^(root|0)(:|$)/.test(user)) problems.push(`Dockerfile: the runtime stage runs as ${user ?? 'root (no USER)'}`);
  // rtc-node's native core verifies TLS against the system store: slim images have none.
  if (!chain(final).some((i) => i.op === 'RUN' && /\bapt-get install\b[^&;]*\bca-certificates\b/.test(i.args))) problems.push('Dockerfile: the runtime stage does not install ca-certificates (wss:// room connections would fail TLS)');
  if (recordingDir && !ops('RUN').some((i) => new RegExp(`mkdir -p[^&]*${recordingDir}`).test(i.args) && new RegExp(`chown node:node[^&]*${recordingDir}`).test(i.args))) problems.push(`Dockerfile: ${recordingDir} (RECORDING_DIR) is not created writable for the node user`);
  const nodeImage = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(f.dockerfile);
  const engines = String(f.engines ?? '');
  const lines = [...engines.matchAll(/(?:^|\|\|)\s*\^?(\d+)(?:\.x|\.\d+\.\d+)?\s*(?=\|\||$)/g)].map((m) => Number(m[1]));
  if (!nodeImage) problems.push('Dockerfile: NODE_IMAGE does not default to a node:<major>-… image');
  else if (!lines.includes(Number(nodeImage[1])) || Math.max(...lines) !== Number(nodeImage[1])) problems.push(`Dockerfile: the image's Node ${nodeImage[1]} is not the newest line package.json engines (${engines}) lists`);
  if (!lines.includes(20)) problems.push(`package.json engines (${engines}) drops Node 20, which this machine and CI run`);
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

  test('images are the e2e suite\'s versions; a moving or different tag is caught', () => {
    const f = copy(load());
    assert.equal(f.compose.services.livekit.image, 'livekit/livekit-server:v1.8.4');
    assert.equal(f.compose.services.sip.image, 'livekit/sip:v1.0.0');
    f.compose.services.livekit.image = 'livekit/livekit-server:latest';
    f.compose.services.sip.image = 'livekit/sip:v1.1.0';
    const text = checkDeployment(f).join('\n');
    assert.match(text, /livekit-server:latest is not livekit\/livekit-server:v1\.8\.4/);
    assert.match(text, /livekit\/sip:v1\.1\.0 is not livekit\/sip:v1\.0\.0/);
  });

  test('the key pair comes from .env once: a copy in a config file, or a service reading another variable, is caught', () => {
    const base = load();
    assert.equal(base.livekit.keys, undefined);
    assert.equal(base.sip.api_key, undefined);
    let f = copy(base);
    f.livekit.keys = { devkey: 'secret' };
    assert.match(checkDeployment(f).join('\n'), /livekit\.yaml: holds keys/);
    f = copy(base);
    f.sip.api_secret = 'secret';
    assert.match(checkDeployment(f).join('\n'), /docker\/sip\.yaml: holds api_key\/api_secret/);
    f = copy(base);
    // A literal that equals the default still breaks once .env sets a real pair.
    f.compose.services.sip.environment.LIVEKIT_API_SECRET = 'secret';
    const text = checkDeployment(f).join('\n');
    assert.match(text, /sip LIVEKIT_API_SECRET does not resolve to LIVEKIT_API_SECRET with the pair set in \.env/);
    assert.doesNotMatch(text, /with no pair in \.env/);
    f = copy(base);
    f.compose.services.livekit.environment.LIVEKIT_KEYS = '${LIVEKIT_API_KEY:-devkey}:${LIVEKIT_API_SECRET:-secret}';
    assert.match(checkDeployment(f).join('\n'), /LIVEKIT_KEYS does not resolve to "<LIVEKIT_API_KEY>: <LIVEKIT_API_SECRET>"/);
    f = copy(base);
    f.compose.services.agent.environment.LIVEKIT_API_KEY = '${LIVEKIT_API_KEY:-otherkey}';
    assert.match(checkDeployment(f).join('\n'), /agent LIVEKIT_API_KEY does not resolve to LIVEKIT_API_KEY with no pair in \.env/);
  });

  test('SIP and media run on the host network over loopback; a bridge service or a moved address is caught', () => {
    let f = copy(load());
    delete f.compose.services.sip.network_mode;
    assert.match(checkDeployment(f).join('\n'), /sip is not on the host network/);
    f = copy(load());
    f.compose.services.livekit.ports = ['7880:7880'];
    assert.match(checkDeployment(f).join('\n'), /livekit publishes ports on the host network/);
    f = copy(load());
    f.sip.ws_url = 'ws://livekit:7880';
    assert.match(checkDeployment(f).join('\n'), /ws_url ws:\/\/livekit:7880 != ws:\/\/127\.0\.0\.1:7880/);
    f = copy(load());
    f.compose.services.agent.extra_hosts = [];
    assert.match(checkDeployment(f).join('\n'), /host-gateway in extra_hosts/);
    f = copy(load());
    f.sip.redis.address = '127.0.0.1:6380';
    assert.match(checkDeployment(f).join('\n'), /Redis differs/);
    f = copy(load());
    f.compose.services.redis.command = ['redis-server', '--save', ''];
    assert.match(checkDeployment(f).join('\n'), /Redis must listen on loopback only/);
  });

  test('WebRTC media is one muxed UDP port; a range (which makes livekit ignore udp_port) is caught', () => {
    const base = load();
    assert.equal(typeof base.livekit.rtc.udp_port, 'number');
    let f = copy(base);
    f.livekit.rtc.port_range_start = 50000;
    f.livekit.rtc.port_range_end = 50200;
    assert.match(checkDeployment(f).join('\n'), /then ignores rtc\.udp_port/);
    f = copy(base);
    f.livekit.rtc.udp_port = '7882-7890';
    assert.match(checkDeployment(f).join('\n'), /rtc\.udp_port 7882-7890 is not a single port/);
  });

  test('both servers serve Prometheus metrics, on ports nothing else on the host claims', () => {
    const base = load();
    assert.ok(Number(base.livekit.prometheus.port) > 0);
    assert.ok(Number(base.sip.prometheus_port) > 0);
    let f = copy(base);
    delete f.sip.prometheus_port;
    assert.match(checkDeployment(f).join('\n'), /docker\/sip\.yaml: no prometheus_port/);
    f = copy(base);
    delete f.livekit.prometheus;
    assert.match(checkDeployment(f).join('\n'), /livekit\.yaml: no Prometheus port/);
    f = copy(base);
    f.sip.prometheus_port = base.livekit.prometheus.port;
    assert.match(checkDeployment(f).join('\n'), /host port clash: livekit prometheus and sip prometheus_port both claim 6789\/tcp/);
    f = copy(base);
    f.livekit.rtc.udp_port = 15000;
    assert.match(checkDeployment(f).join('\n'), /host port clash: livekit rtc\.udp_port and sip rtp_port both claim 15000\/udp/);
  });

  test('every service has a health check and waits for its dependencies to be healthy', () => {
    let f = copy(load());
    delete f.compose.services.sip.healthcheck;
    assert.match(checkDeployment(f).join('\n'), /sip has no health check on its metrics listener/);
    f = copy(load());
    f.compose.services.livekit.healthcheck.test = ['CMD', 'true'];
    assert.match(checkDeployment(f).join('\n'), /livekit has no health check on http:\/\/127\.0\.0\.1:7880\//);
    f = copy(load());
    f.compose.services.sip.depends_on.livekit.condition = 'service_started';
    assert.match(checkDeployment(f).join('\n'), /sip must wait for redis and livekit service_healthy/);
    f = copy(load());
    f.compose.services.agent.depends_on = ['livekit'];
    assert.match(checkDeployment(f).join('\n'), /agent must wait for livekit service_healthy/);
  });

  test('recordings go to a named volume through RECORDING_DIR, writable by the worker', () => {
    const base = load();
    assert.equal(environment(base.compose.services.agent).RECORDING_DIR, '/app/recordings');
    let f = copy(base);
    delete f.compose.services.agent.environment.RECORDING_DIR;
    assert.match(checkDeployment(f).join('\n'), /RECORDING_DIR is not set/);
    f = copy(base);
    f.compose.services.agent.volumes = f.compose.services.agent.volumes.filter((v: string) => !v.includes('recordings'));
    assert.match(checkDeployment(f).join('\n'), /RECORDING_DIR \/app\/recordings is not on a named volume/);
    f = copy(base);
    f.compose.services.agent.environment.RECORDING_DIR = '/srv/rec';
    f.compose.services.agent.volumes.push('recordings:/srv/rec');
    assert.match(checkDeployment(f).join('\n'), /\/srv\/rec \(RECORDING_DIR\) is not created writable for the node user/);
  });

  test('an agent name default that differs from the config is caught', () => {
    const f = copy(load());
    f.compose.services.agent.environment.AGENT_NAME = '${AGENT_NAME:-hotline}';
    assert.match(checkDeployment(f).join('\n'), /AGENT_NAME defaults to hotline, config to switchboard/);
  });

  test('the runtime image installs the CA bundle and runs the newest Node line engines lists; Node 20 stays in engines', () => {
    const base = load();
    const broken = (from: RegExp, to: string, extra: Partial<Files> = {}) =>
      checkDeployment({ ...copy(base), dockerfile: base.dockerfile.replace(from, to), ...extra }).join('\n');
    // Only the runtime stage counts: the toolchain stage installing it does not help the image.
    assert.match(broken(/(FROM \$\{NODE_IMAGE\} AS runtime[\s\S]*?)ca-certificates/, '$1tzdata'), /runtime stage does not install ca-certificates/);
    assert.match(broken(/^ARG NODE_IMAGE=node:\d+-/m, 'ARG NODE_IMAGE=node:22-'), /image's Node 22 is not the newest line/);
    assert.match(broken(/$^/, '', { engines: '>=20' }), /image's Node \d+ is not the newest line package\.json engines \(>=20\)/);
    assert.match(broken(/$^/, '', { engines: base.engines.replace(/20\.x \|\| /, '') }), /drops Node 20/);
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
