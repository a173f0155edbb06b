// Command benchtool is the Go half of scripts/bench.sh (`make bench`): the
// script starts and pins the processes, benchtool talks to them.
//
//	benchtool freeport                      print a free loopback TCP port
//	benchtool cpus                          print the CPUs this process may run on
//	benchtool dburl URL NAME                print URL with its database replaced by NAME
//	benchtool wait URL [TIMEOUT [PID]]      wait until GET URL answers 200 (default 60s)
//	                                        or process PID (the server) exits
//	benchtool check URL OUT [REQUEST-ID]    POST the benchmark query, verify the answer, save it
//	benchtool compare A B                   compare two saved answers deeply (exit 1 if they differ)
//	benchtool seed -url URL [-features N] [-reset]
//	                                        top the database up to N features of the benchmark's shape
//	benchtool load [flags]                  run the load generator; one JSON record on stdout
//	benchtool table [flags]                 render the results as markdown
//
// Run "benchtool load -h" or "benchtool table -h" for their flags. When
// BENCH_AUTHORIZATION is set, check and load send it as the Authorization
// header (e.g. "Bearer <token>") to every server.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shipgraph/shipgraph/internal/bench"
	"github.com/shipgraph/shipgraph/internal/bench/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fatalf("usage: benchtool freeport|dburl|wait|check|compare|load|table …")
	}
	args := os.Args[2:]
	var err error
	switch os.Args[1] {
	case "freeport":
		err = bench.PrintFreePort()
	case "cpus":
		err = cpus()
	case "dburl":
		err = bench.PrintDatabaseURL("benchtool", args)
	case "wait":
		err = wait(ctx, args)
	case "check":
		err = check(ctx, args)
	case "compare":
		err = compare(args)
	case "load":
		err = load(ctx, args)
	case "table":
		err = table(args)
	case "seed":
		err = seedBench(ctx, args)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "benchtool: "+format+"\n", a...)
	os.Exit(1)
}

// cpus prints the CPUs the process may run on (its affinity, inherited by
// what the script starts), space separated, from /proc/self/status.
func cpus() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "Cpus_allowed_list:")
		if !ok {
			continue
		}
		var out []string
		for part := range strings.SplitSeq(strings.TrimSpace(rest), ",") {
			lo, hi, isRange := strings.Cut(part, "-")
			a, err1 := strconv.Atoi(lo)
			z := a
			var err2 error
			if isRange {
				z, err2 = strconv.Atoi(hi)
			}
			if err1 != nil || err2 != nil {
				return fmt.Errorf("cannot parse Cpus_allowed_list %q", rest)
			}
			for c := a; c <= z; c++ {
				out = append(out, strconv.Itoa(c))
			}
		}
		fmt.Println(strings.Join(out, " "))
		return nil
	}
	return errors.New("no Cpus_allowed_list in /proc/self/status")
}

func wait(ctx context.Context, args []string) error {
	if len(args) < 1 || len(args) > 3 {
		return errors.New("usage: benchtool wait URL [TIMEOUT [PID]]")
	}
	timeout := 60 * time.Second
	if len(args) >= 2 {
		var err error
		if timeout, err = time.ParseDuration(args[1]); err != nil {
			return err
		}
	}
	pid := 0
	if len(args) == 3 {
		var err error
		if pid, err = strconv.Atoi(args[2]); err != nil || pid <= 0 {
			return fmt.Errorf("wait: bad pid %q", args[2])
		}
	}
	return bench.WaitReady(ctx, args[0], timeout, pid)
}

// extraHeader is what every benchmark request carries besides the body.
func extraHeader() http.Header {
	h := http.Header{}
	if v := os.Getenv("BENCH_AUTHORIZATION"); v != "" {
		h.Set("Authorization", v)
	}
	return h
}

