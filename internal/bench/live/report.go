package live

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Targets of the benchmark (issue 4, point 9).
const (
	TargetPerSecond    = 100.0       // deployments per second, at least
	TargetP99MS        = 100.0       // commit-to-client p99, under
	TargetBytesPerIdle = 20 * 1000.0 // bytes per idle subscription, at most (20 KB)
)

// Failure records a phase that did not produce a result.
type Failure struct {
	Kind  string `json:"kind"` // "deploys" or "subs"
	Error string `json:"error"`
}

// Results are what the phases wrote, one JSON object a line.
type Results struct {
	Deploys     *DeploysResult
	Subs        *SubsResult
	DeploysFail string
	SubsFail    string
}

// ReadResults reads a results file. A phase that wrote nothing is neither
// a result nor a failure.
func ReadResults(path string) (Results, error) {
	var r Results
	f, err := os.Open(path)
	if err != nil {
		return r, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var k struct {
			Kind  string `json:"kind"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(line, &k); err != nil {
			return r, fmt.Errorf("%s: %w", path, err)
		}
		switch {
		case k.Kind == "deploys" && k.Error != "":
			r.DeploysFail = k.Error
		case k.Kind == "subs" && k.Error != "":
			r.SubsFail = k.Error
		case k.Kind == "deploys":
			r.Deploys = new(DeploysResult)
			err = json.Unmarshal(line, r.Deploys)
		case k.Kind == "subs":
			r.Subs = new(SubsResult)
			err = json.Unmarshal(line, r.Subs)
		default:
			err = fmt.Errorf("unknown kind %q", k.Kind)
		}
		if err != nil {
			return r, fmt.Errorf("%s: %w", path, err)
		}
	}
	return r, sc.Err()
}

// OK reports whether every phase ran and nothing was lost or failed.
// Missed performance targets are not failures: the table shows them.
func (r Results) OK() bool {
	if r.Deploys == nil || r.Subs == nil {
		return false
	}
	return r.Subs.Gapless == r.Subs.Subscriptions && r.Subs.EventsReceived == r.Subs.EventsExpected
}

// Render returns the markdown table of r.
func Render(r Results) string {
	var b strings.Builder
	row := func(measure, result, target, verdict string) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", measure, result, target, verdict)
	}
	b.WriteString("| measure | result | target | |\n|---|---|---|---|\n")

	if d := r.Deploys; d != nil {
		row(fmt.Sprintf("deployments per second, end to end (%s deployments, %d clients, zero-length stages)", thousands(d.N), d.Concurrency),
			fmt.Sprintf("**%.1f/s** (%s in %.2f s)", d.PerSecond, thousands(d.N), d.Seconds),
			fmt.Sprintf("≥ %.0f/s", TargetPerSecond), verdict(d.PerSecond >= TargetPerSecond))
		row("create → SUCCEEDED seen by the client: p50 / p99 / max",
			fmt.Sprintf("%s / %s / %s ms", msf(d.EndToEnd.P50), msf(d.EndToEnd.P99), msf(d.EndToEnd.Max)), "—", "")
		row("… queued (createdAt → startedAt): p50 / p99",
			fmt.Sprintf("%s / %s ms", msf(d.QueueWait.P50), msf(d.QueueWait.P99)), "—", "")
		row("… running (startedAt → finishedAt): p50 / p99",
			fmt.Sprintf("%s / %s ms", msf(d.Run.P50), msf(d.Run.P99)), "—", "")
		row("createDeployment: p50 / p99; creates per second",
			fmt.Sprintf("%s / %s ms; %.0f/s", msf(d.Create.P50), msf(d.Create.P99), d.CreatesPerSecond), "—", "")
		perDep := func(s float64) string { return fmt.Sprintf("%.2f", s*1000/float64(d.N)) }
		row("CPU per deployment: server / PostgreSQL / load tool",
			fmt.Sprintf("%s / %s / %s ms; box %.2f cores busy, %.2f of them other processes'", perDep(d.CPU.Server), perDep(d.CPU.Postgres), perDep(d.CPU.Tool),
				d.CPU.Cores, div(d.CPU.Other, d.CPU.Seconds)), "—", "")
		row("deployments seen SUCCEEDED through deploymentUpdated / only by polling",
			fmt.Sprintf("%s / %s; %d events each", thousands(d.SeenLive), thousands(d.SeenByPoll), d.EventsPerDeployment), "—", "")
	} else {
		row("deployments per second, end to end", "**failed**: "+oneLine(r.DeploysFail), fmt.Sprintf("≥ %.0f/s", TargetPerSecond), "**FAILED**")
	}

	if s := r.Subs; s != nil {
		l := s.Latency
		row(fmt.Sprintf("commit-to-client latency, %s subscriptions (%d connections × %d) on %d deployments running at once: p50 / p99 / max",
			thousands(s.Subscriptions), s.Conns, s.PerConn, s.Deployments),
			fmt.Sprintf("%s / **%s** / %s ms (p90 %s, p99.9 %s)", msf(l.P50), msf(l.P99), msf(l.Max), msf(l.P90), msf(l.P999)),
			fmt.Sprintf("p99 < %.0f ms", TargetP99MS), verdict(l.N > 0 && l.P99 < TargetP99MS))
		if len(s.BySequence) > 0 {
			ps := make([]string, len(s.BySequence))
			for i, q := range s.BySequence {
				ps[i] = msf(q.P99)
			}
			row(fmt.Sprintf("… p99 by event sequence %d → %d (every deployment emits them at the same moments)",
				s.BySequence[0].Sequence, s.BySequence[len(s.BySequence)-1].Sequence),
				strings.Join(ps, ", ")+" ms", "—", "")
		}
		lost := s.EventsReceived != s.EventsExpected || s.Gapless != s.Subscriptions
		perSub := "varies"
		if s.EventsPerDeployment > 0 {
			perSub = "1.." + strconv.Itoa(s.EventsPerDeployment)
		}
		res := fmt.Sprintf("%s of %s events received; %s of %s subscriptions gapless %s, terminal SUCCEEDED, then complete",
			thousands(s.EventsReceived), thousands(s.EventsExpected), thousands(s.Gapless), thousands(s.Subscriptions), perSub)
		if s.Duplicates > 0 || s.Gaps > 0 {
			res += fmt.Sprintf(" (%d duplicates, %d gaps)", s.Duplicates, s.Gaps)
		}
		v := "met"
		if lost {
			v = "**FAILED**"
		}
		row("events expected vs received per subscription", res, "nothing lost", v)
		row("live delivery: events timed, over; CPU server / PostgreSQL / load tool",
			fmt.Sprintf("%s in %.2f s (%s/s); %.2f / %.2f / %.2f cores; box %.2f cores busy, %.2f of them other processes'",
				thousands(s.EventsTimed), s.Seconds, thousands(int(math.Round(s.MessagesPerSecond))),
				div(s.CPU.Server, s.CPU.Seconds), div(s.CPU.Postgres, s.CPU.Seconds), div(s.CPU.Tool, s.CPU.Seconds), s.CPU.Cores, div(s.CPU.Other, s.CPU.Seconds)), "—", "")
		row(fmt.Sprintf("memory per idle subscription: (VmRSS − baseline) / %s, after %.0f s idle", thousands(s.Subscriptions), s.IdleSeconds),
			fmt.Sprintf("**%s** (%s → %s MiB)", kb(s.RSSPerSub), mib(s.Baseline.RSSAfterGC), mib(s.Loaded.RSS)),
			fmt.Sprintf("≤ %.0f KB", TargetBytesPerIdle/1000), verdict(s.RSSPerSub <= TargetBytesPerIdle))
		if s.Loaded.Mem.HeapAlloc > 0 {
			row("… of which, after a forced GC: live Go heap; goroutine stacks; goroutines",
				fmt.Sprintf("%s; %s; %.2f per subscription", kb(s.HeapPerSub), kb(s.StackPerSub), s.GoroutinesPerSub), "—", "")
		}
		row(fmt.Sprintf("idle: time to open and replay all; CPU while idle (%.0f s)", s.IdleCPU.Seconds),
			fmt.Sprintf("%.2f s; server %.2f, PostgreSQL %.2f cores", s.OpenSeconds, div(s.IdleCPU.Server, s.IdleCPU.Seconds), div(s.IdleCPU.Postgres, s.IdleCPU.Seconds)), "—", "")
	} else {
		row("commit-to-client latency and memory per idle subscription", "**failed**: "+oneLine(r.SubsFail), "", "**FAILED**")
	}
	return b.String()
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func oneLine(s string) string {
	if s == "" {
		return "no result (see the log)"
	}
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// msf formats milliseconds with three significant digits or so.
func msf(v float64) string {
	switch {
	case v >= 1000:
		return thousands(int(math.Round(v)))
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func kb(bytes float64) string { return fmt.Sprintf("%.1f KB", bytes/1000) }

func mib(bytes int64) string { return fmt.Sprintf("%.1f", float64(bytes)/(1<<20)) }

// thousands writes n with comma separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
