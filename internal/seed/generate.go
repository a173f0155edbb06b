package seed

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	sg "github.com/shipgraph/shipgraph/internal/shipgraph"
)

// The generator builds the whole data set in memory before anything is
// written. Rows refer to their parents by index into the plan; the database
// ids are only known once they are allocated, and the COPY sources map
// indexes to ids as they stream rows out.

// Typical shapes of a feature; the counts vary around these averages.
const (
	// history is how far back the data set reaches.
	history = 90 * 24 * time.Hour
	// minAge leaves every feature room for its builds and deployments.
	minAge = 2 * 24 * time.Hour
	// quietTail keeps the last finished build this far before now, so its
	// deployments, chained one after another, still end in the past.
	quietTail = 6 * time.Hour
	// maxDeployment bounds how long one simulated deployment takes.
	maxDeployment = 20 * time.Minute
)

type feature struct {
	name, description string
	complexity        int
	status            sg.FeatureStatus
	version           int
	lastBuild         int
	created, updated  time.Time
}

type testCase struct {
	feature          int
	title            string
	steps            string
	expected         string
	status           sg.TestCaseStatus
	version          int
	created, updated time.Time
}

type build struct {
	feature           int
	number            int
	sha, branch       string
	status            sg.BuildStatus
	started, finished time.Time // zero means NULL
	version           int
	created, updated  time.Time
}

type deployment struct {
	build, feature    int
	environment       string
	status            sg.DeploymentStatus
	progress          int
	stages            []byte // jsonb
	err               string // empty means NULL
	started, finished time.Time
	version           int
	created, updated  time.Time
}

type event struct {
	deployment  int
	sequence    int
	stage       sg.StageName   // empty means NULL
	stageStatus sg.StageStatus // empty means NULL
	status      sg.DeploymentStatus
	progress    int
	message     string
	at          time.Time
}

// plan is everything one run inserts.
type plan struct {
	uniform     bool // Options.Uniform
	features    []feature
	testCases   []testCase
	builds      []build
	deployments []deployment
	events      []event
}

