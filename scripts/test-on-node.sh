#!/usr/bin/env bash
# Runs the test suite on another Node major than the machine's, e.g. the current LTS:
#
#   scripts/test-on-node.sh 26            # npm test on the newest Node 26.x
#   scripts/test-on-node.sh 24 -- dist/test/config.test.js   # only these test files
#
# The Node binary comes from the npm registry (the node-linux-<arch> package ships the official
# build, headers included), so this needs nothing but npm and its registry. It is cached under
# $SWITCHBOARD_NODE_CACHE (default ~/.cache/switchboard/node), outside the repo.
#
# The checkout's own node_modules hold native modules (better-sqlite3) built for the machine's
# Node ABI; loading them from another major fails. So the tests run in a throwaway copy of the
# working tree, with its own `npm ci` under the chosen Node: native modules are compiled against
# that Node's shipped headers (npm_config_nodedir, no header download) and the postinstall
# patches are applied as in a normal install. The checkout is never touched.
set -euo pipefail

usage() {
  echo "usage: $0 <node major, e.g. 26> [-- <test files relative to the copy, e.g. dist/test/config.test.js>...]" >&2
  exit 2
}
[[ $# -ge 1 && "$1" =~ ^[0-9]{2}$ ]] || usage
major="$1"
shift
files=()
if [[ $# -gt 0 ]]; then
  [[ "$1" == "--" ]] || usage
  shift
  files=("$@")
fi

repo="$(cd "$(dirname "$0")/.." && pwd)"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "error: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac
pkg="node-linux-$arch"
cache="${SWITCHBOARD_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard/node}/$major"
nodedir="$cache/node_modules/$pkg"

# The newest $major.x the registry has; a cached copy of that exact version is reused.
wanted="$(npm view "$pkg@$major" version --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);console.log(Array.isArray(v)?v[v.length-1]:v)})')"
[[ -n "$wanted" ]] || { echo "error: the registry has no $pkg@$major" >&2; exit 1; }
have="$("$nodedir/bin/node" --version 2>/dev/null || true)"
if [[ "$have" != "v$wanted" ]]; then
  echo "test-on-node: installing $pkg@$wanted into $cache" >&2
  rm -rf "$cache"
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-save --no-audit --no-fund --no-package-lock "$pkg@$wanted" >&2
fi
node_bin="$nodedir/bin/node"
"$node_bin" --version >/dev/null

work="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-node$major.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# The working tree as it is (tracked and new files, not ignored ones: no node_modules, dist, .env).
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$work"

# npm itself runs under the chosen Node too (and so do the scripts it starts, through PATH).
npm_cli="$(readlink -f "$(command -v npm)")"
npm_() { "$node_bin" "$npm_cli" "$@"; }
export PATH="$nodedir/bin:$PATH"
export npm_config_nodedir="$nodedir"
echo "test-on-node: Node $(node --version) in $work" >&2
cd "$work"
npm_ ci --no-audit --no-fund >&2
# Fails here, not halfway through the tests, if a native module was built for another ABI.
node -e 'require("better-sqlite3")(":memory:").close()'
if [[ ${#files[@]} -gt 0 ]]; then
  npm_ run build >&2
  node --test --test-concurrency=2 "${files[@]}"
else
  npm_ test
fi
