package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
)

// placeholderLimit is the most ? placeholders one MySQL statement may carry.
const placeholderLimit = 65535

// Load paths, as the run log names them.
const (
	pathLoadData = "load_data"
	pathInsert   = "insert"
)

// Writer is the mysql.writer step driver.
type Writer struct{}

type writeConfig struct {
	table          string
	mode           string
	keys           []string
	batchSize      int
	create         bool
	truncateBefore bool
	loadMethod     string
}

func readWriteConfig(step string, cfg map[string]any) (writeConfig, error) {
	wc := writeConfig{
		table:      sqlcommon.String(cfg, "table"),
		keys:       sqlcommon.StringList(cfg, "upsert_keys", "primary_key"),
		loadMethod: sqlcommon.String(cfg, "load_method"),
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
			"Step %s: write_mode upsert needs upsert_keys", step)
	}
	if wc.batchSize, err = sqlcommon.Int(step, cfg, "batch_size", 1000); err != nil {
		return wc, err
	}
	if wc.batchSize < 1 {
		return wc, drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: batch_size must be positive", step)
	}
	createTable, err := sqlcommon.Bool(step, cfg, "create_table", false)
	if err != nil {
		return wc, err
	}
	createMissing, err := sqlcommon.Bool(step, cfg, "create_if_missing", false)
	if err != nil {
		return wc, err
	}
	wc.create = createTable || createMissing
	if wc.truncateBefore, err = sqlcommon.Bool(step, cfg, "truncate_before", false); err != nil {
		return wc, err
	}
	switch wc.loadMethod {
	case "":
		wc.loadMethod = "auto"
	case "auto", pathLoadData, pathInsert:
	default:
		return wc, drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: load_method must be auto, load_data or insert", step)
	}
	return wc, nil
}

// writeRun is one write step in progress.
type writeRun struct {
	req     drivers.Request
	conn    connConfig
	wc      writeConfig
	input   drivers.Stream
	cols    []drivers.Column
	written int64
	batches int
}

// Run loads the input into the table in one transaction (TRUNCATE, when asked, runs
// before it: MySQL commits a TRUNCATE at once).
func (Writer) Run(ctx context.Context, req drivers.Request) (drivers.Result, error) {
	input, err := sqlcommon.FirstInput(req)
	if err != nil {
		return drivers.Result{}, err
	}
	defer input.Close()
	conn, err := readConn(req.StepID, req.Config)
	if err != nil {
		return drivers.Result{}, err
	}
	wc, err := readWriteConfig(req.StepID, req.Config)
	if err != nil {
		return drivers.Result{}, err
	}

	w := &writeRun{req: req, conn: conn, wc: wc, input: input, cols: input.Columns()}
	err = sqlcommon.ReportWrite(req.Env, req.StepID, wc.table,
		map[string]any{"mode": wc.mode, "batch_size": wc.batchSize},
		func() (int64, map[string]any, error) {
			path, err := w.run(ctx)
			return w.written, map[string]any{"load_path": path}, err
		})
	return drivers.Result{}, err
}