// weighted picks an index of weights with probability proportional to its
// weight.
func weighted(r *rand.Rand, weights ...int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

// between returns a random duration in [lo, hi).
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// us truncates t to what timestamptz stores, so that the times in the stages
// JSON are exactly the times of the columns and events.
func us(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

func oneOf[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

var (
	featureStatuses  = []sg.FeatureStatus{sg.FeatureDraft, sg.FeatureInProgress, sg.FeatureReady, sg.FeatureShipped, sg.FeatureArchived}
	featureWeights   = []int{15, 30, 15, 30, 10}
	complexities     = []int{1, 2, 3, 5, 8, 13}
	complexityWeight = []int{10, 20, 25, 25, 13, 7}
	testStatuses     = []sg.TestCaseStatus{sg.TestPassed, sg.TestFailed, sg.TestSkipped, sg.TestNotRun}
)

// generate plans n features with their children, all dated before now.
func generate(r *rand.Rand, n int, now time.Time, uniform bool) *plan {
	now = us(now)
	p := &plan{
		uniform:     uniform,
		features:    make([]feature, n),
		testCases:   make([]testCase, 0, n*10),
		builds:      make([]build, 0, n*5),
		deployments: make([]deployment, 0, n*2),
		events:      make([]event, 0, n*20),
	}
	// Creation dates first, sorted, so that ids (handed out in plan
	// order) grow with created_at as they would have in real life.
	created := make([]time.Time, n)
	for i := range created {
		created[i] = us(now.Add(-between(r, minAge, history)))
	}
	slices.SortFunc(created, func(a, b time.Time) int { return a.Compare(b) })
	for i := range n {
		p.addFeature(r, i, created[i], now)
	}
	return p
}

func (p *plan) addFeature(r *rand.Rand, fi int, created, now time.Time) {
	area := oneOf(r, areas)
	var action string
	if r.IntN(100) < 40 {
		action = oneOf(r, curatedActions)
	} else {
		action = oneOf(r, verbs) + " " + oneOf(r, objects)
	}
	full := action
	if r.IntN(100) < 45 {
		full += " " + oneOf(r, qualifiers)
	}
	status := featureStatuses[weighted(r, featureWeights...)]
	// Each step of the life cycle was an edit, plus some renames.
	version := 1 + slices.Index(featureStatuses, status) + r.IntN(3)
	updated := created
	if version > 1 {
		updated = us(created.Add(between(r, time.Minute, now.Sub(created))))
	}
	desc := fmt.Sprintf("As a %s, I want to %s so that %s.", oneOf(r, personas), full, oneOf(r, benefits))
	for range r.IntN(3) {
		desc += " " + oneOf(r, details)
	}
	p.features[fi] = feature{
		name:        area + ": " + full,
		description: desc,
		complexity:  complexities[weighted(r, complexityWeight...)],
		status:      status,
		version:     version,
		created:     created,
		updated:     updated,
	}
	p.addTestCases(r, fi, area, action, now)
	p.addBuilds(r, fi, slug(action), now)
	p.addDeployments(r, fi, now)
}

// slug turns an action into a branch name component.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func (p *plan) addTestCases(r *rand.Rand, fi int, area, action string, now time.Time) {
	f := &p.features[fi]
	n := 8 + r.IntN(5) // 8..12, 10 on average
	if p.uniform {
		n = 10
	}
	weights := []int{78, 9, 5, 8}
	switch f.status {
	case sg.FeatureDraft:
		weights = []int{15, 5, 10, 70}
	case sg.FeatureShipped, sg.FeatureArchived:
		weights = []int{88, 3, 6, 3}
	}
	persona := oneOf(r, personas)
	// The happy path first, then distinct scenarios.
	picks := r.Perm(len(scenarios))[:n-1]
	times := make([]time.Time, n)
	age := now.Sub(f.created)
	for i := range times {
		times[i] = us(f.created.Add(between(r, 5*time.Minute, age*2/5)))
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for i := range n {
		var title, step, expected string
		if i == 0 {
			title = "Happy path: " + action
			step = strings.ToUpper(action[:1]) + action[1:]
			expected = oneOf(r, happyExpected)
		} else {
			s := scenarios[picks[i-1]]
			title, step, expected = s.title, s.step, s.expected
		}
		steps := fmt.Sprintf(firstSteps[r.IntN(len(firstSteps))], persona) + "\n" +
			"Open " + area + ".\n" + step + ".\nCheck the result."
		tc := testCase{
			feature:  fi,
			title:    title,
			steps:    steps,
			expected: expected,
			status:   testStatuses[weighted(r, weights...)],
			version:  1,
			created:  times[i],
			updated:  times[i],
		}
		if tc.status != sg.TestNotRun {
			tc.version = 2 + r.IntN(3)
			tc.updated = us(tc.created.Add(between(r, time.Minute, now.Sub(tc.created))))
		}
		p.testCases = append(p.testCases, tc)
	}
}

// sha returns 40 random hex digits: a git commit id.
func sha(r *rand.Rand) string {
	const hex = "0123456789abcdef"
	var b [40]byte
	for i := 0; i < 40; i += 16 {
		v := r.Uint64()
		for j := i; j < i+16 && j < 40; j++ {
			b[j] = hex[v&15]
			v >>= 4
		}
	}
	return string(b[:])
}

var (
	finishedBuilds = []sg.BuildStatus{sg.BuildSucceeded, sg.BuildFailed, sg.BuildCancelled}
	lastBuilds     = []sg.BuildStatus{sg.BuildSucceeded, sg.BuildFailed, sg.BuildCancelled, sg.BuildRunning, sg.BuildQueued}
)

func (p *plan) addBuilds(r *rand.Rand, fi int, slug string, now time.Time) {
	f := &p.features[fi]
	k := 4 + r.IntN(3) // 4..6, 5 on average
	if p.uniform {
		k = 5
	}
	first := len(p.builds)
	// The builds spread over the feature's life, one per slot, so each
	// finishes long before the next starts.
	start := f.created.Add(between(r, 30*time.Minute, 6*time.Hour))
	slot := now.Add(-quietTail).Sub(start) / time.Duration(k)
	succeeded := false
	for i := range k {
		var status sg.BuildStatus
		if p.uniform {
			// Every build is deployed, so every build succeeded.
			status = sg.BuildSucceeded
		} else if i < k-1 || f.status == sg.FeatureArchived {
			status = finishedBuilds[weighted(r, 76, 17, 7)]
		} else {
			status = lastBuilds[weighted(r, 62, 12, 6, 12, 8)]
		}
		b := build{feature: fi, number: i + 1, sha: sha(r), status: status}
		switch weighted(r, 65, 25, 10) {
		case 0:
			b.branch = "feature/" + slug
		case 1:
			b.branch = "main"
		default:
			b.branch = oneOf(r, releaseBranches)
		}
		if status.Finished() {
			b.created = us(start.Add(time.Duration(i)*slot + between(r, 0, slot/2)))
		} else {
			// In flight: it was only just pushed (but long enough ago
			// to have started, which takes up to 3 minutes).
			b.created = us(now.Add(-between(r, 5*time.Minute, 40*time.Minute)))
		}
		b.version, b.updated = 1, b.created
		if status != sg.BuildQueued {
			b.started = us(b.created.Add(between(r, 3*time.Second, 3*time.Minute)))
			b.version, b.updated = 2, b.started
		}
		if status.Finished() {
			b.finished = us(b.started.Add(between(r, 90*time.Second, 25*time.Minute)))
			b.version, b.updated = 3, b.finished
			succeeded = succeeded || status == sg.BuildSucceeded
		}
		p.builds = append(p.builds, b)
	}
	if !succeeded {
		// Deployments need a succeeded build: promote the latest
		// finished one.
		for i := len(p.builds) - 1; i >= first; i-- {
			if p.builds[i].status.Finished() {
				p.builds[i].status = sg.BuildSucceeded
				break
			}
		}
	}
	f.lastBuild = k
}

func (p *plan) addDeployments(r *rand.Rand, fi int, now time.Time) {
	var ok []int // the feature's succeeded builds
	for i := len(p.builds) - 1; i >= 0 && p.builds[i].feature == fi; i-- {
		if p.builds[i].status == sg.BuildSucceeded {
			ok = append(ok, i)
		}
	}
	type target struct{ build, env int }
	var ts []target
	if p.uniform {
		// Each build to dev, then to qa.
		for _, b := range ok {
			ts = append(ts, target{b, 0}, target{b, 1})
		}
	} else {
		ts = make([]target, 1+weighted(r, 25, 50, 25)) // 1..3, 2 on average
		envWeights := make([]int, len(environments))
		for i, e := range environments {
			envWeights[i] = e.weight
		}
		for i := range ts {
			ts[i] = target{oneOf(r, ok), weighted(r, envWeights...)}
		}
	}
	// In pipeline order, one after another: a build goes to dev before
	// production, and no two deployments of the feature overlap, so the
	// one-active-deployment rule held at every instant of the history.
	slices.SortFunc(ts, func(a, b target) int {
		if a.build != b.build {
			return a.build - b.build
		}
		return a.env - b.env
	})
	var last time.Time
	for i, t := range ts {
		base := p.builds[t.build].finished
		if last.After(base) {
			base = last
		}
		room := now.Add(-10*time.Minute).Sub(base) - time.Duration(len(ts)-i)*maxDeployment
		gap := between(r, time.Minute, min(3*time.Hour, room))
		last = p.deploy(r, t.build, fi, environments[t.env].name, us(base.Add(gap)))
	}
}

// Stage weights: how much each stage adds to progress when it succeeds.
var stageWeight = [4]int{10, 30, 20, 40}

// transition is one stage changing status.
type transition struct {
	at     time.Time
	stage  int
	status sg.StageStatus
}

// deploy simulates one deployment from created on, appends it and its event
// log, and returns when it finished. Row, stages and events are all derived
// from the one simulated log, so they cannot disagree.
func (p *plan) deploy(r *rand.Rand, bi, fi int, env string, created time.Time) time.Time {
	b := &p.builds[bi]
	di := len(p.deployments)
	outcome := []sg.DeploymentStatus{sg.DeploymentSucceeded, sg.DeploymentFailed, sg.DeploymentCancelled}[weighted(r, 80, 13, 7)]
	d := deployment{build: bi, feature: fi, environment: env, status: outcome, created: created}

	firstEvent := len(p.events)
	emit := func(e event) {
		e.deployment = di
		e.sequence = len(p.events) - firstEvent + 1
		e.at = us(e.at)
		// occurred_at strictly increases with the sequence.
		if e.sequence > 1 && !e.at.After(p.events[len(p.events)-1].at) {
			e.at = p.events[len(p.events)-1].at.Add(time.Microsecond)
		}
		p.events = append(p.events, e)
	}
	emit(event{status: sg.DeploymentQueued, at: created,
		message: "Build #" + strconv.Itoa(b.number) + " queued for deployment to " + env})

	var state [4]sg.StageStatus
	var startedAt, finishedAt [4]time.Time
	var stageErr [4]string
	for i := range state {
		state[i] = sg.StagePending
	}
	progress := 0
	apply := func(t transition, msg string) {
		state[t.stage] = t.status
		if t.status == sg.StageSucceeded {
			progress += stageWeight[t.stage]
		}
		emit(event{stage: sg.Stages[t.stage], stageStatus: t.status, status: sg.DeploymentInProgress,
			progress: progress, message: msg, at: t.at})
		at := p.events[len(p.events)-1].at // as emitted, after any nudge
		if t.status == sg.StageRunning {
			startedAt[t.stage] = at
			if d.started.IsZero() {
				d.started = at
			}
		} else {
			finishedAt[t.stage] = at
		}
	}

	end := created
	if outcome == sg.DeploymentCancelled && r.IntN(100) < 30 {
		// Cancelled while still queued: no stage ever ran.
		end = created.Add(between(r, 10*time.Second, 5*time.Minute))
	} else {
		// The plan of a run where everything succeeds: the first three
		// stages concurrently, then EXECUTE.
		started := created.Add(between(r, 2*time.Second, 90*time.Second))
		durations := [3]time.Duration{
			between(r, 10*time.Second, 2*time.Minute),
			between(r, time.Minute, 8*time.Minute),
			between(r, 30*time.Second, 5*time.Minute),
		}
		var ts []transition
		var lastFinish time.Time
		at := started
		for s := range 3 {
			at = at.Add(between(r, 5*time.Millisecond, 300*time.Millisecond))
			ts = append(ts, transition{at, s, sg.StageRunning})
			fin := at.Add(durations[s])
			ts = append(ts, transition{fin, s, sg.StageSucceeded})
			if fin.After(lastFinish) {
				lastFinish = fin
			}
		}
		execStart := lastFinish.Add(between(r, time.Second, 15*time.Second))
		execEnd := execStart.Add(between(r, time.Minute, 8*time.Minute))
		ts = append(ts, transition{execStart, 3, sg.StageRunning}, transition{execEnd, 3, sg.StageSucceeded})
		slices.SortStableFunc(ts, func(a, b transition) int { return a.at.Compare(b.at) })

		// Where the run stops short of that plan, if it does.
		stop := time.Time{}
		failing := -1
		switch outcome {
		case sg.DeploymentFailed:
			failing = weighted(r, 25, 25, 20, 30)
			for _, t := range ts {
				if t.stage == failing && t.status == sg.StageSucceeded {
					stop = t.at
				}
			}
		case sg.DeploymentCancelled:
			first := ts[0].at
			stop = first.Add(between(r, time.Second, execEnd.Sub(first)))
		}
		for _, t := range ts {
			if !stop.IsZero() && !t.at.Before(stop) {
				break
			}
			msg := stageMessages[t.stage][stageIndex(t.status)]
			if t.stage == 3 && t.status == sg.StageRunning {
				msg += " to " + env
			}
			apply(t, msg)
		}
		if failing >= 0 {
			stageErr[failing] = oneOf(r, stageErrors[failing])
			d.err = stageErr[failing]
			apply(transition{stop, failing, sg.StageFailed}, stageMessages[failing][2]+d.err)
		}
		if !stop.IsZero() {
			// Whatever still runs is stopped; stages that never
			// started stay PENDING.
			for s := range state {
				if state[s] == sg.StageRunning {
					apply(transition{stop.Add(time.Millisecond), s, sg.StageCancelled}, stageMessages[s][3])
				}
			}
		}
		end = p.events[len(p.events)-1].at.Add(between(r, 50*time.Millisecond, 3*time.Second))
	}

	final := event{status: outcome, progress: progress, at: end}
	switch outcome {
	case sg.DeploymentSucceeded:
		final.progress = 100
		final.message = "Deployment of build #" + strconv.Itoa(b.number) + " to " + env + " succeeded"
	case sg.DeploymentFailed:
		final.message = "Deployment failed: " + d.err
	default:
		final.message = "Deployment cancelled by " + oneOf(r, users)
	}
	emit(final)
	last := p.events[len(p.events)-1]
	d.progress = last.progress
	d.finished = last.at
	d.updated = last.at
	d.version = len(p.events) - firstEvent // one change per event
	d.stages = stagesJSON(state, startedAt, finishedAt, stageErr)
	p.deployments = append(p.deployments, d)
	return d.finished
}

// stageIndex is the column of stageMessages for a status.
func stageIndex(s sg.StageStatus) int {
	switch s {
	case sg.StageRunning:
		return 0
	case sg.StageSucceeded:
		return 1
	case sg.StageFailed:
		return 2
	}
	return 3
}

// stagesJSON renders the stages column in the shape of
// []shipgraph.DeploymentStage (the store decodes it into that type). It is
// written by hand because it runs 20,000 times in a 10,000-feature seed and
// encoding/json's reflection would be a visible part of the run.
func stagesJSON(state [4]sg.StageStatus, started, finished [4]time.Time, errs [4]string) []byte {
	b := make([]byte, 0, 512)
	b = append(b, '[')
	for i, name := range sg.Stages {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":"`...)
		b = append(b, name...)
		b = append(b, `","status":"`...)
		b = append(b, state[i]...)
		b = append(b, '"')
		if !started[i].IsZero() {
			b = append(b, `,"startedAt":"`...)
			b = started[i].UTC().AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		}
		if !finished[i].IsZero() {
			b = append(b, `,"finishedAt":"`...)
			b = finished[i].UTC().AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		}
		if errs[i] != "" {
			b = append(b, `,"error":`...)
			e, _ := json.Marshal(errs[i]) // cannot fail for a string
			b = append(b, e...)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}
