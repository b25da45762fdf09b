package runner

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// memoryBatches is how many batches one consumer may have waiting in memory. With one
// consumer a full queue makes the producer wait; with several, a consumer that falls
// behind gets further batches in its own spill file while the others go on.
const memoryBatches = 4

func init() {
	// Values travel through spill files as gob-encoded interfaces.
	gob.Register(time.Time{})
	gob.Register(drivers.Decimal(""))
	gob.Register(json.RawMessage{})
}

// upstreamError is a producer's failure as seen by a consumer. The run attributes it to
// the producing step, not to the step that happened to read it first.
type upstreamError struct {
	step string
	err  error
}

func (e *upstreamError) Error() string { return e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

// fanout pumps one step's output stream to its consumers. The pump runs in its own
// goroutine so that producer and consumers work concurrently.
type fanout struct {
	step      string
	src       drivers.Stream
	consumers []*consumer
	rows      atomic.Int64
	done      chan struct{}
	err       error // the producer's error, read after done
	space     chan struct{}
}

// newFanout prepares n consumers of src; spill files go under tempDir.
func newFanout(step string, src drivers.Stream, n int, tempDir string) *fanout {
	f := &fanout{step: step, src: src, done: make(chan struct{}),
		space: make(chan struct{}, 1)}
	for i := 0; i < n; i++ {
		f.consumers = append(f.consumers, &consumer{
			fan: f, cols: src.Columns(), notify: make(chan struct{}, 1), tempDir: tempDir,
			spillAllowed: n > 1,
		})
	}
	return f
}

// run pumps until the source ends, fails, every consumer has gone, or ctx ends. It
// always closes the source.
func (f *fanout) run(ctx context.Context) {
	defer close(f.done)
	defer f.src.Close()
	for {
		batch, err := f.src.Next(ctx)
		if err == io.EOF {
			f.finishAll(nil)
			return
		}
		if err != nil {
			if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
				f.err = err
			}
			f.finishAll(&upstreamError{step: f.step, err: err})
			return
		}
		f.rows.Add(int64(len(batch)))
		if len(f.consumers) == 0 {
			continue
		}
		owned := copyBatch(batch)

		if !f.waitForRoom(ctx) {
			if ctx.Err() != nil {
				f.finishAll(ctx.Err())
			}
			return
		}
		for _, c := range f.consumers {
			if err := c.push(owned); err != nil {
				f.err = err
				f.finishAll(&upstreamError{step: f.step, err: err})
				return
			}
		}
	}
}

// waitForRoom blocks until some consumer can take a batch in memory. It returns false
// when every consumer has gone or ctx ends.
func (f *fanout) waitForRoom(ctx context.Context) bool {
	for {
		live, room := 0, false
		for _, c := range f.consumers {
			l, r := c.state()
			if l {
				live++
				room = room || r
			}
		}
		if live == 0 {
			return false
		}
		if room {
			return true
		}
		select {
		case <-f.space:
		case <-ctx.Done():
			return false
		}
	}
}

func (f *fanout) finishAll(err error) {
	for _, c := range f.consumers {
		c.finish(err)
	}
}

func (f *fanout) signalSpace() {
	select {
	case f.space <- struct{}{}:
	default:
	}
}

// close releases every consumer (and its spill file). The pump notices and stops.
func (f *fanout) close() {
	for _, c := range f.consumers {
		_ = c.Close()
	}
}

func copyBatch(batch [][]any) [][]any {
	out := make([][]any, len(batch))
	for i, row := range batch {
		out[i] = append([]any(nil), row...)
	}
	return out
}

// consumer is one downstream step's view of a fanout; it implements drivers.Stream.
type consumer struct {
	fan          *fanout
	cols         []drivers.Column
	notify       chan struct{}
	tempDir      string
	spillAllowed bool

	mu      sync.Mutex
	queue   [][][]any
	spill   *spillFile
	ended   bool
	err     error
	closed  bool
	spilled int64 // batches ever written to disk, for tests and the log
}

