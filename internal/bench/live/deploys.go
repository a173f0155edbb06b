package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DeploysConfig is one run of the throughput benchmark.
type DeploysConfig struct {
	URL         string // the /graphql endpoint
	Auth        string // Authorization header: a token that may deploy
	N           int    // deployments measured
	Concurrency int    // clients creating them
	Builds      int    // SUCCEEDED builds to spread them over
	Warmup      int    // deployments run before the measurement
	ServerPID   int    // for its CPU time; 0 skips it
	Timeout     time.Duration
	Run         string    // tag in environment names; unique per run
	Log         io.Writer // progress
}

// DeploysResult is what the throughput benchmark measured.
type DeploysResult struct {
	Kind        string `json:"kind"` // "deploys"
	N           int    `json:"n"`
	Concurrency int    `json:"c"`
	Builds      int    `json:"builds"`
	// Seconds runs from the first createDeployment sent to the last
	// deployment seen SUCCEEDED; PerSecond is N / Seconds.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// CreatesSeconds runs from the first createDeployment sent to the last
	// answered.
	CreatesSeconds   float64 `json:"creates_seconds"`
	CreatesPerSecond float64 `json:"creates_per_second"`
	// Create is the latency of createDeployment; EndToEnd from sending it
	// to seeing the deployment SUCCEEDED.
	Create   Dist `json:"create"`
	EndToEnd Dist `json:"end_to_end"`
	// QueueWait (createdAt → startedAt) and Run (startedAt → finishedAt)
	// split EndToEnd by the database's clock.
	QueueWait Dist `json:"queue_wait"`
	Run       Dist `json:"run"`
	// SeenLive deployments were seen SUCCEEDED through deploymentUpdated,
	// SeenByPoll only by polling (the live message was late or dropped).
	SeenLive   int `json:"seen_live"`
	SeenByPoll int `json:"seen_by_poll"`
	// EventsPerDeployment is every deployment's event count.
	EventsPerDeployment int    `json:"events_per_deployment"`
	CPU                 CPUUse `json:"cpu"`
}

const deploymentUpdated = `subscription { deploymentUpdated(filter: {status: SUCCEEDED}) { id status finishedAt } }`

// observer records when each deployment is first seen finished.
type observer struct {
	mu     sync.Mutex
	seen   map[string]time.Time
	status map[string]string
	live   map[string]bool
	notify chan struct{}
}

func newObserver() *observer {
	return &observer{seen: map[string]time.Time{}, status: map[string]string{}, live: map[string]bool{}, notify: make(chan struct{}, 1)}
}

func (o *observer) see(id, status string, at time.Time, live bool) {
	o.mu.Lock()
	if _, ok := o.seen[id]; !ok {
		o.seen[id], o.status[id], o.live[id] = at, status, live
	}
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
}

func (o *observer) get(id string) (time.Time, string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t, ok := o.seen[id]
	return t, o.status[id], ok
}

func (o *observer) isLive(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.live[id]
}

// watch reads the deploymentUpdated stream until ctx ends or it fails.
func (o *observer) watch(ctx context.Context, ws *WS, errc chan<- error) {
	for {
		b, at, err := ws.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				errc <- fmt.Errorf("deploymentUpdated stream: %w", err)
			}
			return
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			errc <- fmt.Errorf("deploymentUpdated stream: %w", err)
			return
		}
		switch m.Type {
		case "next":
			var p struct {
				Data struct {
					DeploymentUpdated struct{ ID, Status string }
				}
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				errc <- fmt.Errorf("deploymentUpdated: %w: %.300s", err, m.Payload)
				return
			}
			o.see(p.Data.DeploymentUpdated.ID, p.Data.DeploymentUpdated.Status, at, true)
		case "ping":
			_ = ws.Send(ctx, Message{Type: "pong"})
		case "pong":
		default:
			errc <- fmt.Errorf("deploymentUpdated stream: unexpected %s: %.300s", m.Type, m.Payload)
			return
		}
	}
}

