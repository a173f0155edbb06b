// Command baseline serves the benchmark's hand-written baseline (see
// internal/bench/baseline): POST /graphql answers the benchmark query with
// plain pgx and encoding/json, whatever the body says.
//
//	DATABASE_URL=postgres://… baseline --addr 127.0.0.1:8090
//
// BASELINE_DB_MAX_CONNS (default: SHIPGRAPH_DB_MAX_CONNS, else 10, the same
// as Shipgraph's default) sizes the pool. SIGINT/SIGTERM stop it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/shipgraph/shipgraph/internal/bench/baseline"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr); err != nil {
		log.Fatalf("baseline: %v", err)
	}
}

func run(ctx context.Context, addr string) error {
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	maxConns := int32(10)
	for _, k := range []string{"BASELINE_DB_MAX_CONNS", "SHIPGRAPH_DB_MAX_CONNS"} {
		if v := os.Getenv(k); v != "" {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n < 1 {
				return fmt.Errorf("%s=%q is not a positive number", k, v)
			}
			maxConns = int32(n)
			break
		}
	}
	s, err := baseline.Open(ctx, dbURL, maxConns)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
