package remote

import (
	"context"
	"time"

	"github.com/osirisgo/osiris/internal/manifest"
)

// closeTimeout bounds Close, which runs on a fresh context so that a cancelled run (Ctrl-C,
// deadline) still releases what the adapter holds.
const closeTimeout = 10 * time.Second

// Outcome is what Run saw of each phase; fields are nil for phases that did not run.
type Outcome struct {
	Prepared  *PreparedRun
	Exec      *ExecResult
	Collected *Collected
	// CloseErr is a failed Close (the adapter has already logged and recorded it).
	CloseErr error
}

// Run drives an adapter through prepare, execute and collect, and closes it on every
// path. Collect runs even after a failed or interrupted execution, so that whatever the
// run left behind is recorded; adapters make it cheap when the context has ended.
func Run(ctx context.Context, a Adapter, m *manifest.Manifest, rc *RunContext) (
	out *Outcome, err error) {
	out = &Outcome{}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		out.CloseErr = a.Close(closeCtx)
	}()

	out.Prepared, err = a.Prepare(ctx, m, rc)
	if err != nil {
		return out, err
	}
	out.Exec, err = a.Execute(ctx, out.Prepared, rc)
	if err != nil {
		// Still let the adapter write the run's status; the execute error is the news.
		out.Collected, _ = a.Collect(ctx, out.Prepared, rc)
		return out, err
	}
	out.Collected, err = a.Collect(ctx, out.Prepared, rc)
	return out, err
}