// post sends the benchmark query once.
func post(ctx context.Context, target, requestID string) ([]byte, error) {
	if !loadgen.IsLoopback(target) {
		return nil, fmt.Errorf("%s is not a loopback URL", target)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(bench.RequestBody()))
	if err != nil {
		return nil, err
	}
	for k, v := range extraHeader() {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	if requestID != "" {
		req.Header.Set("X-Request-ID", requestID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %.500s", resp.StatusCode, body)
	}
	return body, nil
}

func check(ctx context.Context, args []string) error {
	if len(args) < 2 || len(args) > 3 {
		return errors.New("usage: benchtool check URL OUT [REQUEST-ID]")
	}
	id := ""
	if len(args) == 3 {
		id = args[2]
	}
	body, err := post(ctx, args[0], id)
	if err != nil {
		return fmt.Errorf("check %s: %w", args[0], err)
	}
	s, err := bench.Verify(body)
	if err != nil {
		return fmt.Errorf("check %s: %w", args[0], err)
	}
	// Answers must be stable: the load generator expects these very bytes.
	again, err := post(ctx, args[0], "")
	if err != nil {
		return fmt.Errorf("check %s: %w", args[0], err)
	}
	if !bytes.Equal(again, body) {
		return fmt.Errorf("check %s: two answers to the same query differ (%v)", args[0], bench.Compare(body, again))
	}
	if err := os.WriteFile(args[1], body, 0o644); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(s)
}

func compare(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: benchtool compare A B")
	}
	a, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	b, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	if err := bench.Compare(a, b); err != nil {
		return fmt.Errorf("%s vs %s: %w", args[0], args[1], err)
	}
	return nil
}

// Record is one measured point: a Result plus what identifies it and what
// was read from the server around it.
type Record struct {
	Config string `json:"config"`
	Server string `json:"server"`
	loadgen.Result
	// PeakRSSKB is the server's VmHWM after the run.
	PeakRSSKB int64 `json:"peak_rss_kb,omitempty"`
	// Statements per request: mean, min and max, over the requests of the
	// measured window (from the server's access log) or of the whole run
	// (from the baseline's counters).
	Stmts *StmtStats `json:"stmts,omitempty"`
	// CPU is where the CPU went during the measured window (with -pid).
	CPU *CPUUse `json:"cpu,omitempty"`
	// Alive is false when the server (-pid) was gone after the run.
	Alive    bool   `json:"server_alive"`
	StmtsErr string `json:"stmts_error,omitempty"`
}

// StmtStats summarizes statements per request.
type StmtStats struct {
	Mean     float64 `json:"mean"`
	Min      int64   `json:"min"`
	Max      int64   `json:"max"`
	Requests int     `json:"requests"`
	Source   string  `json:"source"`
}

func load(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("load", flag.ContinueOnError)
	target := fl.String("url", "", "GraphQL endpoint (loopback)")
	c := fl.Int("c", 1, "concurrency: workers and keep-alive connections")
	warmup := fl.Duration("warmup", 2*time.Second, "warm-up before the measured window")
	duration := fl.Duration("duration", 10*time.Second, "measured window")
	maxReq := fl.Int("max-requests", 5_000_000, "bound on the requests measured")
	expect := fl.String("expect", "", "file holding the exact body every response must have")
	tag := fl.String("tag", "", "X-Request-ID prefix (TAG-m-… for measured requests)")
	config := fl.String("config", "", "label: configuration")
	server := fl.String("server", "", "label: server")
	pid := fl.Int("pid", 0, "server process whose peak RSS (VmHWM) to read after the run")
	accessLog := fl.String("access-log", "", "server log (JSON lines) with sql_statements per request; needs -tag")
	statsURL := fl.String("stats-url", "", "URL of the baseline's /debug/stats, read before and after")
	pinCPU := fl.String("pin-postgres", "", "pin the PostgreSQL backends of -database-url to this CPU when the measured window starts")
	database := fl.String("database-url", "", "the benchmark database (for -pin-postgres)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	cfg := loadgen.Config{
		URL: *target, Body: bench.RequestBody(), Header: extraHeader(), Concurrency: *c,
		Warmup: *warmup, Duration: *duration, MaxRequests: *maxReq, Tag: *tag,
	}
	if *expect != "" {
		b, err := os.ReadFile(*expect)
		if err != nil {
			return err
		}
		cfg.Expect = b
	}
	var cpu *cpuWindow
	if *pid > 0 {
		cpu = &cpuWindow{pid: *pid}
		cfg.OnWindow = cpu.onWindow
	}
	if *pinCPU != "" {
		pc, err := pgx.ParseConfig(*database)
		if err != nil {
			return fmt.Errorf("-database-url: %w", err)
		}
		dbname := pc.Database
		// After the warm-up, the server's pool has opened its
		// connections: pin their backends before the window starts
		// counting.
		onWindow := cfg.OnWindow
		cfg.OnWindow = func(start bool) {
			if start {
				n, err := pinBackends(dbname, *pinCPU)
				if err != nil {
					fmt.Fprintf(os.Stderr, "benchtool: pin PostgreSQL: %v\n", err)
				}
				fmt.Fprintf(os.Stderr, "  pinned %d PostgreSQL backends of %s to CPU %s\n", n, dbname, *pinCPU)
			}
			if onWindow != nil {
				onWindow(start)
			}
		}
	}
	var before statsSnapshot
	if *statsURL != "" {
		var err error
		if before, err = readStats(ctx, *statsURL); err != nil {
			return err
		}
	}
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	rec := Record{Config: *config, Server: *server, Result: res, Alive: true}
	if cpu != nil {
		rec.CPU = cpu.use(res.Requests)
	}
	if *pid > 0 {
		rec.Alive = bench.Alive(*pid)
		if rec.PeakRSSKB, err = vmHWM(*pid); err != nil {
			fmt.Fprintf(os.Stderr, "benchtool: peak RSS: %v\n", err)
		}
	}
	switch {
	case *accessLog != "" && *tag != "":
		rec.Stmts, err = stmtsFromLog(*accessLog, *tag+"-m-")
	case *statsURL != "":
		var after statsSnapshot
		if after, err = readStats(ctx, *statsURL); err == nil && after.Requests > before.Requests {
			n := after.Requests - before.Requests
			mean := float64(after.Statements-before.Statements) / float64(n)
			rec.Stmts = &StmtStats{Mean: mean, Min: -1, Max: -1, Requests: int(n), Source: "counters"}
		}
	}
	if err != nil {
		rec.StmtsErr = err.Error()
	}
	cpuNote := ""
	if u := rec.CPU; u != nil {
		cpuNote = fmt.Sprintf("  cpu: server %.2f ms/req (%.2f cores), postgres %.2f, loadgen %.2f, other %.2f cores",
			u.ServerMSPerRequest, u.Server, u.Postgres, u.LoadGen, u.Other)
	}
	fmt.Fprintf(os.Stderr, "  %-6s %-9s C=%-3d %8.1f req/s  p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  errors %d  conns %d%s\n",
		*config, *server, res.Concurrency, res.RPS, res.P50MS, res.P90MS, res.P99MS, res.Errors, res.Conns, cpuNote)
	for _, s := range res.ErrorSamples {
		fmt.Fprintf(os.Stderr, "    error: %s\n", s)
	}
	return json.NewEncoder(os.Stdout).Encode(rec)
}

type statsSnapshot struct {
	Requests   int64 `json:"requests"`
	Statements int64 `json:"statements"`
}

func readStats(ctx context.Context, u string) (statsSnapshot, error) {
	var s statsSnapshot
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("%s: status %d", u, resp.StatusCode)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// vmHWM reads a process's peak resident set size, in kB.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("no VmHWM in /proc/" + strconv.Itoa(pid) + "/status")
}

// stmtsFromLog summarizes sql_statements over the "request" lines of a JSON
// log whose request_id starts with prefix.
func stmtsFromLog(path, prefix string) (*StmtStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := &StmtStats{Min: -1, Source: "access log"}
	var sum int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"request_id":"`+prefix)) {
			continue
		}
		var l struct {
			Msg           string `json:"msg"`
			RequestID     string `json:"request_id"`
			SQLStatements *int64 `json:"sql_statements"`
		}
		if json.Unmarshal(line, &l) != nil || l.Msg != "request" || l.SQLStatements == nil || !strings.HasPrefix(l.RequestID, prefix) {
			continue
		}
		n := *l.SQLStatements
		sum += n
		s.Requests++
		if s.Min < 0 || n < s.Min {
			s.Min = n
		}
		s.Max = max(s.Max, n)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if s.Requests == 0 {
		return nil, fmt.Errorf("no request lines with request_id %s… and sql_statements in %s (is SHIPGRAPH_LOG_LEVEL info?)", prefix, path)
	}
	s.Mean = float64(sum) / float64(s.Requests)
	return s, nil
}

