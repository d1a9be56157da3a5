# syntax=docker/dockerfile:1
#
# Switchboard worker image.
#   build    — every dependency + tsc (tsconfig.build.json: src, agents, tools)
#   deps     — `npm ci --omit=dev`: production dependencies only (native modules such as
#              better-sqlite3 are fetched prebuilt or compiled here, so the runtime needs no toolchain)
#   runtime  — node + production node_modules + dist + business.yaml + the CA bundle, run as the
#              unprivileged `node` user
#
# The Silero VAD model ships inside @livekit/agents-plugin-silero and is checked for below, so
# the image never downloads a model at run time. SIGTERM reaches node directly (exec-form CMD,
# no npm wrapper): the agents framework then drains — no new calls, calls in progress finish —
# before exiting. Give it time: docker-compose.yml sets stop_grace_period.

# Node 26: the Active LTS line (since 2026-10-28; Node 20 reached end of life in April 2026).
# package.json "engines" lists the lines the suite is run on (scripts/test-on-node.sh).
ARG NODE_IMAGE=node:26-trixie-slim

FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# .npmrc before any npm ci: it sets onnxruntime-node-install=skip (no GPU binary download; the
# CPU binaries ship in the onnxruntime-node package). patches/ too: npm ci's postinstall applies
# them to the framework and plugins (see patches/README.md), in both the build and deps stages.
COPY package.json package-lock.json .npmrc ./
COPY patches ./patches

FROM toolchain AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY agents ./agents
COPY tools ./tools
RUN npx tsc -p tsconfig.build.json

FROM toolchain AS deps
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# The slim image has no CA bundle. rtc-node's native core verifies TLS against the system trust
# store, so without it the worker registers over wss:// (Node's own bundled roots) but every
# room connection fails TLS, while the health check stays green.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# package.json says "type": "module" for dist/; node_modules and dist stay root-owned (read-only to the worker).
COPY package.json ./
# The business template (BUSINESS_FILE's default, relative to WORKDIR): the clinic's, unless a
# deployment mounts its own over it (docker-compose.yml does) or points BUSINESS_FILE elsewhere.
COPY business.yaml ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN test -s node_modules/@livekit/agents-plugin-silero/dist/silero_vad.onnx \
 && test -f dist/src/worker.js \
 && mkdir -p /app/data /app/recordings \
 && chown node:node /app/data /app/recordings
USER node
# The worker's health endpoint (agents framework, production mode): 200 when healthy, 503 when not.
EXPOSE 8081
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8081/').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/worker.js", "start"]