// poll looks up the deployments of ids that are not seen yet and records
// the finished ones.
func (o *observer) poll(ctx context.Context, c *Client, ids []string) error {
	var todo []string
	for _, id := range ids {
		if _, _, ok := o.get(id); !ok {
			todo = append(todo, id)
		}
	}
	for start := 0; start < len(todo); start += 100 {
		chunk := todo[start:min(start+100, len(todo))]
		var ans struct {
			Nodes []*struct{ ID, Status string }
		}
		err := c.Do(ctx, `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Deployment { id status } } }`,
			map[string]any{"ids": chunk}, &ans)
		if err != nil {
			return fmt.Errorf("polling deployments: %w", err)
		}
		at := time.Now()
		for _, n := range ans.Nodes {
			if n == nil {
				continue
			}
			switch n.Status {
			case "SUCCEEDED", "FAILED", "CANCELLED":
				o.see(n.ID, n.Status, at, false)
			}
		}
	}
	return nil
}

// wait returns once every id is seen finished, polling those that the
// stream has not delivered every pollEvery.
func (o *observer) wait(ctx context.Context, c *Client, ids func() []string, pollEvery time.Duration, errc <-chan error) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		all := ids()
		done := all != nil
		for _, id := range all {
			if _, status, ok := o.get(id); !ok {
				done = false
				break
			} else if status != "SUCCEEDED" {
				return fmt.Errorf("deployment %s ended %s", id, status)
			}
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			return err
		case <-o.notify:
		case <-tick.C:
			if all != nil {
				if err := o.poll(ctx, c, all); err != nil {
					return err
				}
			}
		}
	}
}

