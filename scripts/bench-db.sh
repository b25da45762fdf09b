#!/usr/bin/env bash
# Database benchmark: N rows from MariaDB to PostgreSQL through mysql.extractor and
# postgres.writer (COPY), against PostgreSQL's own bulk load of the same rows (psql \copy
# of a CSV export). Prints rows/s, the ratio to the baseline and the peak RSS of the Go
# process, for 100,000 and 1,000,000 rows (peak RSS should not grow with the row count).
# Uses only its own objects: osiris_c_test.bench_c in MariaDB, osiris_c.bench_c(_base) in
# PostgreSQL. Needs the local servers (scripts/services.sh starts them).
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=${BENCH_DB_SIZES:-"100000 1000000"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mysql_c() { mysql -h127.0.0.1 -uroot "$@"; }
psql_c() { PGOPTIONS="-c client_min_messages=warning" psql -h 127.0.0.1 -U postgres -d test -v ON_ERROR_STOP=1 -qAt "$@"; }

go test -c -o "$work/pgbench.test" ./internal/drivers/postgres
mysql_c -e "CREATE DATABASE IF NOT EXISTS osiris_c_test CHARACTER SET utf8mb4"
psql_c -c "CREATE SCHEMA IF NOT EXISTS osiris_c"

columns="id BIGINT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(12,2), created DATETIME(6),
	flag TINYINT(1), score DOUBLE, note TEXT"
pg_columns="id bigint PRIMARY KEY, name text, amount numeric(12,2), created timestamp,
	flag boolean, score double precision, note text"

printf '%-10s %12s %14s %8s %14s\n' rows "osiris rows/s" "\\copy rows/s" ratio "peak RSS MiB"
for n in $sizes; do
	mysql_c osiris_c_test -e "DROP TABLE IF EXISTS bench_c; CREATE TABLE bench_c ($columns);
		INSERT INTO bench_c SELECT seq, CONCAT('customer ', seq), seq * 1.25,
		TIMESTAMP('2024-01-01') + INTERVAL seq SECOND, seq % 2, seq / 7,
		REPEAT('lorem ipsum ', 3) FROM seq_1_to_$n"

	# Baseline: the same rows as a CSV, loaded by psql \copy into an empty table.
	mysql_c osiris_c_test --batch --raw --skip-column-names -e \
		"SELECT id, name, amount, created, flag = 1, score, note FROM bench_c" \
		| sed 's/\t/,/g' > "$work/bench.csv"
	psql_c -c "DROP TABLE IF EXISTS osiris_c.bench_c_base; CREATE TABLE osiris_c.bench_c_base ($pg_columns)"
	start=$(date +%s.%N)
	psql_c -c "\\copy osiris_c.bench_c_base FROM '$work/bench.csv' WITH (FORMAT csv)"
	end=$(date +%s.%N)
	base_rate=$(echo "$n / ($end - $start)" | bc -l)

	line=$(OSIRIS_BENCH_ROWS=$n "$work/pgbench.test" -test.run '^TestBenchMySQLToPostgres$' \
		-test.count=1 | grep '^BENCH')
	rate=$(sed -E 's/.*rows_per_s=([0-9]+).*/\1/' <<<"$line")
	rss=$(sed -E 's/.*peak_rss_kb=([0-9]+).*/\1/' <<<"$line")
	printf '%-10s %12.0f %14.0f %8.2f %14.1f\n' "$n" "$rate" "$base_rate" \
		"$(echo "$rate / $base_rate" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
done

mysql_c osiris_c_test -e "DROP TABLE IF EXISTS bench_c"
psql_c -c "DROP TABLE IF EXISTS osiris_c.bench_c; DROP TABLE IF EXISTS osiris_c.bench_c_base"
