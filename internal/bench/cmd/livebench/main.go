// Command livebench drives the live benchmark (scripts/bench-live.sh, `make
// bench-live`) against servers the script starts:
//
//	livebench freeport                     print a free loopback port
//	livebench dburl URL NAME               URL with its database replaced by NAME
//	livebench wait URL TIMEOUT PID         wait for URL to answer 200 while PID runs
//	livebench deploys -url U -pid P …      deployments per second end to end
//	livebench subs -url U -pid P …         idle subscription memory, then live latency
//	livebench queue pause|resume           the deployment queue of DATABASE_URL
//	livebench table -results F -header H -out O
//	                                       print the markdown table, append it to O
//
// deploys and subs print one JSON line: their result, or {"kind", "error"}
// (and exit 1). The Authorization header comes from BENCH_AUTHORIZATION,
// the database from DATABASE_URL.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shipgraph/shipgraph/internal/bench"
	"github.com/shipgraph/shipgraph/internal/bench/live"
	"github.com/shipgraph/shipgraph/internal/bench/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fatalf("usage: livebench freeport|wait|deploys|subs|queue|table …")
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "freeport":
		err = bench.PrintFreePort()
	case "dburl":
		err = bench.PrintDatabaseURL("livebench", args)
	case "wait":
		err = wait(ctx, args)
	case "deploys":
		err = deploys(ctx, args)
	case "subs":
		err = subs(ctx, args)
	case "queue":
		if len(args) != 1 || (args[0] != "pause" && args[0] != "resume") {
			fatalf("usage: livebench queue pause|resume")
		}
		err = live.SetQueuePaused(ctx, os.Getenv("DATABASE_URL"), args[0] == "pause")
	case "table":
		err = table(args)
	default:
		fatalf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "livebench: "+format+"\n", a...)
	os.Exit(1)
}

func wait(ctx context.Context, args []string) error {
	if len(args) != 3 {
		return errors.New("usage: livebench wait URL TIMEOUT PID")
	}
	timeout, err := time.ParseDuration(args[1])
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(args[2])
	if err != nil {
		return err
	}
	return bench.WaitReady(ctx, args[0], timeout, pid)
}

// emit prints v as one JSON line, or the failure of kind.
func emit(kind string, v any, err error) error {
	if err != nil {
		b, _ := json.Marshal(live.Failure{Kind: kind, Error: err.Error()})
		fmt.Println(string(b))
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

func runTag() string { return strconv.FormatInt(time.Now().UnixMilli(), 36) }

func checkURL(u string) error {
	if u == "" || !loadgen.IsLoopback(u) {
		return fmt.Errorf("-url %q: the benchmark only talks to a loopback address", u)
	}
	return nil
}

func deploys(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("deploys", flag.ContinueOnError)
	cfg := live.DeploysConfig{Auth: os.Getenv("BENCH_AUTHORIZATION"), Log: os.Stderr, Run: runTag()}
	fl.StringVar(&cfg.URL, "url", "", "the server's /graphql endpoint")
	fl.IntVar(&cfg.N, "n", 1000, "deployments to create")
	fl.IntVar(&cfg.Concurrency, "c", 16, "concurrent clients creating them")
	fl.IntVar(&cfg.Builds, "builds", 100, "SUCCEEDED builds to spread them over")
	fl.IntVar(&cfg.Warmup, "warmup", 20, "deployments run before the measurement")
	fl.IntVar(&cfg.ServerPID, "pid", 0, "the server's pid, for its CPU time")
	fl.DurationVar(&cfg.Timeout, "timeout", 90*time.Second, "give up after")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if err := checkURL(cfg.URL); err != nil {
		return err
	}
	res, err := live.RunDeploys(ctx, cfg)
	return emit("deploys", res, err)
}

func subs(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("subs", flag.ContinueOnError)
	cfg := live.SubsConfig{Auth: os.Getenv("BENCH_AUTHORIZATION"), DatabaseURL: os.Getenv("DATABASE_URL"), Log: os.Stderr, Run: runTag()}
	fl.StringVar(&cfg.URL, "url", "", "the server's /graphql endpoint")
	fl.StringVar(&cfg.PprofURL, "pprof", "", "the server's profiler, http://host:port/debug/pprof (optional)")
	fl.IntVar(&cfg.ServerPID, "pid", 0, "the server's pid, for its RSS and CPU time")
	fl.IntVar(&cfg.Deployments, "deployments", 100, "deployments running at once")
	fl.IntVar(&cfg.Conns, "conns", 250, "WebSocket connections")
	fl.IntVar(&cfg.PerConn, "per-conn", 20, "subscriptions per connection")
	fl.IntVar(&cfg.Builds, "builds", 100, "SUCCEEDED builds to spread the deployments over")
	fl.DurationVar(&cfg.Idle, "idle", 3*time.Second, "how long the subscriptions sit idle before the memory is read")
	fl.DurationVar(&cfg.Timeout, "timeout", 60*time.Second, "give up opening, or waiting for the deployments, after")
	fl.StringVar(&cfg.ProfileDir, "profile-dir", "", "with -pprof: save the server's heap and goroutine profiles (idle) and CPU profile (live) here")
	cpuprofile := fl.String("cpuprofile", "", "write this tool's CPU profile here")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if err := checkURL(cfg.URL); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.PprofURL != "" {
		if err := checkURL(cfg.PprofURL); err != nil {
			return err
		}
	}
	if cfg.ServerPID <= 0 || cfg.DatabaseURL == "" {
		return errors.New("subs needs -pid and DATABASE_URL")
	}
	res, err := live.RunSubs(ctx, cfg)
	return emit("subs", res, err)
}

func table(args []string) error {
	fl := flag.NewFlagSet("table", flag.ContinueOnError)
	results := fl.String("results", "", "the phases' JSON lines")
	header := fl.String("header", "", "markdown to print before the table")
	out := fl.String("out", "", "append header and table to this file")
	if err := fl.Parse(args); err != nil {
		return err
	}
	r, err := live.ReadResults(*results)
	if err != nil {
		return err
	}
	var doc strings.Builder
	if *header != "" {
		h, err := os.ReadFile(*header)
		if err != nil {
			return err
		}
		doc.Write(h)
		doc.WriteString("\n")
	}
	doc.WriteString(live.Render(r))
	fmt.Print(doc.String())
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		prefix := ""
		if st, err := f.Stat(); err == nil && st.Size() > 0 {
			prefix = "\n"
		}
		if _, err := f.WriteString(prefix + doc.String()); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if !r.OK() {
		return errors.New("a phase failed or lost events (see the table)")
	}
	return nil
}