// run writes through a pool of one connection; when the write fails, a table this run
// created is dropped again, so a failure leaves the database as it was.
func (w *writeRun) run(ctx context.Context) (string, error) {
	step := w.req.StepID
	log := w.req.Env.Logger()
	db, err := w.conn.open(ctx, step, log)
	if err != nil {
		return "", err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	created := false
	path, err := w.write(ctx, db, &created)
	if err != nil && created {
		w.dropCreated(ctx, db, err)
	}
	return path, err
}

// write runs the load on one connection of db; created is set once this run has created
// the table. The connection goes back to db before write returns, its transaction rolled
// back on failure.
func (w *writeRun) write(ctx context.Context, db *sql.DB, created *bool) (string, error) {
	step := w.req.StepID
	log := w.req.Env.Logger()
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", w.conn.connectError(step, err)
	}
	defer conn.Close()

	*created, err = w.ensureTable(ctx, conn)
	if err != nil {
		return "", err
	}
	if w.wc.mode == "upsert" && !*created {
		if err := w.checkUpsertKeys(ctx, conn); err != nil {
			return "", err
		}
	}
	path, reason, err := w.choosePath(ctx, conn)
	if err != nil {
		return "", err
	}
	w.req.Env.Event("write.load_path", map[string]any{"step_id": step, "table": w.wc.table,
		"path": path, "reason": reason})
	log.Info("mysql writer load path", "path", path, "reason", reason)

	if w.wc.truncateBefore {
		if _, err := conn.ExecContext(ctx, "TRUNCATE TABLE "+quoteIdent(w.wc.table)); err != nil {
			return "", w.conn.queryError(step, "truncate", err)
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return "", w.conn.queryError(step, "transaction", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	if w.wc.mode == "replace" {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+quoteIdent(w.wc.table)); err != nil {
			return "", w.conn.queryError(step, "delete", err)
		}
	}

	if path == pathLoadData {
		err = w.loadData(ctx, tx)
	} else {
		err = w.insertRows(ctx, tx)
	}
	if err != nil {
		return "", err
	}
	if err := tx.Commit(); err != nil {
		return "", w.conn.queryError(step, "commit", err)
	}
	committed = true
	w.req.Env.Event("transaction.commit", map[string]any{"step_id": step,
		"table": w.wc.table, "rows": w.written})
	return path, nil
}

// dropCreated drops the table this run created when the write then failed: MySQL commits
// a CREATE TABLE at once, so the load's rollback alone would leave a new empty table
// behind. It runs after the load's connection went back to db (a DROP inside the open
// transaction would commit it) and even when the run was cancelled. A drop that fails is
// logged; the write's own error stays the step's error.
func (w *writeRun) dropCreated(ctx context.Context, db *sql.DB, cause error) {
	step := w.req.StepID
	dropCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dropTimeout)
	defer cancel()
	_, err := db.ExecContext(dropCtx, "DROP TABLE IF EXISTS "+quoteIdent(w.wc.table))
	if err != nil {
		w.req.Env.Logger().Warn("mysql writer could not drop the table it created",
			"step_id", step, "table", w.wc.table,
			"error", w.conn.queryError(step, "drop table", err).Error())
		return
	}
	w.req.Env.Event("table.dropped", map[string]any{"step_id": step, "table": w.wc.table,
		"reason": "the write failed after this run created the table: " + cause.Error()})
	w.req.Env.Logger().Info("mysql writer dropped the table it created", "table", w.wc.table)
}

// dropTimeout bounds the clean-up drop of a table, which may run after cancellation.
const dropTimeout = 30 * time.Second

// choosePath picks LOAD DATA LOCAL INFILE when the server allows it, else INSERT.
func (w *writeRun) choosePath(ctx context.Context, conn *sql.Conn) (path, reason string,
	err error) {
	if w.wc.loadMethod == pathInsert {
		return pathInsert, "load_method insert", nil
	}
	var localInfile int64
	if err := conn.QueryRowContext(ctx, "SELECT @@local_infile").Scan(&localInfile); err != nil {
		return "", "", w.conn.queryError(w.req.StepID, "query", err)
	}
	if localInfile == 1 {
		return pathLoadData, "server allows local_infile", nil
	}
	if w.wc.loadMethod == pathLoadData {
		return "", "", drivers.Errorf(w.req.StepID, drivers.KindConfig, nil,
			"Step %s: load_method load_data needs the server's local_infile ON", w.req.StepID)
	}
	return pathInsert, "server has local_infile OFF", nil
}

// ensureTable checks the table exists, creating it when the step allows; created says
// this run created it (with the upsert keys as its primary key).
func (w *writeRun) ensureTable(ctx context.Context, conn *sql.Conn) (created bool, err error) {
	step := w.req.StepID
	var n int
	err = conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, w.wc.table).Scan(&n)
	if err != nil {
		return false, w.conn.queryError(step, "query", err)
	}
	if n > 0 {
		return false, nil
	}
	if !w.wc.create {
		return false, drivers.Errorf(step, drivers.KindConfig, nil,
			"Table %s does not exist and create_if_missing is false", w.wc.table)
	}
	// Without IF NOT EXISTS: a table another session created meanwhile must fail the
	// CREATE (1050) rather than pass for one this run created, which it would drop on
	// failure.
	ddl := strings.Replace(createTableSQL(w.wc.table, w.cols, w.wc.keys),
		"CREATE TABLE IF NOT EXISTS ", "CREATE TABLE ", 1)
	if _, err := conn.ExecContext(ctx, ddl); err != nil {
		var myErr *gomysql.MySQLError
		if errors.As(err, &myErr) && myErr.Number == 1050 {
			return false, nil
		}
		return false, w.conn.queryError(step, "create table", err)
	}
	w.req.Env.Event("table.created", map[string]any{"step_id": step, "table": w.wc.table})
	return true, nil
}

