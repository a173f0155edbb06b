package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 50, 90: 90, 99: 99, 100: 100, 0.1: 1} {
		if got := Percentile(d, p); got != want {
			t.Errorf("Percentile(1..100, %v) = %v, want %v", p, got, want)
		}
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("Percentile([7], 99) = %v", got)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("Percentile(nil, 50) = %v", got)
	}
}

func TestIsLoopback(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:8080/graphql": true,
		"http://[::1]:80/":              true,
		"http://localhost/":             true,
		"http://10.0.0.1/":              false,
		"http://example.com/":           false,
	} {
		if got := IsLoopback(u); got != want {
			t.Errorf("IsLoopback(%s) = %v", u, got)
		}
	}
}

func TestRun(t *testing.T) {
	var n atomic.Int64
	// The first answer of the measured window is wrong too: on a busy
	// machine the window may hold fewer than 50 requests.
	var wrongNext atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Header.Get("Content-Type") != "application/json" || r.Method != http.MethodPost {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		// Every 50th answer is wrong.
		if n.Add(1)%50 == 0 || wrongNext.Swap(false) {
			io.WriteString(w, `{"errors":[{"message":"boom"}]}`)
			return
		}
		time.Sleep(time.Millisecond)
		io.WriteString(w, `{"data":{}}`)
	}))
	defer srv.Close()

	var windows []bool
	res, err := Run(context.Background(), Config{
		URL: srv.URL, Body: []byte(`{}`), Concurrency: 4,
		Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond,
		Expect: []byte(`{"data":{}}`),
		OnWindow: func(start bool) {
			windows = append(windows, start)
			if start {
				wrongNext.Store(true)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.RPS <= 0 || res.P50MS < 1 || res.P99MS < res.P50MS || res.MaxMS < res.P99MS {
		t.Errorf("implausible result %+v", res)
	}
	if res.Errors == 0 || len(res.ErrorSamples) == 0 {
		t.Errorf("the wrong answers were not counted: %+v", res)
	}
	if res.Conns != 4 {
		t.Errorf("%d connections, want 4 (keep-alive)", res.Conns)
	}
	if len(windows) != 2 || !windows[0] || windows[1] {
		t.Errorf("window callbacks = %v, want [true false]", windows)
	}

	if _, err := Run(context.Background(), Config{URL: "http://192.0.2.1/", Concurrency: 1, Duration: time.Second}); err == nil {
		t.Error("a non-loopback URL was accepted")
	}
}
