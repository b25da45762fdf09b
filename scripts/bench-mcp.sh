#!/usr/bin/env bash
# MCP round trip: tool calls through osiris-mcp (official TypeScript SDK as the client)
# next to a bare exec of `osiris --version`, as p50/p99 and their ratio. The shim runs
# the real osiris CLI in a fresh project, so the figures include the CLI's own start.
# Usage: scripts/bench-mcp.sh [rounds]   (make bench builds bin/ first)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${1:-${ROUNDS:-50}}"
if [ ! -x bin/osiris ] || [ ! -x bin/osiris-mcp ]; then
	make -s build
fi
client_dir=test/js/mcp-client
if [ ! -d "$client_dir/node_modules/@modelcontextprotocol/sdk" ]; then
	(cd "$client_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

project="$(mktemp -d)"
trap 'rm -rf "$project"' EXIT
printf 'version: "2.0"\n' >"$project/osiris.yaml"

OSIRIS_BIN="$PWD/bin/osiris" \
	OSIRIS_MCP_BIN="$PWD/bin/osiris-mcp" \
	OSIRIS_CLI="$PWD/bin/osiris" \
	OSIRIS_MCP_ARGS="[\"--base-path\",\"$project\"]" \
	OSIRIS_HOME="" OSIRIS_MCP_LOGS_DIR="" \
	ROUNDS="$rounds" \
	node "$client_dir/bench.mjs"
