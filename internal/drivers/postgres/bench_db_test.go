package postgres

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
)

// TestBenchMySQLToPostgres is the database benchmark's workload, run by
// scripts/bench-db.sh with OSIRIS_BENCH_ROWS set (it does nothing otherwise): the table
// osiris_c_test.bench_c that the script filled is extracted by mysql.extractor and
// loaded by postgres.writer into osiris_c.bench_c. It prints the rate and the process's
// peak RSS, one process per row count.
func TestBenchMySQLToPostgres(t *testing.T) {
	rows, _ := strconv.Atoi(os.Getenv("OSIRIS_BENCH_ROWS"))
	if rows == 0 {
		t.Skip("set OSIRIS_BENCH_ROWS (scripts/bench-db.sh does)")
	}
	pg := adminPG(t)
	pgExec(t, pg, "DROP TABLE IF EXISTS "+testSchema+".bench_c")
	factory, _ := drivers.Lookup("mysql.extractor")

	started := time.Now()
	src, err := factory().Run(context.Background(), drivers.Request{StepID: "src",
		Config: mysqlStep(map[string]any{"table": "bench_c"}),
		Env:    sqlcommon.NewRecordingEnv(t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Rows.Close()
	env := newEnv(t)
	_, err = pgWriter.Run(context.Background(), drivers.Request{StepID: "load",
		Config: pgStep("osiris_c_bench", map[string]any{"schema": testSchema,
			"table": "bench_c", "create_if_missing": true}),
		Env: env, Inputs: []drivers.Input{{Key: "df_src", Rows: src.Rows}}})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(started).Seconds()
	written, _ := env.MetricValue("rows_written")
	if written != int64(rows) {
		t.Fatalf("rows_written = %v, want %d", written, rows)
	}
	fmt.Printf("BENCH rows=%d seconds=%.3f rows_per_s=%.0f peak_rss_kb=%d\n", rows, elapsed,
		float64(rows)/elapsed, peakRSSKB())
}

// peakRSSKB reads the process's high-water resident set size from /proc.
func peakRSSKB() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return n
		}
	}
	return -1
}
