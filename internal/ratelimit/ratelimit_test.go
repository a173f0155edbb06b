package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		nodes int64
		want  int
	}{{0, 1}, {1, 1}, {100, 1}, {101, 2}, {1110, 12}, {500_000, 5000}, {1 << 62, 1<<31 - 1}} {
		if got := Cost(tc.nodes); got != tc.want {
			t.Errorf("Cost(%d) = %d, want %d", tc.nodes, got, tc.want)
		}
	}
}

// clock is a settable time for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestLimiter(cfg Config, c *clock) *Limiter {
	l := New(cfg)
	l.now = c.now
	l.local.now = c.now
	return l
}

func TestLimiterCountsDownAndResetsWithTheWindow(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 11, 25, 10, 59, 0, 0, time.UTC)}
	l := newTestLimiter(Config{Limit: 10, Window: time.Hour}, c)
	ctx := context.Background()
	reset := time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)
	for i, step := range []struct {
		cost          int
		wantRemaining int
		wantOK        bool
	}{{4, 6, true}, {6, 0, true}, {1, 0, false}} {
		st, ok := l.Charge(ctx, "alice", step.cost)
		if ok != step.wantOK || st.Remaining != step.wantRemaining || st.Limit != 10 || st.Cost != step.cost || !st.ResetAt.Equal(reset) {
			t.Fatalf("step %d: %+v ok=%v", i, st, ok)
		}
	}
	// Another caller has a budget of its own.
	if st, ok := l.Charge(ctx, "bob", 1); !ok || st.Remaining != 9 {
		t.Fatalf("bob: %+v %v", st, ok)
	}
	// The next window starts afresh.
	c.add(time.Minute)
	if st, ok := l.Charge(ctx, "alice", 1); !ok || st.Remaining != 9 || !st.ResetAt.Equal(reset.Add(time.Hour)) {
		t.Fatalf("next window: %+v %v", st, ok)
	}
}

func TestLimiterRefusesWhatDoesNotFitButNotWhatDoes(t *testing.T) {
	t.Parallel()
	l := New(Config{Limit: 5})
	ctx := context.Background()
	if _, ok := l.Charge(ctx, "c", 6); ok {
		t.Fatal("charged 6 of 5")
	}
	if st, ok := l.Charge(ctx, "c", 5); !ok || st.Remaining != 0 {
		t.Fatalf("a refused charge spent points: %+v %v", st, ok)
	}
}

// failing is a Counter that is down.
type failing struct {
	mu    sync.Mutex
	calls int
}

func (f *failing) Take(context.Context, string, int64, int64, time.Duration) (int64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return 0, false, errors.New("connection refused")
}

func TestLimiterCountsLocallyWhileTheSharedCounterFails(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	shared := &failing{}
	c := &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	l := newTestLimiter(Config{Limit: 2, Counter: shared, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, c)
	ctx := context.Background()
	for i, wantOK := range []bool{true, true, false} {
		if _, ok := l.Charge(ctx, "c", 1); ok != wantOK {
			t.Fatalf("charge %d: ok=%v", i, ok)
		}
	}
	if shared.calls != 1 {
		t.Fatalf("the failing counter was asked %d times while down, want once", shared.calls)
	}
	if n := strings.Count(logs.String(), "rate limit counter unavailable"); n != 1 {
		t.Fatalf("%d log lines:\n%s", n, logs.String())
	}
	c.add(l.retry)
	l.Charge(ctx, "c", 1)
	if shared.calls != 2 {
		t.Fatalf("the counter was not retried after %s", l.retry)
	}
}

func TestMemoryForgetsExpiredKeys(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	m := NewMemory()
	m.now = c.now
	m.Take(context.Background(), "old", 1, 10, time.Second)
	c.add(2 * time.Minute)
	m.Take(context.Background(), "new", 1, 10, time.Second)
	if _, found := m.counts["old"]; found || len(m.counts) != 1 {
		t.Fatalf("counts: %v", m.counts)
	}
}

func TestHeadersReportTheChargeAndRefuseWith429(t *testing.T) {
	t.Parallel()
	reset := time.Now().Add(90 * time.Second).Truncate(time.Second)
	for _, tc := range []struct {
		name       string
		refused    bool
		wantStatus int
	}{{"charged", false, http.StatusOK}, {"refused", true, http.StatusTooManyRequests}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := Headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				v := verdictFrom(r.Context())
				if v == nil || v.clientIP != "192.0.2.7" || ClientIP(r.Context()) != "192.0.2.7" {
					t.Errorf("verdict %+v", v)
					return
				}
				v.status = &Status{Cost: 2, Limit: 10, Remaining: 3, ResetAt: reset}
				v.refused = tc.refused
				w.Write([]byte("{}"))
			}))
			req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			req.RemoteAddr = "192.0.2.7:5555"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			want := map[string]string{"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "3", "X-RateLimit-Used": "7",
				"X-RateLimit-Reset": strconv.FormatInt(reset.Unix(), 10)}
			if tc.refused {
				want["Retry-After"] = "90"
			}
			for k, v := range want {
				if got := rec.Header().Get(k); got != v && !(k == "Retry-After" && got == "89") {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if !tc.refused && rec.Header().Get("Retry-After") != "" {
				t.Error("Retry-After on an accepted request")
			}
			if rec.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tc.wantStatus)
			}
		})
	}
}
