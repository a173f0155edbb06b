package live

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux this runs on).
const clockTick = 10 * time.Millisecond

// VmRSS returns the resident set size of process pid, in bytes, from
// /proc/<pid>/status.
func VmRSS(pid int) (int64, error) {
	return procStatusKB(pid, "VmRSS:")
}

func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// procStat returns the command name and the user+system CPU time of pid.
func procStat(pid int) (comm string, cpu time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, err
	}
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return "", 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	comm = s[open+1 : close]
	// Fields after the command: state is field 3; utime, stime are 14, 15.
	f := strings.Fields(s[close+1:])
	if len(f) < 13 {
		return "", 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	return comm, time.Duration(ut+st) * clockTick, nil
}

// ProcessCPU returns the CPU time process pid has used.
func ProcessCPU(pid int) (time.Duration, error) {
	_, cpu, err := procStat(pid)
	return cpu, err
}

// PostgresCPU sums the CPU time of every process named postgres: the
// server's backends and its background workers. (A backend that exits
// between two readings takes its time with it; the servers under test pool
// their connections, so their backends live through a phase.)
func PostgresCPU() time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var total time.Duration
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		comm, cpu, err := procStat(pid)
		if err == nil && comm == "postgres" {
			total += cpu
		}
	}
	return total
}

// SelfCPU returns the CPU time this process has used.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BoxCPU returns the busy and total CPU time of the whole machine, from
// the first line of /proc/stat.
func BoxCPU() (busy, total time.Duration) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	var sum, idle int64
	for i, v := range fields[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest time is already in user
			break
		}
		sum += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return time.Duration(sum-idle) * clockTick, time.Duration(sum) * clockTick
}

// CPUSnapshot is the CPU time used so far by what runs the benchmark.
type CPUSnapshot struct {
	At       time.Time
	Server   time.Duration
	Postgres time.Duration
	Tool     time.Duration
	BoxBusy  time.Duration
	BoxTotal time.Duration
}

// TakeCPU reads the counters; server is the server's pid.
func TakeCPU(server int) CPUSnapshot {
	s := CPUSnapshot{At: time.Now(), Postgres: PostgresCPU(), Tool: SelfCPU()}
	s.Server, _ = ProcessCPU(server)
	s.BoxBusy, s.BoxTotal = BoxCPU()
	return s
}

// CPUUse is the CPU used between two snapshots, in core-seconds.
type CPUUse struct {
	Seconds  float64 `json:"seconds"`  // wall time between the snapshots
	Server   float64 `json:"server"`   // the server under test
	Postgres float64 `json:"postgres"` // every postgres process
	Tool     float64 `json:"tool"`     // this load generator
	Other    float64 `json:"other"`    // everything else on the machine
	Cores    float64 `json:"cores"`    // busy cores on average
}

// Since returns what was used from a to b.
func Since(a, b CPUSnapshot) CPUUse {
	u := CPUUse{
		Seconds:  b.At.Sub(a.At).Seconds(),
		Server:   (b.Server - a.Server).Seconds(),
		Postgres: (b.Postgres - a.Postgres).Seconds(),
		Tool:     (b.Tool - a.Tool).Seconds(),
	}
	busy := (b.BoxBusy - a.BoxBusy).Seconds()
	u.Other = max(0, busy-u.Server-u.Postgres-u.Tool)
	if u.Seconds > 0 {
		u.Cores = busy / u.Seconds
	}
	return u
}

// MemStats is what the server's profiler tells of its memory.
type MemStats struct {
	HeapAlloc  int64 `json:"heap_alloc"` // live objects, right after the collection
	HeapInuse  int64 `json:"heap_inuse"` // spans holding them
	StackInuse int64 `json:"stack_inuse"`
	Sys        int64 `json:"sys"`
	Goroutines int   `json:"goroutines"`
}

// ReadMemStats collects a garbage collection in the server through its
// profiler (pprofURL: http://host:port/debug/pprof), then reads the
// runtime's memory statistics and the goroutine count.
func ReadMemStats(ctx context.Context, pprofURL string) (MemStats, error) {
	var m MemStats
	b, err := httpGet(ctx, pprofURL+"/heap?gc=1&debug=1")
	if err != nil {
		return m, err
	}
	found := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		name, val, ok := strings.Cut(strings.TrimPrefix(line, "# "), " = ")
		if !ok {
			continue
		}
		// "Stack = inuse / sys"; the others are one number.
		inuse, _, _ := strings.Cut(val, " / ")
		n, err := strconv.ParseInt(strings.TrimSpace(inuse), 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "HeapAlloc":
			m.HeapAlloc, found = n, found+1
		case "HeapInuse":
			m.HeapInuse, found = n, found+1
		case "Stack":
			m.StackInuse, found = n, found+1
		case "Sys":
			m.Sys, found = n, found+1
		}
	}
	if found < 4 {
		return m, errors.New("the heap profile has no memory statistics")
	}
	b, err = httpGet(ctx, pprofURL+"/goroutine?debug=1")
	if err != nil {
		return m, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	total, ok := strings.CutPrefix(first, "goroutine profile: total ")
	if !ok {
		return m, fmt.Errorf("unexpected goroutine profile: %.100q", first)
	}
	m.Goroutines, err = strconv.Atoi(strings.TrimSpace(total))
	return m, err
}

func httpGet(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: status %d", u, res.StatusCode)
	}
	return b, err
}
