package sqlcommon

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/osirisgo/osiris/internal/drivers"
)

// ReadBatch reads the next batch from a source. It returns io.EOF (with no rows) after
// the last batch. Each call must return freshly allocated rows: the batch is handed to
// another goroutine.
type ReadBatch func(ctx context.Context) ([][]any, error)

// Prefetch is a Stream whose source is read by its own goroutine, a few batches ahead of
// the consumer, so that reading the source and loading the target overlap. Memory stays
// bounded by depth batches. The goroutine owns the source: it calls release when it stops
// (end of data, error, or Close), so a cursor is never touched by two goroutines.
type Prefetch struct {
	cols    []drivers.Column
	batches chan prefetched
	cancel  context.CancelFunc
	done    chan struct{}

	mu         sync.Mutex
	finalErr   error // io.EOF or the source's error, once delivered
	releaseErr error
	stopErr    error // why the reader stopped before delivering its last batch
	closeOnce  sync.Once
}

type prefetched struct {
	rows [][]any
	err  error
}

// StartPrefetch starts reading. The source reads under a context that Close cancels, so
// closing the stream early stops a running query. depth is the number of batches read
// ahead (1 or more).
func StartPrefetch(ctx context.Context, cols []drivers.Column, depth int, read ReadBatch,
	release func() error) *Prefetch {
	if depth < 1 {
		depth = 1
	}
	readCtx, cancel := context.WithCancel(ctx)
	p := &Prefetch{
		cols:    cols,
		batches: make(chan prefetched, depth),
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	go p.run(readCtx, read, release)
	return p
}

func (p *Prefetch) run(ctx context.Context, read ReadBatch, release func() error) {
	defer close(p.done)
	defer func() {
		if release != nil {
			err := release()
			p.mu.Lock()
			p.releaseErr = err
			p.mu.Unlock()
		}
	}()

	for {
		rows, err := read(ctx)
		if err == nil && len(rows) == 0 {
			continue
		}
		select {
		case p.batches <- prefetched{rows: rows, err: err}:
		case <-ctx.Done():
			p.mu.Lock()
			p.stopErr = ctx.Err()
			p.mu.Unlock()
			return
		}
		if err != nil {
			return
		}
	}
}

// Columns returns the schema.
func (p *Prefetch) Columns() []drivers.Column { return p.cols }

// Next returns the next batch, io.EOF after the last, or the source's error.
func (p *Prefetch) Next(ctx context.Context) ([][]any, error) {
	p.mu.Lock()
	final := p.finalErr
	p.mu.Unlock()
	if final != nil {
		return nil, final
	}

	select {
	case b := <-p.batches:
		return p.deliver(b)
	case <-p.done:
		// The reader has stopped; what it sent before stopping is still served.
		select {
		case b := <-p.batches:
			return p.deliver(b)
		default:
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.stopErr != nil {
			return nil, p.stopErr
		}
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *Prefetch) deliver(b prefetched) ([][]any, error) {
	if b.err != nil {
		p.mu.Lock()
		p.finalErr = b.err
		p.mu.Unlock()
	}
	return b.rows, b.err
}

// Close stops the reader, waits for it to release the source and returns what the
// release said. It is safe to call more than once.
func (p *Prefetch) Close() error {
	p.closeOnce.Do(func() {
		p.cancel()
		<-p.done
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	if errors.Is(p.releaseErr, context.Canceled) {
		return nil
	}
	return p.releaseErr
}
