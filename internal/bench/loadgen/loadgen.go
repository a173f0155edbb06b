// Package loadgen is a closed-loop HTTP load generator for loopback
// benchmarks: C workers, each with its own keep-alive connection, send the
// same POST back to back; after a warm-up, every request completed during
// the measured window is counted and its latency recorded, so throughput and
// percentiles are exact (no histogram buckets, no sampling).
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one load run.
type Config struct {
	// URL receives the requests; it must be on a loopback address.
	URL string
	// Body is POSTed with ContentType on every request.
	Body        []byte
	ContentType string
	// Header holds more request headers (Authorization, say).
	Header http.Header
	// Concurrency is the number of workers, and of connections.
	Concurrency int
	// Warmup runs before the measured window; its requests are checked but
	// not measured.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// MaxRequests bounds the requests measured; the window ends early when
	// it is reached. 0 means 10,000,000.
	MaxRequests int
	// Timeout bounds each request. 0 means 30s.
	Timeout time.Duration
	// Expect, when set, is the exact body every response must have; when
	// nil a response only needs status 200 and no top-level "errors".
	Expect []byte
	// Tag, when set, sends X-Request-ID: Tag-m-<worker>-<n> on measured
	// requests and Tag-w-<worker>-<n> on warm-up ones, so that a server's
	// access log can be matched to the measured window.
	Tag string
	// OnWindow, when set, is called (from another goroutine) when the
	// measured window starts and when it ends, so that a caller can take
	// snapshots of CPU counters and the like.
	OnWindow func(start bool)
}

