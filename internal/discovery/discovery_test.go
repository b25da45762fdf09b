package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/discovery/keys"
	"github.com/osirisgo/osiris/internal/drivers"
)

// fakeSource is a Discoverer that counts its calls and returns fixed tables.
type fakeSource struct {
	calls  atomic.Int64
	rows   int
	err    error
	tables func() []drivers.TableInfo
}

func (f *fakeSource) Discover(_ context.Context, _ map[string]any,
	opts drivers.DiscoverOptions) (*drivers.Discovery, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	if f.tables != nil {
		return &drivers.Discovery{Tables: f.tables()}, nil
	}
	count := int64(f.rows)
	var sample []map[string]any
	for i := 0; i < f.rows; i++ {
		sample = append(sample, map[string]any{"id": int64(i), "name": "row"})
	}
	return &drivers.Discovery{Tables: []drivers.TableInfo{{
		Name: "orders", RowCount: &count, SampleData: sample,
		Columns: []drivers.ColumnInfo{{Name: "id", Type: "bigint"}, {Name: "name", Type: "text"}},
	}}}, nil
}

// clock is a settable time source for the cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newService(t *testing.T, src drivers.Discoverer) (*Service, *clock) {
	t.Helper()
	clk := &clock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	cache := &Cache{Dir: t.TempDir(), TTL: time.Hour, Now: clk.Now}
	return &Service{Cache: cache, Lookup: func(string) (drivers.Discoverer, bool) {
		return src, src != nil
	}}, clk
}

func request(samples int, idempotencyKey string) Request {
	return Request{ConnectionID: "@mysql.main", Family: "mysql", Alias: "main",
		Component: "mysql.extractor", Samples: samples, IdempotencyKey: idempotencyKey,
		Connection: map[string]any{"host": "127.0.0.1", "password": "s3cret-sentinel-pw"}}
}

func TestSecondRequestIsServedFromDiskWithTheSameIDAndTimes(t *testing.T) {
	src := &fakeSource{rows: 3}
	svc, _ := newService(t, src)

	first, err := svc.Run(context.Background(), request(2, ""))
	if err != nil {
		t.Fatal(err)
	}
	// A second service on the same directory stands for a second process.
	second, err := (&Service{Cache: svc.Cache, Lookup: svc.Lookup}).Run(
		context.Background(), request(2, ""))
	if err != nil {
		t.Fatal(err)
	}

	if first.Cached || !second.Cached {
		t.Fatalf("cached = %v then %v, want false then true", first.Cached, second.Cached)
	}
	if src.calls.Load() != 1 {
		t.Fatalf("source asked %d times, want 1", src.calls.Load())
	}
	want := keys.DiscoveryID("@mysql.main", "mysql.extractor", 2)
	if first.DiscoveryID != want || second.DiscoveryID != want {
		t.Fatalf("discovery ids %s, %s, want %s", first.DiscoveryID, second.DiscoveryID, want)
	}
	if first.Cache != second.Cache {
		t.Fatalf("cache metadata differs: %+v vs %+v", first.Cache, second.Cache)
	}
	if second.Cache.TTLSeconds != 3600 ||
		!second.Cache.ExpiresAt.Equal(second.Cache.CreatedAt.Add(time.Hour)) {
		t.Fatalf("ttl fields %+v", second.Cache)
	}
	if _, err := os.Stat(filepath.Join(svc.Cache.Dir, want+".json")); err != nil {
		t.Fatalf("entry not written under its discovery id: %v", err)
	}
}

