#!/usr/bin/env bash
# Run every benchmark script (scripts/bench-*.sh) in name order. Each prints its figures
# as ratios against a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
status=0
for script in scripts/bench-*.sh; do
	echo "== $script" >&2
	bash "$script" || status=1
done
exit $status