// checkUpsertKeys makes sure the table has a PRIMARY or UNIQUE index on exactly the
// upsert keys. ON DUPLICATE KEY UPDATE (and LOAD DATA REPLACE) match rows on whatever
// unique index the table has, whatever the step names: without an index on the keys an
// upsert would append duplicates, or match on other columns, and still report success.
func (w *writeRun) checkUpsertKeys(ctx context.Context, conn *sql.Conn) error {
	step := w.req.StepID
	rows, err := conn.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME
		FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0
		ORDER BY INDEX_NAME, SEQ_IN_INDEX`, w.wc.table)
	if err != nil {
		return w.conn.queryError(step, "query", err)
	}
	defer rows.Close()
	var names []string
	indexes := map[string][]string{}
	for rows.Next() {
		var index, column string
		if err := rows.Scan(&index, &column); err != nil {
			return w.conn.queryError(step, "query", err)
		}
		if _, seen := indexes[index]; !seen {
			names = append(names, index)
		}
		indexes[index] = append(indexes[index], column)
	}
	if err := rows.Err(); err != nil {
		return w.conn.queryError(step, "query", err)
	}

	// Limitation: another unique index still takes part in the matching; the check only
	// makes sure the one the step names exists.
	for _, index := range names {
		if sameColumns(indexes[index], w.wc.keys) {
			return nil
		}
	}
	has := "it has no unique index"
	if len(names) > 0 {
		described := make([]string, len(names))
		for i, index := range names {
			described[i] = index + " (" + strings.Join(indexes[index], ", ") + ")"
		}
		has = "its unique indexes: " + strings.Join(described, ", ")
	}
	quoted := make([]string, len(w.wc.keys))
	for i, k := range w.wc.keys {
		quoted[i] = quoteIdent(k)
	}
	return drivers.Errorf(step, drivers.KindConfig, nil,
		"Step %s: table %s has no PRIMARY KEY or UNIQUE index on exactly the upsert_keys "+
			"(%s) (%s), so an upsert cannot match its rows; add one (ALTER TABLE %s ADD "+
			"UNIQUE (%s)) or set upsert_keys to the columns of an existing one", step,
		w.wc.table, strings.Join(w.wc.keys, ", "), has, quoteIdent(w.wc.table),
		strings.Join(quoted, ", "))
}

// sameColumns says whether an index's columns are the keys, as sets: the order does not
// matter to a unique index, and MySQL column names ignore case.
func sameColumns(index, keys []string) bool {
	set := func(names []string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			m[strings.ToLower(n)] = true
		}
		return m
	}
	a, b := set(index), set(keys)
	if len(a) != len(b) {
		return false
	}
	for n := range a {
		if !b[n] {
			return false
		}
	}
	return true
}

// createTableSQL is the DDL of create_table: each stream type maps to one MySQL type
// (docs/databases.md lists the map).
func createTableSQL(table string, cols []drivers.Column, keys []string) string {
	return sqlcommon.CreateTableSQL(quoteIdent(table), cols, keys, quoteIdent, mysqlType,
		" DEFAULT CHARSET=utf8mb4")
}

func mysqlType(c drivers.Column, key bool) string {
	switch c.Type {
	case drivers.TypeInt:
		return "BIGINT"
	case drivers.TypeUint:
		return "BIGINT UNSIGNED"
	case drivers.TypeFloat:
		return "DOUBLE"
	case drivers.TypeBool:
		return "TINYINT(1)"
	case drivers.TypeTimestamp:
		return "DATETIME(6)"
	case drivers.TypeDate:
		return "DATE"
	case drivers.TypeTime:
		return "TIME(6)"
	case drivers.TypeDecimal:
		if p, s, ok := sqlcommon.DecimalPrecision(c.SourceType); ok && p <= 65 && s <= 30 {
			return fmt.Sprintf("DECIMAL(%d,%d)", p, s)
		}
		return "DECIMAL(38,10)"
	case drivers.TypeJSON:
		return "JSON"
	case drivers.TypeBytes:
		if key {
			return "VARBINARY(255)"
		}
		return "LONGBLOB"
	}
	if key {
		return "VARCHAR(255)"
	}
	return "LONGTEXT"
}

// nextBatch pulls the next input batch, reporting progress every ten batches.
func (w *writeRun) nextBatch(ctx context.Context) ([][]any, error) {
	batch, err := w.input.Next(ctx)
	if err != nil {
		return nil, err
	}
	w.batches++
	if w.batches%10 == 0 {
		w.req.Env.Event("write.progress", map[string]any{"step_id": w.req.StepID,
			"rows_written": w.written})
	}
	return batch, nil
}

// inputError words a failure of the upstream stream: it is not a MySQL error.
func (w *writeRun) inputError(err error) error {
	return server.InputError(w.req.StepID, err)
}

// columnList is the quoted input columns, for INSERT and LOAD DATA.
func (w *writeRun) columnList() string {
	quoted := make([]string, len(w.cols))
	for i, c := range w.cols {
		quoted[i] = quoteIdent(c.Name)
	}
	return "(" + strings.Join(quoted, ", ") + ")"
}

// updateClause is the ON DUPLICATE KEY UPDATE list of an upsert: every non-key column,
// or a no-op assignment when every column is a key.
func (w *writeRun) updateClause() string {
	isKey := map[string]bool{}
	for _, k := range w.wc.keys {
		isKey[k] = true
	}
	var sets []string
	for _, c := range w.cols {
		if !isKey[c.Name] {
			sets = append(sets, quoteIdent(c.Name)+" = VALUES("+quoteIdent(c.Name)+")")
		}
	}
	if len(sets) == 0 {
		k := quoteIdent(w.wc.keys[0])
		sets = append(sets, k+" = "+k)
	}
	return " ON DUPLICATE KEY UPDATE " + strings.Join(sets, ", ")
}

// insertRows writes with multi-row INSERT statements under the placeholder limit.
func (w *writeRun) insertRows(ctx context.Context, tx *sql.Tx) error {
	width := len(w.cols)
	if width == 0 {
		return w.drainEmpty(ctx)
	}
	perStatement := max(min(w.wc.batchSize, placeholderLimit/width), 1)
	head := "INSERT INTO " + quoteIdent(w.wc.table) + " " + w.columnList() + " VALUES "
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	tail := ""
	if w.wc.mode == "upsert" {
		tail = w.updateClause()
	}

	pending := make([]any, 0, perStatement*width)
	flush := func() error {
		n := len(pending) / width
		if n == 0 {
			return nil
		}
		stmt := head + strings.TrimSuffix(strings.Repeat(tuple+", ", n), ", ") + tail
		if _, err := tx.ExecContext(ctx, stmt, pending...); err != nil {
			return w.conn.queryError(w.req.StepID, "insert", atInputRow(err, w.written))
		}
		w.written += int64(n)
		pending = pending[:0]
		return nil
	}
	for {
		batch, err := w.nextBatch(ctx)
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return w.inputError(err)
		}
		for _, row := range batch {
			for i, v := range row {
				pending = append(pending, insertArg(w.cols[i].Type, v))
			}
			if len(pending)/width == perStatement {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
}

// rowInStatement is the "at row N" MySQL ends a value error with: N counts the rows of
// the failed statement, from 1.
var rowInStatement = regexp.MustCompile(` at row ([0-9]+)$`)

// atInputRow turns the statement's row number in a server error into the row of the input
// (offset rows were written before the statement), as a LOAD DATA error names it: with
// many statements per write, "row 345" alone would point at the wrong row.
func atInputRow(err error, offset int64) error {
	var myErr *gomysql.MySQLError
	if !errors.As(err, &myErr) {
		return err
	}
	m := rowInStatement.FindStringSubmatchIndex(myErr.Message)
	if m == nil {
		return err
	}
	row, convErr := strconv.ParseInt(myErr.Message[m[2]:m[3]], 10, 64)
	if convErr != nil {
		return err
	}
	renumbered := *myErr
	renumbered.Message = myErr.Message[:m[2]] + strconv.FormatInt(offset+row, 10)
	return &renumbered
}

func (w *writeRun) drainEmpty(ctx context.Context) error {
	if err := sqlcommon.Drain(ctx, w.input); err != nil {
		return w.inputError(err)
	}
	return nil
}

// loadData streams the input into LOAD DATA LOCAL INFILE through the MySQL library's
// reader handler: rows are encoded into a pipe as the server reads it, never into a file
// or a whole buffer. An upsert loads into a temporary copy of the table first, then
// merges it with INSERT … SELECT … ON DUPLICATE KEY UPDATE.
func (w *writeRun) loadData(ctx context.Context, tx *sql.Tx) error {
	step := w.req.StepID
	if len(w.cols) == 0 {
		return w.drainEmpty(ctx)
	}
	target := quoteIdent(w.wc.table)
	into := target
	if w.wc.mode == "upsert" {
		stage := quoteIdent("_osiris_stage_" + randomName())
		if _, err := tx.ExecContext(ctx, "CREATE TEMPORARY TABLE "+stage+" LIKE "+target); err != nil {
			return w.conn.queryError(step, "create staging table", err)
		}
		defer func() {
			_, _ = tx.ExecContext(context.WithoutCancel(ctx), "DROP TEMPORARY TABLE IF EXISTS "+stage)
		}()
		into = stage
	}

	sent, err := w.streamLoad(ctx, tx, into)
	if err != nil {
		return err
	}
	if err := w.checkWarnings(ctx, tx); err != nil {
		return err
	}

	if w.wc.mode == "upsert" {
		cols := w.columnList()
		merge := "INSERT INTO " + target + " " + cols + " SELECT " +
			strings.Trim(cols, "()") + " FROM " + into + w.updateClause()
		if _, err := tx.ExecContext(ctx, merge); err != nil {
			return w.conn.queryError(step, "upsert", err)
		}
	}
	w.written = sent
	return nil
}

// streamLoad runs one LOAD DATA statement fed by an encoder goroutine.
func (w *writeRun) streamLoad(ctx context.Context, tx *sql.Tx, into string) (int64, error) {
	name := "osiris_" + randomName()
	reader, writer := io.Pipe()
	gomysql.RegisterReaderHandler(name, func() io.Reader { return reader })
	defer gomysql.DeregisterReaderHandler(name)

	var sent int64
	encoded := make(chan error, 1)
	go func() {
		err := w.encodeRows(ctx, writer, &sent)
		_ = writer.CloseWithError(err)
		encoded <- err
	}()

	replace := ""
	if w.wc.mode == "upsert" {
		replace = "REPLACE "
	}
	stmt := "LOAD DATA LOCAL INFILE 'Reader::" + name + "' " + replace + "INTO TABLE " + into +
		" CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\'" +
		" LINES TERMINATED BY '\\n' " + w.columnList()
	result, execErr := tx.ExecContext(ctx, stmt)
	// The server may stop reading early (an error); unblock the encoder either way.
	_ = reader.CloseWithError(errLoadStopped)
	encodeErr := <-encoded

	// When the server refused the statement (an unknown column, say), the encoder only
	// saw its pipe closed: the server's reason is the error. Any other encoder failure is
	// the input's own, and the statement then failed because its data stopped.
	if encodeErr != nil && !(execErr != nil && errors.Is(encodeErr, errLoadStopped)) {
		return 0, w.inputError(encodeErr)
	}
	if execErr != nil {
		return 0, w.conn.queryError(w.req.StepID, "load", execErr)
	}
	if affected, err := result.RowsAffected(); err == nil && w.wc.mode != "upsert" &&
		affected != sent {
		return 0, drivers.Errorf(w.req.StepID, drivers.KindData, nil,
			"MySQL load failed for step %s: the server stored %d of %d rows", w.req.StepID,
			affected, sent)
	}
	return sent, nil
}

var errLoadStopped = errors.New("load data statement finished")

// checkWarnings fails the load when the server turned bad values into warnings: with
// LOCAL, MySQL cannot stop the upload, so it truncates or skips instead of failing.
func (w *writeRun) checkWarnings(ctx context.Context, tx *sql.Tx) error {
	var count int64
	if err := tx.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&count); err != nil {
		return w.conn.queryError(w.req.StepID, "query", err)
	}
	if count == 0 {
		return nil
	}
	var level, message string
	var code int
	err := tx.QueryRowContext(ctx, "SHOW WARNINGS LIMIT 1").Scan(&level, &code, &message)
	first := ""
	if err == nil {
		first = fmt.Sprintf(": first, error %d: %s", code,
			sqlcommon.Scrub(message, w.conn.literals()...))
	}
	return drivers.Errorf(w.req.StepID, drivers.KindData, nil,
		"MySQL load failed for step %s: the server reported %d warnings while loading%s",
		w.req.StepID, count, first)
}

func randomName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