func TestRequestsDifferingOnlyInIdempotencyKeyShareOneEntry(t *testing.T) {
	src := &fakeSource{rows: 1}
	svc, _ := newService(t, src)

	a, err := svc.Run(context.Background(), request(1, "key-a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.Run(context.Background(), request(1, "key-b"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := svc.Run(context.Background(), request(1, ""))
	if err != nil {
		t.Fatal(err)
	}
	if src.calls.Load() != 1 || !b.Cached || !plain.Cached {
		t.Fatalf("calls %d, cached %v %v: keyed and unkeyed requests must share the entry",
			src.calls.Load(), b.Cached, plain.Cached)
	}
	if a.Cache.CacheKey == b.Cache.CacheKey ||
		b.Cache.CacheKey != keys.CacheKey("@mysql.main", "mysql.extractor", 1, "key-b") {
		t.Fatalf("cache keys %s / %s must be the callers' own", a.Cache.CacheKey,
			b.Cache.CacheKey)
	}
	if a.DiscoveryID != b.DiscoveryID {
		t.Fatal("discovery ids differ")
	}
}

func TestRefreshDiscoversAgainAndRewritesTheEntry(t *testing.T) {
	src := &fakeSource{rows: 1}
	svc, clk := newService(t, src)
	first, _ := svc.Run(context.Background(), request(0, ""))
	clk.Advance(time.Minute)

	req := request(0, "")
	req.Refresh = true
	second, err := svc.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if second.Cached || src.calls.Load() != 2 {
		t.Fatalf("refresh: cached %v, calls %d", second.Cached, src.calls.Load())
	}
	if !second.Cache.CreatedAt.After(first.Cache.CreatedAt) {
		t.Fatal("refresh did not rewrite the entry")
	}
	third, _ := svc.Run(context.Background(), request(0, ""))
	if !third.Cached || !third.Cache.CreatedAt.Equal(second.Cache.CreatedAt) {
		t.Fatal("the refreshed entry is not the one served next")
	}
}

func TestExpiredEntryIsDroppedAndRebuilt(t *testing.T) {
	src := &fakeSource{rows: 1}
	svc, clk := newService(t, src)
	first, _ := svc.Run(context.Background(), request(0, ""))

	clk.Advance(59 * time.Minute)
	if res, _ := svc.Run(context.Background(), request(0, "")); !res.Cached {
		t.Fatal("entry expired before its time")
	}

	clk.Advance(time.Minute) // now == expires_at: expired
	res, err := svc.Run(context.Background(), request(0, ""))
	if err != nil {
		t.Fatal(err)
	}
	if res.Cached || src.calls.Load() != 2 {
		t.Fatalf("expired entry served: cached %v, calls %d", res.Cached, src.calls.Load())
	}
	if !res.Cache.CreatedAt.Equal(first.Cache.CreatedAt.Add(time.Hour)) {
		t.Fatalf("rebuilt entry created_at %v", res.Cache.CreatedAt)
	}
}

func TestLoweringTheTTLExpiresOlderEntries(t *testing.T) {
	src := &fakeSource{rows: 1}
	svc, clk := newService(t, src)
	_, _ = svc.Run(context.Background(), request(0, ""))
	clk.Advance(10 * time.Minute)

	svc.Cache.TTL = 5 * time.Minute
	if res, _ := svc.Run(context.Background(), request(0, "")); res.Cached {
		t.Fatal("an entry older than the current TTL was served")
	}
}

func TestCorruptOrIncompleteEntriesAreReplaced(t *testing.T) {
	for name, damage := range map[string]func(dir, id string) error{
		"garbage": func(dir, id string) error {
			return os.WriteFile(filepath.Join(dir, id+".json"), []byte("{not json"), 0o600)
		},
		"empty": func(dir, id string) error {
			return os.WriteFile(filepath.Join(dir, id+".json"), nil, 0o600)
		},
		"wrong id": func(dir, id string) error {
			raw, _ := os.ReadFile(filepath.Join(dir, id+".json"))
			fixed := strings.Replace(string(raw), id, "disc_0000000000000000", 1)
			return os.WriteFile(filepath.Join(dir, id+".json"), []byte(fixed), 0o600)
		},
		"artifacts gone": func(dir, id string) error {
			return os.RemoveAll(filepath.Join(dir, id))
		},
	} {
		t.Run(name, func(t *testing.T) {
			src := &fakeSource{rows: 1}
			svc, _ := newService(t, src)
			first, _ := svc.Run(context.Background(), request(0, ""))
			if err := damage(svc.Cache.Dir, first.DiscoveryID); err != nil {
				t.Fatal(err)
			}

			res, err := svc.Run(context.Background(), request(0, ""))
			if err != nil {
				t.Fatalf("a damaged entry was fatal: %v", err)
			}
			if res.Cached || src.calls.Load() != 2 {
				t.Fatalf("damaged entry served: cached %v", res.Cached)
			}
			if e := svc.Cache.Lookup(first.DiscoveryID); e == nil {
				t.Fatal("no valid entry after the rebuild")
			}
		})
	}
}

func TestSamplesLimitRowsPerTableAndZeroDropsThem(t *testing.T) {
	src := &fakeSource{rows: 7}
	svc, _ := newService(t, src)

	res, err := svc.Run(context.Background(), request(3, ""))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tablesOf(t, res)[0].SampleData); n != 3 {
		t.Fatalf("%d sample rows, want 3", n)
	}
	res, _ = svc.Run(context.Background(), request(0, ""))
	if n := len(tablesOf(t, res)[0].SampleData); n != 0 {
		t.Fatalf("%d sample rows with --samples 0", n)
	}

	var samples struct {
		Samples []struct {
			Table string `json:"table"`
			Count int    `json:"count"`
		} `json:"samples"`
		TablesWithSamples int `json:"tables_with_samples"`
	}
	readArtifact(t, svc.Cache, keys.DiscoveryID("@mysql.main", "mysql.extractor", 3),
		"samples", &samples)
	if samples.TablesWithSamples != 1 || samples.Samples[0].Count != 3 {
		t.Fatalf("samples.json %+v", samples)
	}
}

func TestSecretsNeverReachTheCache(t *testing.T) {
	const sentinel = "s3cret-sentinel-pw"
	src := &fakeSource{tables: func() []drivers.TableInfo {
		return []drivers.TableInfo{{Name: "users",
			Columns: []drivers.ColumnInfo{{Name: "password", Type: "text"},
				{Name: "note", Type: "text"}},
			SampleData: []map[string]any{
				{"password": "hunter2-plain", "note": "uses " + sentinel + " at work"},
			}}}
	}}
	svc, _ := newService(t, src)
	res, err := svc.Run(context.Background(), request(5, ""))
	if err != nil {
		t.Fatal(err)
	}

	out, _ := json.Marshal(res)
	for _, leaked := range []string{sentinel, "hunter2-plain"} {
		if strings.Contains(string(out), leaked) {
			t.Errorf("result holds %q", leaked)
		}
		grepDir(t, svc.Cache.Dir, leaked)
	}
	row := tablesOf(t, res)[0].SampleData[0]
	if row["password"] != "***MASKED***" {
		t.Fatalf("password column = %v", row["password"])
	}
}

func TestSourceErrorsKeepOnlyPrintSafeText(t *testing.T) {
	src := &fakeSource{err: errors.New("dial tcp 10.1.2.3:3306: user root:s3cret-sentinel-pw")}
	svc, _ := newService(t, src)
	_, err := svc.Run(context.Background(), request(0, ""))
	var de *Error
	if !errors.As(err, &de) || de.Kind != KindSource {
		t.Fatalf("error %v", err)
	}
	if strings.Contains(de.Error(), "sentinel") || strings.Contains(de.Error(), "10.1.2.3") {
		t.Fatalf("message leaks: %s", de.Error())
	}

	src.err = &drivers.Error{Kind: drivers.KindConnection, Msg: "Cannot connect to server"}
	_, err = svc.Run(context.Background(), request(0, ""))
	if err == nil || !strings.Contains(err.Error(), "Cannot connect to server") {
		t.Fatalf("driver message lost: %v", err)
	}
	if ids, _ := svc.Cache.discoveryIDs(); len(ids) != 0 {
		t.Fatalf("a failed discovery left %v", ids)
	}
}

func TestUnsupportedComponent(t *testing.T) {
	svc, _ := newService(t, nil)
	_, err := svc.Run(context.Background(), request(0, ""))
	var de *Error
	if !errors.As(err, &de) || de.Kind != KindUnsupported {
		t.Fatalf("error %v", err)
	}
}

func TestNaNSampleValuesBecomeNull(t *testing.T) {
	src := &fakeSource{tables: func() []drivers.TableInfo {
		return []drivers.TableInfo{{Name: "m", SampleData: []map[string]any{
			{"x": math.NaN(), "y": math.Inf(1), "big": int64(9007199254740993)}}}}
	}}
	svc, _ := newService(t, src)
	res, err := svc.Run(context.Background(), request(1, ""))
	if err != nil {
		t.Fatal(err)
	}
	hit, err := svc.Run(context.Background(), request(1, ""))
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := json.Marshal(res.Tables)
	cached, _ := json.Marshal(hit.Tables)
	if string(fresh) != string(cached) || !strings.Contains(string(cached),
		`"big":9007199254740993`) || !strings.Contains(string(cached), `"x":null`) {
		t.Fatalf("fresh %s\ncached %s", fresh, cached)
	}
}

func TestConcurrentRequestsDiscoverOnce(t *testing.T) {
	src := &fakeSource{rows: 2}
	svc, _ := newService(t, src)

	var wg sync.WaitGroup
	results := make([]*Result, 20)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := svc.Run(context.Background(), request(2, ""))
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = res
		}()
	}
	wg.Wait()
	if src.calls.Load() != 1 {
		t.Fatalf("source asked %d times by 20 concurrent requests, want 1", src.calls.Load())
	}
	for _, r := range results {
		if r == nil || r.Cache.CreatedAt != results[0].Cache.CreatedAt {
			t.Fatal("requests saw different entries")
		}
	}
}

