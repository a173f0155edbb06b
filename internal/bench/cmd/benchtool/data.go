package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shipgraph/shipgraph/internal/seed"
)

// seedBench tops the benchmark database up to N features of the uniform
// shape (seed.Options.Uniform). A database seeded with another shape (the
// demo's, as `shipgraph seed` writes it, or by an older bench.sh) is emptied
// first when -reset allows it, since its features would answer the query
// with fewer than 1,300 objects; without -reset it is only reported.
func seedBench(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("seed", flag.ContinueOnError)
	url := fl.String("url", "", "database URL (migrated)")
	n := fl.Int("features", 1000, "features the database should hold")
	reset := fl.Bool("reset", false, "empty the database first if its data has another shape")
	if err := fl.Parse(args); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, *url)
	if err != nil {
		return err
	}
	defer pool.Close()
	var f, t, b, d int
	err = pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM features), (SELECT count(*) FROM test_cases),
		(SELECT count(*) FROM builds), (SELECT count(*) FROM deployments)`).Scan(&f, &t, &b, &d)
	if err != nil {
		return err
	}
	if t != 10*f || b != 5*f || d != 10*f {
		if !*reset {
			fmt.Fprintf(os.Stderr, "benchtool: warning: the database does not have the benchmark's shape (%d features, %d test cases, %d builds, %d deployments)\n", f, t, b, d)
		} else {
			fmt.Fprintf(os.Stderr, "benchtool: emptying the database: %d features, %d test cases, %d builds, %d deployments is not the benchmark's shape\n", f, t, b, d)
			if _, err := pool.Exec(ctx, "TRUNCATE features, test_cases, builds, deployments, deployment_events"); err != nil {
				return err
			}
		}
	}
	start := time.Now()
	res, err := seed.Run(ctx, pool, seed.Options{Features: *n, Uniform: true})
	if err != nil {
		return err
	}
	fmt.Printf("seeded %d features, %d test cases, %d builds, %d deployments, %d events in %s (%d features already there)\n",
		res.Features, res.TestCases, res.Builds, res.Deployments, res.Events, time.Since(start).Round(time.Millisecond), res.Skipped)
	return nil
}

// postgresBackends returns the pids of the PostgreSQL backends connected to
// database dbname, found by their process titles ("postgres: [CLUSTER:]
// USER DBNAME HOST(PORT) STATE", the default update_process_title; Debian
// sets cluster_name, e.g. "15/main:"): reading /proc needs no connection of
// our own, which would itself be a backend.
func postgresBackends(dbname string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		f := strings.Fields(strings.TrimRight(string(cmd), "\x00"))
		if len(f) < 3 || f[0] != "postgres:" {
			continue
		}
		f = f[1:]
		if strings.HasSuffix(f[0], ":") {
			f = f[1:] // the cluster name
		}
		if len(f) >= 3 && f[1] == dbname && (strings.Contains(f[2], "(") || f[2] == "[local]") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// pinBackends pins every backend of dbname to cpu with taskset, so that in
// the pinned configuration the server has its core to itself: PostgreSQL
// shares the other core with the load generator. Only the benchmark
// database's backends move; the rest of the cluster (other people's tests
// on a shared machine) is left alone. It returns how many it pinned.
func pinBackends(dbname, cpu string) (int, error) {
	pids := postgresBackends(dbname)
	if len(pids) == 0 {
		return 0, fmt.Errorf("no PostgreSQL backend of database %s found", dbname)
	}
	n := 0
	var errs []error
	for _, pid := range pids {
		out, err := exec.Command("taskset", "-p", "-c", cpu, strconv.Itoa(pid)).CombinedOutput()
		if err != nil {
			// A backend may have exited meanwhile.
			if _, statErr := os.Stat("/proc/" + strconv.Itoa(pid)); statErr == nil {
				errs = append(errs, fmt.Errorf("taskset %d: %v: %s", pid, err, out))
			}
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
