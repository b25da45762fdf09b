#!/usr/bin/env bash
# The one-minute demo: a throwaway project in demo-project/ (ignored by git), the bundled
# public-domain airports file, and one pipeline through DuckDB to a CSV report. No server
# and no network needed. Run it with `make demo` (which builds bin/osiris first).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="$root/bin/osiris"
demo="$root/demo-project"

if [[ ! -x "$bin" ]]; then
	echo "bin/osiris is missing; run 'make build' first" >&2
	exit 1
fi

rm -rf "$demo"
mkdir -p "$demo/data" "$demo/pipelines"
cp "$root/examples/data/airports.csv" "$demo/data/"
cp "$root/examples/airports_per_state.yaml" "$demo/pipelines/"
printf "version: '2.0'\nids:\n  run_id_format: [incremental, ulid]\n" >"$demo/osiris.yaml"

echo "== osiris run pipelines/airports_per_state.yaml (project: demo-project/)"
(cd "$demo" && "$bin" run pipelines/airports_per_state.yaml)

out="$demo/output/airports_per_state.csv"
echo
echo "== output: $out ($(($(wc -l <"$out") - 1)) states), first lines:"
head -n 6 "$out"
echo
run_id=$(cd "$demo" && "$bin" runs list --json | sed -n 's/.*"run_id": "\(.*\)",/\1/p' | head -n 1)
report=$(cd "$demo" && "$bin" logs html "$run_id")
echo "== HTML report of $run_id: $report"
echo "== more: cd demo-project && $bin runs list && $bin aiop show --run $run_id"