func TestStatsClearAndInvalidate(t *testing.T) {
	src := &fakeSource{rows: 1}
	svc, clk := newService(t, src)
	ctx := context.Background()
	for samples := 0; samples < 3; samples++ {
		if _, err := svc.Run(ctx, request(samples, "")); err != nil {
			t.Fatal(err)
		}
	}
	other := request(0, "")
	other.ConnectionID = "@mysql.other"
	if _, err := svc.Run(ctx, other); err != nil {
		t.Fatal(err)
	}
	drafts := filepath.Join(svc.Cache.Dir, "oml", "draft.yaml")
	if err := writeFileAtomic(drafts, []byte("oml_version: 0.1.0\n")); err != nil {
		t.Fatal(err)
	}

	st, err := svc.Cache.Stats()
	if err != nil || st.ValidEntries != 4 || st.DiskFiles != 4 || st.DiskSizeBytes == 0 {
		t.Fatalf("stats %+v %v", st, err)
	}

	n, err := svc.Cache.Invalidate(ctx, "@mysql.main")
	if err != nil || n != 3 {
		t.Fatalf("invalidated %d, %v; want 3", n, err)
	}
	if _, err := os.Stat(svc.Cache.ArtifactDir(keys.DiscoveryID("@mysql.main",
		"mysql.extractor", 0))); !os.IsNotExist(err) {
		t.Fatal("artifacts of an invalidated entry remain")
	}

	clk.Advance(2 * time.Hour)
	if st, _ := svc.Cache.Stats(); st.ExpiredEntries != 1 {
		t.Fatalf("stats after expiry %+v", st)
	}
	n, err = svc.Cache.Clear(ctx, true)
	if err != nil || n != 1 {
		t.Fatalf("clear --expired-only removed %d, %v", n, err)
	}
	if _, err := os.Stat(drafts); err != nil {
		t.Fatal("clear removed a draft")
	}
}

func TestTTLFromEnv(t *testing.T) {
	for value, want := range map[string]time.Duration{
		"":      DefaultTTL,
		"2":     2 * time.Hour,
		"0.001": 3600 * time.Millisecond,
		"0":     0,
		"-1":    DefaultTTL,
		"soon":  DefaultTTL,
		"NaN":   DefaultTTL,
	} {
		t.Setenv(TTLEnv, value)
		if got := TTLFromEnv(nil); got != want {
			t.Errorf("%s=%q: %v, want %v", TTLEnv, value, got, want)
		}
	}
}

type tableView struct {
	Name       string           `json:"name"`
	SampleData []map[string]any `json:"sample_data"`
}

func tablesOf(t *testing.T, res *Result) []tableView {
	t.Helper()
	raw, err := json.Marshal(res.Tables)
	if err != nil {
		t.Fatal(err)
	}
	var out []tableView
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func readArtifact(t *testing.T, c *Cache, id, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.ArtifactDir(id), name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

func grepDir(t *testing.T, dir, needle string) {
	t.Helper()
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		raw, _ := os.ReadFile(path)
		if strings.Contains(string(raw), needle) {
			t.Errorf("%s holds %q", path, needle)
		}
		return nil
	})
}
