package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/shipgraph/shipgraph/internal/pipeline"
)

// SubsConfig is one run of the subscription benchmark.
type SubsConfig struct {
	URL         string // the /graphql endpoint
	Auth        string // Authorization header: a token that may deploy
	PprofURL    string // the server's http://host:port/debug/pprof; "" skips heap and goroutines
	ServerPID   int    // for its RSS and CPU time
	DatabaseURL string // the server's database, to pause and resume its deployment queue
	Deployments int    // deployments run at once
	Conns       int    // WebSocket connections
	PerConn     int    // subscriptions per connection
	Builds      int    // SUCCEEDED builds to spread the deployments over
	Idle        time.Duration
	Timeout     time.Duration // for each of opening and the live part
	Run         string        // tag in environment names; unique per run
	Log         io.Writer
	// ProfileDir, when set with PprofURL, receives the server's heap and
	// goroutine profiles of the idle subscriptions and its CPU profile of
	// the live part: where the memory and the time go.
	ProfileDir string
}

// SeqDist is the latency of the events with one sequence number.
type SeqDist struct {
	Sequence int `json:"sequence"`
	Dist
}

// MemPoint is the server's memory at one moment.
type MemPoint struct {
	RSS        int64    `json:"rss"`          // VmRSS as it stood
	RSSAfterGC int64    `json:"rss_after_gc"` // VmRSS a second after a collection
	Mem        MemStats `json:"mem"`          // after that collection
}

// SubsResult is what the subscription benchmark measured.
type SubsResult struct {
	Kind          string `json:"kind"` // "subs"
	Deployments   int    `json:"deployments"`
	Conns         int    `json:"conns"`
	PerConn       int    `json:"per_conn"`
	Subscriptions int    `json:"subscriptions"`

	// Idle subscriptions: every one open and replayed, nothing happening.
	OpenSeconds float64  `json:"open_seconds"` // to open them all and receive their replay
	IdleSeconds float64  `json:"idle_seconds"` // how long they sat idle before Loaded
	Baseline    MemPoint `json:"baseline"`
	Loaded      MemPoint `json:"loaded"`
	// Per subscription, in bytes: RSS as it stood, RSS after a collection,
	// live Go heap and goroutine stacks after a collection; and goroutines.
	RSSPerSub        float64 `json:"rss_per_sub"`
	RSSAfterGCPerSub float64 `json:"rss_after_gc_per_sub"`
	HeapPerSub       float64 `json:"heap_live_per_sub"`
	StackPerSub      float64 `json:"stack_per_sub"`
	GoroutinesPerSub float64 `json:"goroutines_per_sub"`
	IdleCPU          CPUUse  `json:"idle_cpu"`

	// Live: the deployments run; every event is timed from its commit
	// (occurredAt, the database's clock) to its arrival here.
	Latency             Dist      `json:"latency"`
	BySequence          []SeqDist `json:"by_sequence"` // latency of each event of the deployments
	EventsPerDeployment int       `json:"events_per_deployment"`
	EventsExpected      int       `json:"events_expected"` // sum over subscriptions of their deployment's events
	EventsReceived      int       `json:"events_received"`
	EventsTimed         int       `json:"events_timed"` // the live ones: all but the replayed first
	Gapless             int       `json:"gapless"`      // subscriptions that saw exactly 1..n, the terminal event, then complete
	Duplicates          int       `json:"duplicates"`
	Gaps                int       `json:"gaps"`
	Seconds             float64   `json:"seconds"` // resume → the last subscription completed
	MessagesPerSecond   float64   `json:"messages_per_second"`
	CPU                 CPUUse    `json:"cpu"`
}

const progressQuery = `subscription($id: ID!) {
  deploymentProgress(deploymentId: $id, afterSequence: 0) { sequence status stage occurredAt }
}`

// subState is one subscription as its connection's reader sees it.
type subState struct {
	dep       int
	next      int // the sequence expected next
	received  int
	dups      int
	gaps      int
	terminal  string // the deployment's final status, once seen
	completed bool
	err       string
}

// subConn is one connection and its subscriptions; only its reader
// goroutine touches it until the reader has returned.
type subConn struct {
	ws       *WS
	subs     []subState
	lat      []time.Duration
	latSeq   []int32 // the sequence of each lat
	early    int     // live events committed before the deployments were resumed
	lastAt   time.Time
	readErr  atomic.Pointer[error]
	resumeAt *atomic.Pointer[time.Time]
	errored  *atomic.Int64 // subscriptions answered with an error, on every connection
}