// ------------------------------------------------------------ table ----

// goBench is one line of `go test -bench -benchmem` output.
type goBench struct {
	NsPerOp, BytesPerOp, AllocsPerOp float64
	// CPUNsPerOp is the process's CPU time per request (benchtest's
	// cpu-ns/op), 0 when not reported.
	CPUNsPerOp float64
}

var (
	benchLine   = regexp.MustCompile(`^(Benchmark\w+?)(?:-\d+)?\s+\d+\s`)
	benchMetric = regexp.MustCompile(`([\d.]+) (ns/op|B/op|allocs/op|cpu-ns/op)(\s|$)`)
)

// benchServers maps Go benchmarks to the server they measure.
var benchServers = map[string]string{
	"BenchmarkNestedQuery":         "shipgraph",
	"BenchmarkBaselineNestedQuery": "baseline",
}

func readGoBench(paths []string) (map[string]goBench, error) {
	out := map[string]goBench{}
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			m := benchLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			server, ok := benchServers[m[1]]
			if !ok {
				continue
			}
			var g goBench
			found := 0
			for _, mm := range benchMetric.FindAllStringSubmatch(line, -1) {
				v, err := strconv.ParseFloat(mm[1], 64)
				if err != nil {
					continue
				}
				switch mm[2] {
				case "ns/op":
					g.NsPerOp = v
					found++
				case "B/op":
					g.BytesPerOp = v
					found++
				case "allocs/op":
					g.AllocsPerOp = v
					found++
				case "cpu-ns/op":
					g.CPUNsPerOp = v
				}
			}
			if found == 3 {
				out[server] = g
			}
		}
		f.Close()
	}
	return out, nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func table(args []string) error {
	fl := flag.NewFlagSet("table", flag.ContinueOnError)
	results := fl.String("results", "", "JSON lines written by benchtool load")
	var gotest multiFlag
	fl.Var(&gotest, "gotest", "go test -bench -benchmem output (repeatable; missing files are skipped)")
	header := fl.String("header", "", "markdown to put before the table")
	out := fl.String("out", "", "also write the document to this file")
	if err := fl.Parse(args); err != nil {
		return err
	}
	recs, err := readRecords(*results)
	if err != nil {
		return err
	}
	benches, err := readGoBench(gotest)
	if err != nil {
		return err
	}
	var doc bytes.Buffer
	if *header != "" {
		h, err := os.ReadFile(*header)
		if err != nil {
			return err
		}
		doc.Write(bytes.TrimRight(h, "\n"))
		doc.WriteString("\n\n")
	}
	failed := renderTable(&doc, recs, benches)
	os.Stdout.Write(doc.Bytes())
	if *out != "" {
		if err := os.WriteFile(*out, doc.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if failed != "" {
		return errors.New(failed)
	}
	return nil
}

func readRecords(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []Record
	dec := json.NewDecoder(f)
	for {
		var r Record
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// noiseCores is the CPU use by processes outside the benchmark above which
// a point is flagged as noisy.
const noiseCores = 0.25

var configNames = map[string]string{
	"pinned": "pinned, 1 core",
	"box":    "whole box",
}

// renderTable writes the results table and returns a description of what
// failed ("" when every request succeeded).
func renderTable(w *bytes.Buffer, recs []Record, benches map[string]goBench) string {
	baseRPS := map[string]float64{}
	for _, r := range recs {
		if r.Server == "baseline" {
			baseRPS[r.Config+"/"+strconv.Itoa(r.Concurrency)] = r.RPS
		}
	}
	fmt.Fprintln(w, "| configuration | C | server | req/s | p50 ms | p90 ms | p99 ms | errors | vs baseline | SQL stmts/req | peak RSS MiB | allocs/op | B/op | server CPU ms/req | other load (cores) |")
	fmt.Fprintln(w, "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	noisy := false
	var failures []string
	for _, r := range recs {
		ratio := "—"
		if r.Server == "baseline" {
			ratio = "1 (ref)"
		} else if b := baseRPS[r.Config+"/"+strconv.Itoa(r.Concurrency)]; b > 0 {
			ratio = fmt.Sprintf("%.2f×", r.RPS/b)
		}
		stmts := "?"
		if s := r.Stmts; s != nil {
			stmts = trimFloat(s.Mean)
			if s.Min >= 0 && s.Min != s.Max {
				stmts += fmt.Sprintf(" (%d–%d)", s.Min, s.Max)
			}
		}
		rss := "?"
		if r.PeakRSSKB > 0 {
			rss = fmt.Sprintf("%.1f", float64(r.PeakRSSKB)/1024)
		}
		allocs, bytesOp := "n/a", "n/a"
		if g, ok := benches[r.Server]; ok {
			allocs = fmt.Sprintf("%.0f", g.AllocsPerOp)
			bytesOp = humanBytes(g.BytesPerOp)
		}
		cpuMS, other := "?", "?"
		if u := r.CPU; u != nil {
			cpuMS = fmt.Sprintf("%.2f", u.ServerMSPerRequest)
			other = fmt.Sprintf("%.2f", u.Other)
			if u.Other >= noiseCores {
				other += " ⚠"
				noisy = true
			}
		}
		name := configNames[r.Config]
		if name == "" {
			name = r.Config
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.1f | %.2f | %.2f | %.2f | %d | %s | %s | %s | %s | %s | %s | %s |\n",
			name, r.Concurrency, r.Server, r.RPS, r.P50MS, r.P90MS, r.P99MS, r.Errors, ratio, stmts, rss, allocs, bytesOp, cpuMS, other)
		if r.Errors > 0 {
			failures = append(failures, fmt.Sprintf("%s/%s/C=%d: %d failed requests", r.Config, r.Server, r.Concurrency, r.Errors))
		}
		if r.Requests == 0 {
			failures = append(failures, fmt.Sprintf("%s/%s/C=%d: no request completed in the measured window", r.Config, r.Server, r.Concurrency))
		}
		if !r.Alive {
			failures = append(failures, fmt.Sprintf("%s/%s/C=%d: the server was not running at the end of the run", r.Config, r.Server, r.Concurrency))
		}
	}
	fmt.Fprintln(w)
	if noisy {
		fmt.Fprintf(w, "⚠ other processes used %.2f cores or more during this point's measured window: its req/s and latencies are noisy (server CPU ms/req much less so).  \n", noiseCores)
	}
	for _, server := range []string{"shipgraph", "baseline"} {
		if g, ok := benches[server]; ok {
			cpu := ""
			if g.CPUNsPerOp > 0 {
				cpu = fmt.Sprintf(", %.2f CPU ms/op", g.CPUNsPerOp/1e6)
			}
			fmt.Fprintf(w, "allocs/op and B/op (in-process Go benchmark, whole request, server side only): %s %.0f allocs, %s, %.2f ms/op%s.  \n",
				server, g.AllocsPerOp, humanBytes(g.BytesPerOp), g.NsPerOp/1e6, cpu)
		}
	}
	if _, ok := benches["shipgraph"]; !ok {
		fmt.Fprintln(w, "allocs/op for shipgraph: n/a (no BenchmarkNestedQuery result from package main).  ")
	}
	if len(failures) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "**FAILED:** "+strings.Join(failures, "; "))
		return strings.Join(failures, "; ")
	}
	return ""
}

func trimFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}

func humanBytes(b float64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.0f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
