#!/usr/bin/env bash
# Install the npm packages that integration tests use (a real GraphQL server, the
# official MCP TypeScript client). Each lives in test/js/<name>/ with a package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
for dir in test/js/*/; do
	if [ -f "$dir/package.json" ] && [ ! -d "$dir/node_modules" ]; then
		echo "test-deps: npm ci in $dir" >&2
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	fi
done
