package drivers

import (
	"context"
	"io"
)

// Column types carried between steps. A value of a column is nil (null) or the Go type
// named beside its type.
const (
	TypeString    = "string"    // string
	TypeInt       = "int64"     // int64
	TypeUint      = "uint64"    // uint64
	TypeFloat     = "float64"   // float64 (NaN becomes nil)
	TypeBool      = "bool"      // bool
	TypeTimestamp = "timestamp" // time.Time, UTC unless the source said otherwise
	TypeDate      = "date"      // time.Time at midnight UTC
	TypeTime      = "time"      // string HH:MM:SS[.ffffff]
	TypeDecimal   = "decimal"   // Decimal: the exact digits as text
	TypeJSON      = "json"      // json.RawMessage
	TypeBytes     = "bytes"     // []byte
)

// Decimal is an exact decimal number kept as its text, so no digit is lost on the way.
type Decimal string

// Column describes one column of a stream. SourceType is the source's own type name
// (for example "decimal(12,2)" or "tinyint(1)") where known.
type Column struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	SourceType string `json:"source_type,omitempty"`
}

// DefaultBatchSize is the number of rows a producer puts into one batch unless configured.
const DefaultBatchSize = 10000

// Stream is a schema plus rows pulled in batches. Next returns io.EOF after the last
// batch. A batch (and its rows) belongs to the caller until its next call to Next; a
// consumer that keeps rows longer must copy them. Close releases the source (cursor,
// connection, file, HTTP body) and may be called at any time, more than once.
type Stream interface {
	Columns() []Column
	Next(ctx context.Context) ([][]any, error)
	Close() error
}

// SliceStream serves rows held in memory. Use it for small results (discovery samples,
// tests); producers of real data stream from their source instead.
type SliceStream struct {
	cols      []Column
	rows      [][]any
	batchSize int
	pos       int
}

// NewSliceStream returns a stream over rows, batchSize rows at a time (0 = default).
func NewSliceStream(cols []Column, rows [][]any, batchSize int) *SliceStream {
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	return &SliceStream{cols: cols, rows: rows, batchSize: batchSize}
}

// Columns returns the schema.
func (s *SliceStream) Columns() []Column { return s.cols }

// Next returns the next batch or io.EOF.
func (s *SliceStream) Next(ctx context.Context) ([][]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.pos >= len(s.rows) {
		return nil, io.EOF
	}
	end := min(s.pos+s.batchSize, len(s.rows))
	batch := s.rows[s.pos:end]
	s.pos = end
	return batch, nil
}

// Close does nothing: the rows are in memory.
func (s *SliceStream) Close() error { return nil }

// FuncStream adapts a pull function and a close function to a Stream.
type FuncStream struct {
	Cols      []Column
	NextFunc  func(ctx context.Context) ([][]any, error)
	CloseFunc func() error
	closed    bool
}

// Columns returns the schema.
func (s *FuncStream) Columns() []Column { return s.Cols }

// Next calls NextFunc.
func (s *FuncStream) Next(ctx context.Context) ([][]any, error) {
	if s.closed {
		return nil, io.EOF
	}
	return s.NextFunc(ctx)
}

// Close calls CloseFunc once.
func (s *FuncStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.CloseFunc == nil {
		return nil
	}
	return s.CloseFunc()
}

// ReadAll drains a stream into memory. Only for tests and tiny results.
func ReadAll(ctx context.Context, s Stream) ([][]any, error) {
	defer s.Close()
	var all [][]any
	for {
		batch, err := s.Next(ctx)
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return all, err
		}
		for _, row := range batch {
			all = append(all, append([]any(nil), row...))
		}
	}
}