// RunDeploys creates cfg.N deployments through the API with
// cfg.Concurrency clients, as fast as they are answered, and waits for all
// of them to succeed.
func RunDeploys(ctx context.Context, cfg DeploysConfig) (*DeploysResult, error) {
	if cfg.N < 1 || cfg.Concurrency < 1 {
		return nil, errors.New("deploys: N and the concurrency must be at least 1")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	logf := func(format string, a ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "livebench: "+format+"\n", a...)
		}
	}
	c := NewClient(cfg.URL, cfg.Auth, cfg.Concurrency)
	builds, err := c.SucceededBuilds(ctx, max(1, cfg.Builds))
	if err != nil {
		return nil, err
	}

	ws, err := DialWS(ctx, cfg.URL, cfg.Auth)
	if err != nil {
		return nil, fmt.Errorf("deploymentUpdated: %w", err)
	}
	defer ws.CloseNow()
	if err := ws.Subscribe(ctx, "u", deploymentUpdated, nil); err != nil {
		return nil, err
	}
	obs := newObserver()
	errc := make(chan error, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go obs.watch(watchCtx, ws, errc)

	// Warm-up: a few deployments end to end, which also proves the
	// subscription is in place before the clock starts.
	warm := make([]string, 0, cfg.Warmup)
	for i := range cfg.Warmup {
		id, err := c.CreateDeployment(ctx, builds[i%len(builds)], fmt.Sprintf("warm-%s-%d", cfg.Run, i), "")
		if err != nil {
			return nil, err
		}
		warm = append(warm, id)
	}
	if err := obs.wait(ctx, c, func() []string { return warm }, 3*time.Second, errc); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	for _, id := range warm {
		if !obs.isLive(id) {
			logf("warning: the warm-up deployment %s was seen by polling, not through deploymentUpdated", id)
		}
	}
	logf("warm-up done (%d deployments); creating %d deployments with %d clients", len(warm), cfg.N, cfg.Concurrency)

	var (
		sent    = make([]time.Time, cfg.N)
		done    = make([]time.Time, cfg.N)
		ids     = make([]string, cfg.N)
		next    atomic.Int64
		created atomic.Int64
		wg      sync.WaitGroup
		once    sync.Once
		failure error
	)
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	fail := func(err error) {
		once.Do(func() { failure = err; stopRun() })
	}
	cpu0 := TakeCPU(cfg.ServerPID)
	t0 := time.Now()
	for range cfg.Concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.N || runCtx.Err() != nil {
					return
				}
				sent[i] = time.Now()
				id, err := c.CreateDeployment(runCtx, builds[i%len(builds)], fmt.Sprintf("tp-%s-%d", cfg.Run, i), "tp-"+cfg.Run+"-"+strconv.Itoa(i))
				if err != nil {
					fail(err)
					return
				}
				done[i], ids[i] = time.Now(), id
				created.Add(1)
			}
		})
	}
	allCreated := make(chan struct{})
	go func() { wg.Wait(); close(allCreated) }()
	// ids() is nil until every create has been answered, so that wait
	// does not finish early.
	idsWhenCreated := func() []string {
		select {
		case <-allCreated:
			return ids
		default:
			return nil
		}
	}
	err = obs.wait(runCtx, c, idsWhenCreated, time.Second, errc)
	if err != nil {
		stopRun() // the creating clients stop; failure is theirs to set until then
	}
	<-allCreated
	if failure != nil {
		return nil, failure
	}
	if err != nil {
		n := 0
		for _, id := range ids {
			if _, _, ok := obs.get(id); id != "" && ok {
				n++
			}
		}
		return nil, fmt.Errorf("after %s, %d of %d deployments created and %d seen finished: %w",
			time.Since(t0).Round(time.Millisecond), created.Load(), cfg.N, n, err)
	}
	res := &DeploysResult{Kind: "deploys", N: cfg.N, Concurrency: cfg.Concurrency, Builds: len(builds)}
	var last, lastCreate time.Time
	e2e := make([]time.Duration, cfg.N)
	creates := make([]time.Duration, cfg.N)
	for i, id := range ids {
		at, _, _ := obs.get(id)
		if at.After(last) {
			last = at
		}
		if done[i].After(lastCreate) {
			lastCreate = done[i]
		}
		e2e[i] = at.Sub(sent[i])
		creates[i] = done[i].Sub(sent[i])
		if obs.isLive(id) {
			res.SeenLive++
		} else {
			res.SeenByPoll++
		}
	}
	res.CPU = Since(cpu0, TakeCPU(cfg.ServerPID))
	res.CPU.Seconds = last.Sub(t0).Seconds()
	res.Seconds = last.Sub(t0).Seconds()
	res.PerSecond = float64(cfg.N) / res.Seconds
	res.CreatesSeconds = lastCreate.Sub(t0).Seconds()
	res.CreatesPerSecond = float64(cfg.N) / res.CreatesSeconds
	res.EndToEnd = Summarize(e2e)
	res.Create = Summarize(creates)
	stopWatch()

	// Check every deployment: SUCCEEDED, with the same number of events.
	states, err := c.Deployments(ctx, ids)
	if err != nil {
		return nil, err
	}
	var wait, run []time.Duration
	for _, d := range states {
		if d.Status != "SUCCEEDED" || d.StartedAt == nil || d.FinishedAt == nil {
			return nil, fmt.Errorf("deployment %s is %s (error %v)", d.ID, d.Status, deref(d.Error))
		}
		if res.EventsPerDeployment == 0 {
			res.EventsPerDeployment = d.EventsTotal
		} else if d.EventsTotal != res.EventsPerDeployment {
			return nil, fmt.Errorf("deployment %s has %d events, others %d", d.ID, d.EventsTotal, res.EventsPerDeployment)
		}
		wait = append(wait, d.StartedAt.Sub(d.CreatedAt))
		run = append(run, d.FinishedAt.Sub(*d.StartedAt))
	}
	res.QueueWait, res.Run = Summarize(wait), Summarize(run)
	return res, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
