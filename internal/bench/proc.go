package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// What the benchmark commands (cmd/benchtool, cmd/livebench) share to
// start and watch the servers they measure.

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// DatabaseURL returns the postgres:// URL base with its database replaced
// by name (in the path, and in a dbname parameter when there is one).
func DatabaseURL(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("not a postgres:// URL")
	}
	u.Path, u.RawPath = "/"+name, ""
	if q := u.Query(); q.Has("dbname") {
		q.Set("dbname", name)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// WaitReady polls target until it answers 200, the timeout passes, or the
// process pid (when > 0) exits.
func WaitReady(ctx context.Context, target string, timeout time.Duration, pid int) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 3 * time.Second}
	last := "no answer"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		res, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(res.Body, 1000))
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("status %d: %s", res.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if pid > 0 && !Alive(pid) {
			return fmt.Errorf("the server (pid %d) exited before %s was ready", pid, target)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s (%s)", target, timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Alive reports whether process pid runs (a zombie, exited but not yet
// waited for by its parent, counts as gone).
func Alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc: trust kill
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// The freeport and dburl commands of both tools are one command each: the
// scripts call them the same way, so only the usage line names the tool.

// PrintFreePort prints FreePort's port (the freeport command).
func PrintFreePort() error {
	port, err := FreePort()
	if err == nil {
		fmt.Println(port)
	}
	return err
}

// PrintDatabaseURL prints DatabaseURL(URL, NAME) for args URL NAME (the
// dburl command of the tool named tool).
func PrintDatabaseURL(tool string, args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: %s dburl URL NAME", tool)
	}
	u, err := DatabaseURL(args[0], args[1])
	if err != nil {
		return fmt.Errorf("dburl: %w", err)
	}
	fmt.Println(u)
	return nil
}