// progressIn is a message of a deploymentProgress stream, decoded in one
// pass (an "error" message's payload, a list, fails to decode into it and
// is kept raw by the caller).
type progressIn struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Payload struct {
		Data *struct {
			DeploymentProgress *struct {
				Sequence   int       `json:"sequence"`
				Status     string    `json:"status"`
				Stage      *string   `json:"stage"`
				OccurredAt time.Time `json:"occurredAt"`
			} `json:"deploymentProgress"`
		} `json:"data"`
	} `json:"payload"`
}

// read consumes the connection's messages until it fails or ctx ends.
func (sc *subConn) read(ctx context.Context, ready, completed *counter) {
	var buf bytes.Buffer
	fail := func(err error) { sc.readErr.Store(&err) }
	for {
		at, err := sc.ws.ReadInto(ctx, &buf)
		if err != nil {
			if ctx.Err() == nil {
				fail(err)
			}
			return
		}
		var m progressIn
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) || m.Type == "next" {
				fail(fmt.Errorf("%w: %.300s", err, buf.Bytes()))
				return
			}
		}
		if m.Type == "ping" {
			_ = sc.ws.Send(ctx, Message{Type: "pong"})
			continue
		}
		if m.Type == "pong" {
			continue
		}
		j, err := strconv.Atoi(m.ID)
		if err != nil || j < 0 || j >= len(sc.subs) {
			fail(fmt.Errorf("message for unknown subscription %q: %.300s", m.ID, buf.Bytes()))
			return
		}
		s := &sc.subs[j]
		sc.lastAt = at
		switch m.Type {
		case "next":
			if m.Payload.Data == nil || m.Payload.Data.DeploymentProgress == nil {
				s.err = fmt.Sprintf("bad next: %.300s", buf.Bytes())
				continue
			}
			e := m.Payload.Data.DeploymentProgress
			s.received++
			switch {
			case e.Sequence < s.next:
				s.dups++
				continue
			case e.Sequence > s.next:
				s.gaps++
			}
			s.next = e.Sequence + 1
			if e.Sequence == 1 {
				ready.add()
			} else {
				sc.lat = append(sc.lat, at.Sub(e.OccurredAt))
				sc.latSeq = append(sc.latSeq, int32(e.Sequence))
				if r := sc.resumeAt.Load(); r == nil || e.OccurredAt.Before(*r) {
					sc.early++
				}
			}
			if e.Stage == nil && (e.Status == "SUCCEEDED" || e.Status == "FAILED" || e.Status == "CANCELLED") {
				s.terminal = e.Status
			}
		case "complete":
			if !s.completed {
				s.completed = true
				completed.add()
			}
		case "error":
			s.err = fmt.Sprintf("error: %.300s", buf.Bytes())
			sc.errored.Add(1)
			if !s.completed {
				s.completed = true
				completed.add()
			}
		default:
			s.err = fmt.Sprintf("unexpected message: %.300s", buf.Bytes())
		}
	}
}

// counter closes done when it reaches n.
type counter struct {
	n, target int64
	done      chan struct{}
	once      sync.Once
}

func newCounter(target int) *counter {
	return &counter{target: int64(target), done: make(chan struct{})}
}

func (c *counter) add() {
	if atomic.AddInt64(&c.n, 1) >= c.target {
		c.once.Do(func() { close(c.done) })
	}
}

func (c *counter) count() int { return int(atomic.LoadInt64(&c.n)) }

// SetQueuePaused pauses or resumes the deployment queue of the database at
// databaseURL, through River, whose clients hear of it at once.
func SetQueuePaused(ctx context.Context, databaseURL string, paused bool) error {
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	client, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		return err
	}
	if paused {
		err = client.QueuePause(ctx, pipeline.QueueName, nil)
	} else {
		err = client.QueueResume(ctx, pipeline.QueueName, nil)
	}
	if errors.Is(err, river.ErrNotFound) && !paused {
		return nil // never paused: no queue row yet
	}
	return err
}

