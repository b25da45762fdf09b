package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lib/pq"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
)

// copyChunk is how many encoded bytes go to the server in one COPY data message.
const copyChunk = 256 * 1024

// stageTable is the session's staging table of an upsert or keyed replace.
const stageTable = "_osiris_stage"

type writeConfig struct {
	schema          string
	table           string
	mode            string
	keys            []string
	create          bool
	planOnly        bool
	stripNUL        bool
	batchSize       int
	ignoreDuplicate bool
}

func readWriteConfig(step string, cfg map[string]any) (writeConfig, error) {
	wc := writeConfig{
		schema: sqlcommon.String(cfg, "schema"),
		table:  sqlcommon.String(cfg, "table"),
		keys:   sqlcommon.StringList(cfg, "primary_key", "upsert_keys"),
	}
	if wc.schema == "" {
		wc.schema = "public"
	}
	if wc.table == "" {
		return wc, sqlcommon.Required(step, "table")
	}
	var err error
	if wc.mode, err = sqlcommon.WriteMode(step, cfg); err != nil {
		return wc, err
	}
	if wc.mode == "upsert" && len(wc.keys) == 0 {
		return wc, drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: write_mode upsert needs primary_key", step)
	}
	for key, target := range map[string]*bool{"create_if_missing": &wc.create,
		"ddl_plan_only": &wc.planOnly, "strip_nul": &wc.stripNUL} {
		if *target, err = sqlcommon.Bool(step, cfg, key, false); err != nil {
			return wc, err
		}
	}
	if wc.batchSize, err = sqlcommon.Int(step, cfg, "batch_size", drivers.DefaultBatchSize); err != nil {
		return wc, err
	}
	if wc.batchSize < 1 {
		return wc, drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: batch_size must be positive", step)
	}
	wc.ignoreDuplicate = sqlcommon.String(cfg, "prefer") == "resolution=ignore-duplicates"
	return wc, nil
}

// writeRun is one write step in progress.
type writeRun struct {
	req      drivers.Request
	conn     connConfig
	wc       writeConfig
	input    drivers.Stream
	cols     []drivers.Column
	written  int64
	stripped int64
	batches  int
}

func (d Driver) write(ctx context.Context, req drivers.Request) error {
	input, err := sqlcommon.FirstInput(req)
	if err != nil {
		return err
	}
	defer input.Close()
	conn, err := readConn(req.StepID, d.family, req.Config)
	if err != nil {
		return err
	}
	wc, err := readWriteConfig(req.StepID, req.Config)
	if err != nil {
		return err
	}
	w := &writeRun{req: req, conn: conn, wc: wc, input: input, cols: input.Columns()}
	return sqlcommon.ReportWrite(req.Env, req.StepID, wc.table,
		map[string]any{"schema": wc.schema, "mode": wc.mode, "batch_size": wc.batchSize},
		func() (int64, map[string]any, error) {
			err := w.run(ctx)
			return w.written, map[string]any{"channel_used": "sql", "load_path": "copy"}, err
		})
}

func (w *writeRun) run(ctx context.Context) error {
	step := w.req.StepID
	log := w.req.Env.Logger()
	db, err := w.conn.open(ctx, step, log, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return w.conn.connectError(step, err)
	}
	defer conn.Close()

	// The DDL of create_if_missing runs in the load's transaction: a failed load leaves
	// no empty table behind.
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return w.conn.queryError(step, "transaction", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	proceed, err := w.ensureTable(ctx, tx)
	if err != nil || !proceed {
		return err
	}
	w.req.Env.Event("write.load_path", map[string]any{"step_id": step, "table": w.wc.table,
		"path": "copy", "mode": w.wc.mode})
	log.Info("postgres writer load path", "path", "copy", "mode", w.wc.mode)

	target := qualified(w.wc.schema, w.wc.table)
	staged := w.wc.mode == "upsert" || (w.wc.mode == "replace" && len(w.wc.keys) > 0)
	if w.wc.mode == "replace" && !staged {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+target); err != nil {
			return w.conn.queryError(step, "delete", err)
		}
	}
	into := target
	if staged {
		if err := w.createStage(ctx, tx, target); err != nil {
			return err
		}
		into = pq.QuoteIdentifier(stageTable)
	}
	if err := w.copyRows(ctx, conn, into); err != nil {
		return err
	}
	if staged {
		if err := w.mergeStage(ctx, tx, target); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return w.conn.queryError(step, "commit", err)
	}
	committed = true
	if w.stripped > 0 {
		w.req.Env.Event("write.warning", map[string]any{"step_id": step, "reason": "strip_nul",
			"values": w.stripped})
		log.Warn("NUL bytes removed from text values", "values", w.stripped)
	}
	return nil
}