func (c *consumer) state() (live, room bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false, false
	}
	return true, len(c.queue) < memoryBatches && (c.spill == nil || c.spill.pending == 0)
}

// push queues a batch in memory, or on disk when this consumer lags behind the others.
func (c *consumer) push(batch [][]any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	lagging := len(c.queue) >= memoryBatches || (c.spill != nil && c.spill.pending > 0)
	if lagging && c.spillAllowed {
		if c.spill == nil {
			s, err := newSpillFile(c.tempDir)
			if err != nil {
				return err
			}
			c.spill = s
		}
		if err := c.spill.write(batch); err != nil {
			return err
		}
		c.spilled++
	} else {
		c.queue = append(c.queue, batch)
	}
	c.wake()
	return nil
}

func (c *consumer) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *consumer) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	c.ended, c.err = true, err
	c.wake()
}

// Columns returns the producer's schema.
func (c *consumer) Columns() []drivers.Column { return c.cols }

// Next returns batches in the order the producer made them: memory first, then disk.
func (c *consumer) Next(ctx context.Context) ([][]any, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, io.EOF
		}
		if len(c.queue) > 0 {
			batch := c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
			c.mu.Unlock()
			c.fan.signalSpace()
			return batch, nil
		}
		if c.spill != nil && c.spill.pending > 0 {
			batch, err := c.spill.read()
			c.mu.Unlock()
			c.fan.signalSpace()
			return batch, err
		}
		if c.ended {
			err := c.err
			c.mu.Unlock()
			if err == nil {
				return nil, io.EOF
			}
			return nil, err
		}
		c.mu.Unlock()
		select {
		case <-c.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close drops what is queued and removes the spill file. Safe to call more than once.
func (c *consumer) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.queue = nil
	var err error
	if c.spill != nil {
		err = c.spill.remove()
		c.spill = nil
	}
	c.mu.Unlock()
	c.fan.signalSpace()
	return err
}

// spillFile holds batches on disk, each as a length-prefixed gob record. It is rewound
// whenever the reader catches up, so it only grows while a consumer stays behind.
type spillFile struct {
	f       *os.File
	pending int
	readPos int64
	endPos  int64
}

func newSpillFile(dir string) (*spillFile, error) {
	f, err := os.CreateTemp(dir, "spill-*.gob")
	if err != nil {
		return nil, fmt.Errorf("create spill file: %w", err)
	}
	return &spillFile{f: f}, nil
}

func (s *spillFile) write(batch [][]any) error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(batch); err != nil {
		return fmt.Errorf("spill a batch: %w", err)
	}
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(buf.Len()))
	if _, err := s.f.WriteAt(size[:], s.endPos); err != nil {
		return fmt.Errorf("spill a batch: %w", err)
	}
	if _, err := s.f.WriteAt(buf.Bytes(), s.endPos+4); err != nil {
		return fmt.Errorf("spill a batch: %w", err)
	}
	s.endPos += 4 + int64(buf.Len())
	s.pending++
	return nil
}

func (s *spillFile) read() ([][]any, error) {
	var size [4]byte
	if _, err := s.f.ReadAt(size[:], s.readPos); err != nil {
		return nil, fmt.Errorf("read spilled batch: %w", err)
	}
	n := int64(binary.BigEndian.Uint32(size[:]))
	raw := make([]byte, n)
	if _, err := s.f.ReadAt(raw, s.readPos+4); err != nil {
		return nil, fmt.Errorf("read spilled batch: %w", err)
	}
	var batch [][]any
	if err := gob.NewDecoder(bytes.NewReader(raw)).Decode(&batch); err != nil {
		return nil, fmt.Errorf("decode spilled batch: %w", err)
	}
	s.readPos += 4 + n
	s.pending--
	if s.pending == 0 {
		s.readPos, s.endPos = 0, 0
		_ = s.f.Truncate(0)
	}
	return batch, nil
}

func (s *spillFile) remove() error {
	name := s.f.Name()
	_ = s.f.Close()
	return os.Remove(name)
}