// memPoint reads the server's memory: RSS as it stands, then (with a
// profiler) a collection, its statistics and RSS a second later.
func memPoint(ctx context.Context, cfg SubsConfig) (MemPoint, error) {
	var p MemPoint
	var err error
	if p.RSS, err = VmRSS(cfg.ServerPID); err != nil {
		return p, err
	}
	p.RSSAfterGC = p.RSS
	if cfg.PprofURL == "" {
		return p, nil
	}
	if p.Mem, err = ReadMemStats(ctx, cfg.PprofURL); err != nil {
		return p, fmt.Errorf("server profiler: %w", err)
	}
	time.Sleep(time.Second)
	p.RSSAfterGC, err = VmRSS(cfg.ServerPID)
	return p, err
}

// RunSubs measures idle subscriptions' memory and live delivery: with the
// deployment queue paused it creates cfg.Deployments deployments, opens
// cfg.Conns × cfg.PerConn deploymentProgress subscriptions spread evenly
// over them, reads the server's memory once every subscription has
// replayed its first event and sat idle, then resumes the queue and times
// every event to its subscriber until each subscription completes.
func RunSubs(ctx context.Context, cfg SubsConfig) (res *SubsResult, err error) {
	total := cfg.Conns * cfg.PerConn
	if cfg.Deployments < 1 || total < cfg.Deployments {
		return nil, errors.New("subs: need at least one deployment and a subscription for each")
	}
	logf := func(format string, a ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "livebench: "+format+"\n", a...)
		}
	}
	c := NewClient(cfg.URL, cfg.Auth, 16)
	builds, err := c.SucceededBuilds(ctx, max(1, cfg.Builds))
	if err != nil {
		return nil, err
	}

	// Nothing runs until every subscription is in place.
	if err := SetQueuePaused(ctx, cfg.DatabaseURL, true); err != nil {
		return nil, fmt.Errorf("pausing the deployment queue: %w", err)
	}
	defer func() {
		if rerr := SetQueuePaused(context.WithoutCancel(ctx), cfg.DatabaseURL, false); rerr != nil && err == nil {
			err = fmt.Errorf("resuming the deployment queue: %w", rerr)
		}
	}()
	time.Sleep(500 * time.Millisecond) // River notifies its clients; give it time to arrive
	deps := make([]string, cfg.Deployments)
	{
		var wg sync.WaitGroup
		var next atomic.Int64
		errs := make(chan error, 1)
		for range 8 {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(deps) {
						return
					}
					id, err := c.CreateDeployment(ctx, builds[i%len(builds)], fmt.Sprintf("ws-%s-%d", cfg.Run, i), "")
					if err != nil {
						select {
						case errs <- err:
						default:
						}
						return
					}
					deps[i] = id
				}
			})
		}
		wg.Wait()
		select {
		case err := <-errs:
			return nil, err
		default:
		}
	}
	states, err := c.Deployments(ctx, deps)
	if err != nil {
		return nil, err
	}
	for _, d := range states {
		if d.Status != "QUEUED" {
			return nil, fmt.Errorf("deployment %s is %s before the queue was resumed: the pause did not hold", d.ID, d.Status)
		}
	}
	logf("%d deployments queued (queue paused)", len(deps))

	// Warm the WebSocket path once, so the baseline includes what any
	// first subscription allocates for good.
	{
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ws, err := DialWS(wctx, cfg.URL, cfg.Auth)
		if err != nil {
			cancel()
			return nil, err
		}
		err = ws.Subscribe(wctx, "0", progressQuery, map[string]any{"id": deps[0]})
		for err == nil {
			var b []byte
			if b, _, err = ws.Read(wctx); err == nil {
				var m Message
				if json.Unmarshal(b, &m) == nil && m.Type == "next" {
					break
				}
			}
		}
		ws.Close()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("warm-up subscription: %w", err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	res = &SubsResult{Kind: "subs", Deployments: len(deps), Conns: cfg.Conns, PerConn: cfg.PerConn, Subscriptions: total}
	if res.Baseline, err = memPoint(ctx, cfg); err != nil {
		return nil, err
	}

	// Open every subscription and wait for each one's replayed first event.
	openCtx, cancelOpen := context.WithTimeout(ctx, cfg.Timeout)
	defer cancelOpen()
	connCtx, closeConns := context.WithCancel(context.WithoutCancel(ctx))
	defer closeConns()
	var resumeAt atomic.Pointer[time.Time]
	var errored atomic.Int64
	conns := make([]*subConn, cfg.Conns)
	ready, completed := newCounter(total), newCounter(total)
	var readers sync.WaitGroup
	defer func() {
		closeConns()
		for _, sc := range conns {
			if sc != nil {
				sc.ws.CloseNow()
			}
		}
		readers.Wait()
	}()
	t0 := time.Now()
	{
		var wg sync.WaitGroup
		var next atomic.Int64
		var once sync.Once
		var dialErr error
		var failed atomic.Bool
		for range 25 {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= cfg.Conns || openCtx.Err() != nil || failed.Load() {
						return
					}
					ws, err := DialWS(openCtx, cfg.URL, cfg.Auth)
					if err != nil {
						once.Do(func() { dialErr = fmt.Errorf("connection %d: %w", i, err) })
						failed.Store(true)
						return
					}
					sc := &subConn{ws: ws, subs: make([]subState, cfg.PerConn), resumeAt: &resumeAt, errored: &errored}
					conns[i] = sc
					for j := range sc.subs {
						k := i*cfg.PerConn + j
						sc.subs[j] = subState{dep: k % len(deps), next: 1}
						if err := ws.Subscribe(openCtx, strconv.Itoa(j), progressQuery, map[string]any{"id": deps[k%len(deps)]}); err != nil {
							once.Do(func() { dialErr = fmt.Errorf("subscribing on connection %d: %w", i, err) })
							failed.Store(true)
							return
						}
					}
					readers.Go(func() { sc.read(connCtx, ready, completed) })
				}
			})
		}
		wg.Wait()
		if dialErr != nil {
			return nil, dialErr
		}
	}
	if err := waitFor(openCtx, ready, &errored); err != nil {
		time.Sleep(100 * time.Millisecond) // let the readers record what came with the error
		return nil, fmt.Errorf("%v: %d of %d subscriptions had replayed their first event%s%s",
			err, ready.count(), total, connErrors(conns), unready(conns, deps))
	}
	res.OpenSeconds = time.Since(t0).Seconds()
	logf("%d subscriptions on %d connections open and replayed in %.1fs; idle for %s", total, cfg.Conns, res.OpenSeconds, cfg.Idle)

	idle0 := TakeCPU(cfg.ServerPID)
	time.Sleep(cfg.Idle)
	res.IdleCPU = Since(idle0, TakeCPU(cfg.ServerPID))
	res.IdleSeconds = time.Since(t0).Seconds() - res.OpenSeconds
	if res.Loaded, err = memPoint(ctx, cfg); err != nil {
		return nil, err
	}
	if err := saveProfiles(ctx, cfg, "heap?gc=1", "heap.pb.gz", "goroutine?debug=1", "goroutines.txt"); err != nil {
		return nil, err
	}
	n := float64(total)
	res.RSSPerSub = float64(res.Loaded.RSS-res.Baseline.RSSAfterGC) / n
	res.RSSAfterGCPerSub = float64(res.Loaded.RSSAfterGC-res.Baseline.RSSAfterGC) / n
	res.HeapPerSub = float64(res.Loaded.Mem.HeapAlloc-res.Baseline.Mem.HeapAlloc) / n
	res.StackPerSub = float64(res.Loaded.Mem.StackInuse-res.Baseline.Mem.StackInuse) / n
	res.GoroutinesPerSub = float64(res.Loaded.Mem.Goroutines-res.Baseline.Mem.Goroutines) / n
	if ready.count() != total {
		return nil, errors.New("subscriptions were refused or failed while idle" + connErrors(conns))
	}

	// Live: resume the queue; every deployment runs at once.
	logf("resuming the deployment queue: %d deployments start", len(deps))
	cpuProfiled := make(chan error, 1)
	go func() { cpuProfiled <- saveProfiles(ctx, cfg, "profile?seconds=5", "cpu.pb.gz") }()
	cpu0 := TakeCPU(cfg.ServerPID)
	now := time.Now()
	resumeAt.Store(&now)
	if err := SetQueuePaused(ctx, cfg.DatabaseURL, false); err != nil {
		return nil, fmt.Errorf("resuming the deployment queue: %w", err)
	}
	liveCtx, cancelLive := context.WithTimeout(ctx, cfg.Timeout)
	defer cancelLive()
	if err := waitFor(liveCtx, completed, nil); err != nil {
		return nil, fmt.Errorf("%v: %d of %d subscriptions had completed%s",
			err, completed.count(), total, connErrors(conns))
	}
	cpu := TakeCPU(cfg.ServerPID)
	if err := <-cpuProfiled; err != nil {
		return nil, err
	}
	closeConns()
	for _, sc := range conns {
		sc.ws.CloseNow()
	}
	readers.Wait()

	states, err = c.Deployments(ctx, deps)
	if err != nil {
		return nil, err
	}
	var lat []time.Duration
	var last time.Time
	bySeq := map[int32][]time.Duration{}
	for _, sc := range conns {
		lat = append(lat, sc.lat...)
		for i, q := range sc.latSeq {
			bySeq[q] = append(bySeq[q], sc.lat[i])
		}
		if sc.lastAt.After(last) {
			last = sc.lastAt
		}
		if sc.early > 0 {
			return nil, fmt.Errorf("%d live events were committed before the queue was resumed: the pause did not hold", sc.early)
		}
		for _, s := range sc.subs {
			want := states[s.dep].EventsTotal
			res.EventsExpected += want
			res.EventsReceived += s.received
			res.Duplicates += s.dups
			res.Gaps += s.gaps
			if s.err == "" && s.dups == 0 && s.gaps == 0 && s.next == want+1 && s.terminal == "SUCCEEDED" && s.completed {
				res.Gapless++
			} else if s.err != "" {
				logf("a subscription to %s failed: %s", deps[s.dep], s.err)
			}
		}
	}
	for _, d := range states {
		if d.Status != "SUCCEEDED" {
			return nil, fmt.Errorf("deployment %s ended %s (%s)", d.ID, d.Status, deref(d.Error))
		}
		if res.EventsPerDeployment == 0 {
			res.EventsPerDeployment = d.EventsTotal
		} else if res.EventsPerDeployment != d.EventsTotal {
			res.EventsPerDeployment = -1 // they differ
		}
	}
	res.EventsTimed = len(lat)
	for q := int32(2); len(bySeq[q]) > 0; q++ {
		res.BySequence = append(res.BySequence, SeqDist{Sequence: int(q), Dist: Summarize(bySeq[q])})
	}
	res.Latency = Summarize(lat)
	res.Seconds = last.Sub(now).Seconds()
	if res.Seconds > 0 {
		res.MessagesPerSecond = float64(res.EventsTimed) / res.Seconds
	}
	res.CPU = Since(cpu0, cpu)
	return res, nil
}