// createStage makes a temporary table with the target's column types (no defaults, so no
// sequence is consumed) plus an ordinal column: the last of several input rows with the
// same key wins when the stage is merged.
func (w *writeRun) createStage(ctx context.Context, tx *sql.Tx, target string) error {
	stage := pq.QuoteIdentifier(stageTable)
	stmts := []string{
		"CREATE TEMP TABLE " + stage + " ON COMMIT DROP AS SELECT " + w.columnList() +
			" FROM " + target + " WITH NO DATA",
		"ALTER TABLE " + stage + " ADD COLUMN _osiris_seq bigserial",
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return w.conn.queryError(w.req.StepID, "staging", err)
		}
	}
	return nil
}

// mergeStage upserts the staged rows into the target and, for replace, deletes the
// target rows whose key is not among them.
func (w *writeRun) mergeStage(ctx context.Context, tx *sql.Tx, target string) error {
	keys := quoteAll(w.wc.keys)
	isKey := map[string]bool{}
	for _, k := range w.wc.keys {
		isKey[k] = true
	}
	var sets []string
	for _, c := range w.cols {
		if !isKey[c.Name] {
			q := pq.QuoteIdentifier(c.Name)
			sets = append(sets, q+" = EXCLUDED."+q)
		}
	}
	action := "DO NOTHING"
	if len(sets) > 0 && !w.wc.ignoreDuplicate {
		action = "DO UPDATE SET " + strings.Join(sets, ", ")
	}
	stage := pq.QuoteIdentifier(stageTable)
	merge := "INSERT INTO " + target + " (" + w.columnList() + ") SELECT " + w.columnList() +
		" FROM (SELECT DISTINCT ON (" + keys + ") * FROM " + stage + " ORDER BY " + keys +
		", _osiris_seq DESC) latest ON CONFLICT (" + keys + ") " + action
	if _, err := tx.ExecContext(ctx, merge); err != nil {
		return w.conn.queryError(w.req.StepID, "upsert", err)
	}
	if w.wc.mode != "replace" {
		return nil
	}
	var match []string
	for _, k := range w.wc.keys {
		q := pq.QuoteIdentifier(k)
		match = append(match, "s."+q+" = t."+q)
	}
	w.req.Env.Event("ddl_attempt", map[string]any{"table": w.wc.table, "schema": w.wc.schema,
		"operation": "anti_delete", "channel": "sql"})
	anti := "DELETE FROM " + target + " t WHERE NOT EXISTS (SELECT 1 FROM " + stage +
		" s WHERE " + strings.Join(match, " AND ") + ")"
	if _, err := tx.ExecContext(ctx, anti); err != nil {
		return w.conn.queryError(w.req.StepID, "replace", err)
	}
	return nil
}

func (w *writeRun) columnList() string { return quoteAll(columnNames(w.cols)) }

func columnNames(cols []drivers.Column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names
}

func quoteAll(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = pq.QuoteIdentifier(n)
	}
	return strings.Join(quoted, ", ")
}

// copyData is lib/pq's COPY statement seen through the one method used here: it takes
// many encoded rows at once.
type copyData interface {
	CopyData(ctx context.Context, line string) (driver.Result, error)
}

// copyRows streams the input into COPY … FROM STDIN on the transaction's connection,
// encoding rows in COPY's text format in chunks.
func (w *writeRun) copyRows(ctx context.Context, conn *sql.Conn, into string) error {
	stmt := "COPY " + into + " (" + w.columnList() + ") FROM STDIN"
	if len(w.cols) == 0 {
		return w.drain(ctx)
	}
	var loopErr error
	rawErr := conn.Raw(func(dc any) error {
		prep, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("postgres driver cannot prepare COPY")
		}
		st, err := prep.PrepareContext(ctx, stmt)
		if err != nil {
			return err
		}
		defer st.Close()
		cd, ok := st.(copyData)
		if !ok {
			return errors.New("postgres driver has no COPY data method")
		}
		if loopErr = w.feedCopy(ctx, cd); loopErr != nil {
			return loopErr
		}
		//lint:ignore SA1019 lib/pq ends COPY with an Exec of no values.
		_, err = st.Exec(nil) //nolint:staticcheck
		return err
	})
	if loopErr != nil {
		return loopErr
	}
	if rawErr != nil {
		return w.conn.queryError(w.req.StepID, "copy", rawErr)
	}
	return nil
}

// feedCopy encodes input batches and sends them in chunks.
func (w *writeRun) feedCopy(ctx context.Context, cd copyData) error {
	buf := make([]byte, 0, copyChunk+64*1024)
	send := func() error {
		if len(buf) == 0 {
			return nil
		}
		// CopyData adds the newline after the last row itself.
		if _, err := cd.CopyData(ctx, string(buf[:len(buf)-1])); err != nil {
			return w.conn.queryError(w.req.StepID, "copy", err)
		}
		buf = buf[:0]
		return nil
	}
	for {
		batch, err := w.input.Next(ctx)
		if err == io.EOF {
			return send()
		}
		if err != nil {
			return w.inputError(err)
		}
		for _, row := range batch {
			w.written++
			if buf, err = w.appendRow(buf, row); err != nil {
				return err
			}
			if len(buf) >= copyChunk {
				if err := send(); err != nil {
					return err
				}
			}
		}
		w.batches++
		if w.batches%10 == 0 {
			w.req.Env.Event("write.progress", map[string]any{"step_id": w.req.StepID,
				"rows_written": w.written})
		}
		if err := ctx.Err(); err != nil {
			return w.inputError(err)
		}
	}
}