// Result is what a run measured. Durations are in milliseconds.
type Result struct {
	Concurrency int     `json:"c"`
	Seconds     float64 `json:"seconds"`  // length of the measured window
	Requests    int     `json:"requests"` // completed in the measured window
	RPS         float64 `json:"rps"`
	MeanMS      float64 `json:"mean_ms"`
	P50MS       float64 `json:"p50_ms"`
	P90MS       float64 `json:"p90_ms"`
	P99MS       float64 `json:"p99_ms"`
	MaxMS       float64 `json:"max_ms"`
	// Errors counts failed requests (transport error, status other than
	// 200, or a body that is not the expected one) in the whole run,
	// warm-up included; ErrorSamples shows the first few.
	Errors       int      `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	// Conns is the number of TCP connections opened: Concurrency when
	// keep-alive works.
	Conns int `json:"conns"`
	// WarmupRequests completed before the measured window.
	WarmupRequests int `json:"warmup_requests"`
}

// IsLoopback reports whether rawURL's host is a loopback address (or
// "localhost").
func IsLoopback(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value with at least p% of the values at
// or below it. It returns 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

const maxErrorSamples = 5

// worker state, one per connection.
type worker struct {
	latencies []time.Duration
	errors    int
	samples   []string
	warmup    int
}

// Run runs the load described by cfg and returns what it measured. It
// returns an error only when the run could not be made (bad config); failed
// requests are counted in Result.Errors.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Concurrency < 1 {
		return Result{}, errors.New("loadgen: concurrency must be at least 1")
	}
	if cfg.Duration <= 0 {
		return Result{}, errors.New("loadgen: duration must be positive")
	}
	if !IsLoopback(cfg.URL) {
		return Result{}, fmt.Errorf("loadgen: %s is not a loopback URL", cfg.URL)
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 10_000_000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.ContentType == "" {
		cfg.ContentType = "application/json"
	}

	var conns atomic.Int64
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err == nil {
				conns.Add(1)
			}
			return c, err
		},
		MaxIdleConns:        cfg.Concurrency,
		MaxIdleConnsPerHost: cfg.Concurrency,
		MaxConnsPerHost:     cfg.Concurrency,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true, // measure the server's work, not gzip's
		ForceAttemptHTTP2:   false,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout}

	start := time.Now()
	t0 := start.Add(cfg.Warmup) // measured window starts
	t1 := t0.Add(cfg.Duration)  // and ends
	var measured atomic.Int64   // requests counted so far
	var stopAt atomic.Int64     // UnixNano when MaxRequests was reached
	ctx, cancel := context.WithDeadline(ctx, t1.Add(cfg.Timeout))
	defer cancel()

	// The window callbacks run exactly once each, start before end, and
	// both have returned when Run does, even when the run ends early.
	var startOnce, endOnce sync.Once
	windowStart := func() { startOnce.Do(func() { cfg.OnWindow(true) }) }
	windowEnd := func() { windowStart(); endOnce.Do(func() { cfg.OnWindow(false) }) }
	if cfg.OnWindow != nil {
		startTimer := time.AfterFunc(time.Until(t0), windowStart)
		endTimer := time.AfterFunc(time.Until(t1), windowEnd)
		defer func() {
			startTimer.Stop()
			endTimer.Stop()
			windowEnd()
		}()
	}

	workers := make([]*worker, cfg.Concurrency)
	perWorker := int(min(int64(cfg.MaxRequests), 1<<16)) / cfg.Concurrency
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{latencies: make([]time.Duration, 0, perWorker+16)}
		workers[i] = w
		wg.Go(func() {
			var buf bytes.Buffer
			body := bytes.NewReader(cfg.Body)
			for n := 0; ; n++ {
				now := time.Now()
				if !now.Before(t1) || stopAt.Load() != 0 || ctx.Err() != nil {
					return
				}
				inWindow := !now.Before(t0)
				body.Reset(cfg.Body)
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, body)
				if err != nil {
					w.fail(err.Error())
					return
				}
				req.ContentLength = int64(len(cfg.Body))
				for k, v := range cfg.Header {
					req.Header[k] = v
				}
				req.Header.Set("Content-Type", cfg.ContentType)
				if cfg.Tag != "" {
					phase := "w"
					if inWindow {
						phase = "m"
					}
					req.Header.Set("X-Request-ID", cfg.Tag+"-"+phase+"-"+strconv.Itoa(i)+"-"+strconv.Itoa(n))
				}
				begin := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil && time.Now().After(t1) {
						return // cut off at the end of the run
					}
					w.fail(err.Error())
					// A dead server refuses at once: do not spin.
					time.Sleep(10 * time.Millisecond)
					continue
				}
				buf.Reset()
				_, err = io.Copy(&buf, resp.Body)
				resp.Body.Close()
				end := time.Now()
				switch {
				case err != nil:
					w.fail("reading the body: " + err.Error())
				case resp.StatusCode != http.StatusOK:
					w.fail(fmt.Sprintf("status %d: %.200s", resp.StatusCode, buf.Bytes()))
				case cfg.Expect != nil && !bytes.Equal(buf.Bytes(), cfg.Expect):
					w.fail(fmt.Sprintf("unexpected body (%d bytes, want %d): %.200s", buf.Len(), len(cfg.Expect), buf.Bytes()))
				case cfg.Expect == nil && bytes.Contains(buf.Bytes(), []byte(`"errors":`)):
					w.fail(fmt.Sprintf("GraphQL errors: %.300s", buf.Bytes()))
				default:
					// Counted when it completes inside the window.
					if !end.Before(t0) && end.Before(t1) {
						if measured.Add(1) > int64(cfg.MaxRequests) {
							stopAt.CompareAndSwap(0, end.UnixNano())
							return
						}
						w.latencies = append(w.latencies, end.Sub(begin))
					} else if end.Before(t0) {
						w.warmup++
					}
				}
			}
		})
	}
	wg.Wait()

	end := t1
	if s := stopAt.Load(); s != 0 {
		end = time.Unix(0, s)
	}
	if now := time.Now(); now.Before(end) {
		end = now // cancelled: the window was cut short
	}
	if end.Before(t0) {
		end = t0
	}
	res := Result{Concurrency: cfg.Concurrency, Seconds: end.Sub(t0).Seconds(), Conns: int(conns.Load())}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.latencies...)
		res.Errors += w.errors
		res.WarmupRequests += w.warmup
		for _, s := range w.samples {
			if len(res.ErrorSamples) < maxErrorSamples {
				res.ErrorSamples = append(res.ErrorSamples, s)
			}
		}
	}
	slices.Sort(all)
	res.Requests = len(all)
	if res.Seconds > 0 {
		res.RPS = float64(res.Requests) / res.Seconds
	}
	if len(all) > 0 {
		var sum time.Duration
		for _, d := range all {
			sum += d
		}
		res.MeanMS = ms(sum / time.Duration(len(all)))
		res.P50MS = ms(Percentile(all, 50))
		res.P90MS = ms(Percentile(all, 90))
		res.P99MS = ms(Percentile(all, 99))
		res.MaxMS = ms(all[len(all)-1])
	}
	return res, nil
}

func (w *worker) fail(msg string) {
	w.errors++
	if len(w.samples) < maxErrorSamples {
		w.samples = append(w.samples, msg)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
