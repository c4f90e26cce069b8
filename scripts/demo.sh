#!/usr/bin/env bash
# `make demo`: a lab of one Bifrost gateway and two workstations (Molecule scenario `demo`), converged with the
# collection's `site` playbook, then a summary: gateway URL and health, each user's settings (keys masked) and one
# real `claude -p` request through the gateway. The lab stays up; `molecule destroy -s demo` removes it.
#
#   BIFROST_BINARY=/path/to/bifrost-http make demo    install this real binary (pinned to its SHA-256)
#   DEMO_SKIP_DOWNLOAD=1 make demo                    do not try the download site (use the test stand-in)
# The real Bifrost also fetches pricing datasheets from getbifrost.ai at start-up; without them (and without
# bifrost_datasheet_files) it does not start, so BIFROST_BINARY on a machine without internet needs those too.
#
# Run by the Makefile after `venv lab collection`, with scripts/env.sh sourced.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SUMMARY=.artifacts/demo/summary.txt

# The version and download URL the bifrost role uses by default (roles/bifrost/defaults/main.yml).
version=$(python3 -c 'import yaml; print(yaml.safe_load(open("roles/bifrost/defaults/main.yml"))["bifrost_version"])')
case "$(uname -m)" in aarch64 | arm64) arch=arm64 ;; *) arch=amd64 ;; esac
url="https://downloads.getmaxim.ai/bifrost/${version}/linux/${arch}/bifrost-http"

reachable() {  # a HEAD request with a short timeout (curl may be missing on a fresh machine)
  if command -v curl >/dev/null; then
    curl -sfI --max-time 5 -o /dev/null "$1"
  else
    python3 -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1], method="HEAD"), timeout=5)' "$1" 2>/dev/null
  fi
}

if [ -n "${BIFROST_BINARY:-}" ]; then
  [ -f "$BIFROST_BINARY" ] || { echo "BIFROST_BINARY=$BIFROST_BINARY: no such file" >&2; exit 2; }
  DEMO_BIFROST_BINARY=$(realpath "$BIFROST_BINARY")
  export DEMO_BIFROST_MODE=file DEMO_BIFROST_BINARY
  what="the real Bifrost from $DEMO_BIFROST_BINARY (pinned to its SHA-256)"
elif [ -z "${DEMO_SKIP_DOWNLOAD:-}" ] && reachable "$url"; then
  export DEMO_BIFROST_MODE=download
  what="the real Bifrost ${version}, downloaded from $url (no checksum pinned: upstream publishes none)"
else
  export DEMO_BIFROST_MODE=standin
  why="is not reachable from here"
  [ -z "${DEMO_SKIP_DOWNLOAD:-}" ] || why="was not tried (DEMO_SKIP_DOWNLOAD)"
  what="the TEST STAND-IN of bifrost-http (tests/bifrost_standin/), NOT the real Bifrost: its download site
                 ($url) $why.
                 Give a real binary with BIFROST_BINARY=/path/to/bifrost-http"
fi
export DEMO_BIFROST_VERSION=$version

cat <<EOF
==============================================================================================================
 aigateway.bifrost demo
   gateway:      container demo-gateway, running $what
   provider:     a FAKE "anthropic" provider on the gateway's own 127.0.0.1:18081 (lab only: no provider key,
                 no internet); the answers you see come from it, through the gateway
   workstations: containers demo-ws1 (users alice, bob) and demo-ws2 (user dave), with Claude Code and mcp-remote
   playbook:     aigateway.bifrost.site (gateway, then the fleet)
==============================================================================================================
EOF

mkdir -p "$(dirname "$SUMMARY")"
rm -f "$SUMMARY"
molecule create -s demo
molecule converge -s demo
molecule verify -s demo

echo
echo "================================================ summary ================================================"
cat "$SUMMARY"
cat <<EOF
==========================================================================================================
The lab is still running. Look around:   source scripts/env.sh && podman exec -it demo-ws1 runuser -l alice
Run the playbook again (no changes):     source scripts/env.sh && molecule converge -s demo
Remove the lab:                          source scripts/env.sh && molecule destroy -s demo
EOF