// waitFor waits until c is done, ctx ends, or (errored not nil) a
// subscription is answered with an error.
func waitFor(ctx context.Context, c *counter, errored *atomic.Int64) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return nil
		case <-ctx.Done():
			return errors.New("timed out")
		case <-tick.C:
			if errored != nil && errored.Load() > 0 {
				return fmt.Errorf("%d subscriptions were answered with an error", errored.Load())
			}
		}
	}
}

// connErrors describes the first few connections that failed.
func connErrors(conns []*subConn) string {
	s, n := "", 0
	for i, sc := range conns {
		if sc == nil || sc.readErr.Load() == nil {
			continue
		}
		if n < 3 {
			s += fmt.Sprintf("; connection %d: %v", i, *sc.readErr.Load())
		}
		n++
	}
	if n > 3 {
		s += fmt.Sprintf("; and %d more connections failed", n-3)
	}
	return s
}

// unready describes the first few subscriptions that have not replayed
// their first event. It reads the readers' state unlocked: it is only a
// diagnosis of a failed run.
func unready(conns []*subConn, deps []string) string {
	s, n := "", 0
	for i, sc := range conns {
		if sc == nil {
			continue
		}
		for j := range sc.subs {
			st := &sc.subs[j]
			if st.next > 1 {
				continue
			}
			if n < 5 {
				s += fmt.Sprintf("; subscription %d on connection %d to %s: %d messages, completed %v, error %q",
					j, i, deps[st.dep], st.received, st.completed, st.err)
			}
			n++
		}
	}
	if n > 5 {
		s += fmt.Sprintf("; and %d more", n-5)
	}
	return s
}

// saveProfiles writes the server's profiles (pairs of path under
// PprofURL and file name) into ProfileDir, when both are set.
func saveProfiles(ctx context.Context, cfg SubsConfig, pathAndFile ...string) error {
	if cfg.PprofURL == "" || cfg.ProfileDir == "" {
		return nil
	}
	for i := 0; i+1 < len(pathAndFile); i += 2 {
		b, err := httpGet(ctx, cfg.PprofURL+"/"+pathAndFile[i])
		if err == nil {
			err = os.WriteFile(filepath.Join(cfg.ProfileDir, pathAndFile[i+1]), b, 0o644)
		}
		if err != nil {
			return fmt.Errorf("server profile %s: %w", pathAndFile[i], err)
		}
	}
	return nil
}