func (w *writeRun) drain(ctx context.Context) error {
	if err := sqlcommon.Drain(ctx, w.input); err != nil {
		return w.inputError(err)
	}
	return nil
}

// inputError words a failure of the upstream stream or a cancellation.
func (w *writeRun) inputError(err error) error {
	return server.InputError(w.req.StepID, err)
}

// ensureTable checks the target exists, planning and running its DDL when the step
// allows. It reports false when the step stops after the plan (ddl_plan_only).
func (w *writeRun) ensureTable(ctx context.Context, conn *sql.Tx) (bool, error) {
	step := w.req.StepID
	var exists bool
	err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables
		WHERE table_schema = $1 AND table_name = $2)`, w.wc.schema, w.wc.table).Scan(&exists)
	if err != nil {
		return false, w.conn.queryError(step, "query", err)
	}
	if exists {
		return true, nil
	}
	if !w.wc.create {
		return false, drivers.Errorf(step, drivers.KindConfig, nil,
			"Table %s does not exist and create_if_missing is false", w.wc.table)
	}

	ddl := createTableSQL(w.wc.schema, w.wc.table, w.cols, w.wc.keys)
	path, err := writePlan(w.req.Env.OutputDir(), ddl)
	if err != nil {
		return false, drivers.Errorf(step, drivers.KindIO, err,
			"Step %s: cannot write ddl_plan.sql", step)
	}
	reason := "create_if_missing"
	if w.wc.planOnly {
		reason = "DDL plan only"
	}
	w.req.Env.Event("table.ddl_planned", map[string]any{"table": w.wc.table,
		"schema": w.wc.schema, "ddl_path": path, "executed": false, "reason": reason})
	if w.wc.planOnly {
		return false, w.drain(ctx)
	}

	w.req.Env.Event("ddl_attempt", map[string]any{"table": w.wc.table, "schema": w.wc.schema,
		"operation": "create_table", "channel": "sql"})
	if _, err := conn.ExecContext(ctx, ddl); err != nil {
		safe := w.conn.queryError(step, "create table", err)
		w.req.Env.Event("ddl_failed", map[string]any{"table": w.wc.table, "error": safe.Error()})
		w.req.Env.Event("table.ddl_failed", map[string]any{"table": w.wc.table,
			"error": safe.Error()})
		return false, safe
	}
	w.req.Env.Event("ddl_succeeded", map[string]any{"table": w.wc.table, "schema": w.wc.schema})
	w.req.Env.Event("table.ddl_executed", map[string]any{"table": w.wc.table,
		"schema": w.wc.schema, "executed": true, "ddl_path": path})
	return true, nil
}

// writePlan writes the DDL to ddl_plan.sql through a temporary file and a rename.
func writePlan(dir, ddl string) (string, error) {
	if dir == "" {
		return "", nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".ddl_plan-*.sql")
	if err != nil {
		return "", err
	}
	if _, err := tmp.WriteString(ddl + ";\n"); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return "", err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return "", err
	}
	path := filepath.Join(dir, "ddl_plan.sql")
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return "", err
	}
	return path, nil
}

// createTableSQL is the DDL of create_if_missing (docs/databases.md lists the type map).
func createTableSQL(schema, table string, cols []drivers.Column, keys []string) string {
	return sqlcommon.CreateTableSQL(qualified(schema, table), cols, keys, pq.QuoteIdentifier,
		func(c drivers.Column, _ bool) string { return postgresType(c) }, "")
}

func postgresType(c drivers.Column) string {
	source := strings.ToLower(c.SourceType)
	switch c.Type {
	case drivers.TypeInt:
		return "BIGINT"
	case drivers.TypeUint:
		return "NUMERIC(20,0)"
	case drivers.TypeFloat:
		return "DOUBLE PRECISION"
	case drivers.TypeBool:
		return "BOOLEAN"
	case drivers.TypeTimestamp:
		if strings.Contains(source, "timestamptz") || strings.Contains(source, "with time zone") {
			return "TIMESTAMPTZ"
		}
		return "TIMESTAMP"
	case drivers.TypeDate:
		return "DATE"
	case drivers.TypeTime:
		return "TIME"
	case drivers.TypeDecimal:
		if p, s, ok := sqlcommon.DecimalPrecision(source); ok && p <= 1000 {
			return fmt.Sprintf("NUMERIC(%d,%d)", p, s)
		}
		return "NUMERIC"
	case drivers.TypeJSON:
		return "JSONB"
	case drivers.TypeBytes:
		return "BYTEA"
	}
	return "TEXT"
}
