package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Server is a redis-server process of one test, for tests that stop,
// kill and restart Redis under a client.
type Server struct {
	t    testing.TB
	bin  string
	Port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartServer runs a redis-server of the test's own on a free port,
// without persistence, and kills it when the test ends. The test is
// skipped when redis-server is not installed.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed: this test runs a Redis of its own")
	}
	s := &Server{t: t, bin: bin, Port: freePort(t), dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Kill)
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.Port) }

// Start (re)starts the server on its port and waits until it answers. A
// port just released may be busy for a moment: it retries until a
// deadline.
func (s *Server) Start() {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", s.dir, "--loglevel", "warning")
		if err := cmd.Start(); err != nil {
			s.t.Fatalf("redis-server: %v", err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		s.cmd, s.done = cmd, done
		if s.answers(deadline) {
			return
		}
		s.Kill()
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server did not answer on port %d", s.Port)
		}
		time.Sleep(100 * time.Millisecond) // it exited: the port was not free yet
	}
}

func (s *Server) answers(deadline time.Time) bool {
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.Port), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return true
		}
		select {
		case <-s.done:
			return false
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies only once resumed
	s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

// Pause stops the process (SIGSTOP): connections stay open and nothing
// answers, like a Redis that hangs.
func (s *Server) Pause() { s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused process.
func (s *Server) Resume() { s.cmd.Process.Signal(syscall.SIGCONT) }

// Client returns a plain client of the server, closed when the test ends.
func (s *Server) Client() *goredis.Client {
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.Port)})
	s.t.Cleanup(func() { rdb.Close() })
	return rdb
}
