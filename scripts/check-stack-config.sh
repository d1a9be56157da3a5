#!/usr/bin/env bash
# Parses livekit.yaml and docker/sip.yaml with the real config code of the versions
# docker-compose.yml pins (livekit-server v1.8.4, livekit-sip v1.0.0, the ones the e2e suite
# builds), so a key either server does not know fails here, not at `docker compose up`.
# livekit-server reads its file strictly (an unknown key stops it); livekit-sip ignores unknown
# keys, so they are refused here; it must take its key pair from LIVEKIT_API_KEY /
# LIVEKIT_API_SECRET, as compose passes them.
#
# Needs Go and the two modules (from the Go module proxy, or already in the module cache, e.g. after
# the e2e suite built them). test/deployConfig.test.ts checks the same files without Go.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-stackcfg.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
modcache="$(go env GOMODCACHE)"

# Builds a checker inside a copy of module $1@$2 (its own go.mod and go.sum pin the dependencies).
build() {
  local mod="$1" version="$2" name="$3" main="$4"
  [[ -d "$modcache/$mod@$version" ]] || go mod download "$mod@$version"
  cp -r "$modcache/$mod@$version" "$work/$name"
  chmod -R u+w "$work/$name"
  mkdir -p "$work/$name/cmd/stackcfg"
  printf '%s\n' "$main" > "$work/$name/cmd/stackcfg/main.go"
  (cd "$work/$name" && GOFLAGS=-mod=mod go build -o "$work/$name.bin" ./cmd/stackcfg)
}

build github.com/livekit/livekit-server v1.8.4 server '
package main

import (
	"fmt"
	"os"

	"github.com/livekit/livekit-server/pkg/config"
)

func main() {
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	conf, err := config.NewConfig(string(b), true, nil, nil)
	if err != nil {
		fmt.Println("livekit.yaml:", err)
		os.Exit(1)
	}
	if conf.RTC.ICEPortRangeStart != 0 || !conf.RTC.UDPPort.Valid() {
		fmt.Println("livekit.yaml: rtc.udp_port is not in effect (a port range is set, or no udp_port)")
		os.Exit(1)
	}
	fmt.Printf("livekit.yaml ok: port %d, rtc.udp_port %d, rtc.tcp_port %d, prometheus %d, redis %s\n", conf.Port, conf.RTC.UDPPort.Start, conf.RTC.TCPPort, conf.Prometheus.Port, conf.Redis.Address)
}'

build github.com/livekit/sip v1.0.0 sip '
package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/livekit/sip/pkg/config"
	"gopkg.in/yaml.v3"
)

func main() {
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	// livekit-sip itself ignores keys it does not know, so a misspelt one would silently not apply.
	strict := yaml.NewDecoder(bytes.NewReader(b))
	strict.KnownFields(true)
	if err := strict.Decode(&config.Config{}); err != nil {
		fmt.Println("docker/sip.yaml:", err)
		os.Exit(1)
	}
	conf, err := config.NewConfig(string(b))
	if err == nil {
		err = conf.Init()
	}
	if err == nil && (conf.ApiKey != os.Getenv("LIVEKIT_API_KEY") || conf.ApiSecret != os.Getenv("LIVEKIT_API_SECRET")) {
		err = fmt.Errorf("the key pair does not come from LIVEKIT_API_KEY / LIVEKIT_API_SECRET")
	}
	if err != nil {
		fmt.Println("docker/sip.yaml:", err)
		os.Exit(1)
	}
	fmt.Printf("docker/sip.yaml ok: ws_url %s, redis %s, sip_port %d, rtp %d-%d, prometheus_port %d\n", conf.WsUrl, conf.Redis.Address, conf.SIPPort, conf.RTPPort.Start, conf.RTPPort.End, conf.PrometheusPort)
}'

"$work/server.bin" "$repo/livekit.yaml"
LIVEKIT_API_KEY=APIcheck LIVEKIT_API_SECRET=check-secret-0123456789abcdef0123 "$work/sip.bin" "$repo/docker/sip.yaml"
