package main

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// cpuSnapshot is the CPU time used so far, in clock ticks, by the machine
// (busy, all CPUs), the server process, this process and every process
// named "postgres".
type cpuSnapshot struct {
	at                 time.Time
	busy, server, self int64
	postgres           map[string]int64 // by pid: backends come and go
	ok                 bool
}

// takeCPUSnapshot reads /proc. pid is the server's.
func takeCPUSnapshot(pid int) cpuSnapshot {
	s := cpuSnapshot{at: time.Now(), postgres: map[string]int64{}}
	var okBusy, okServer bool
	s.busy, okBusy = machineBusy()
	s.server, okServer = procTicks(strconv.Itoa(pid))
	s.self, _ = procTicks("self")
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		if comm, _ := os.ReadFile("/proc/" + name + "/comm"); strings.TrimSpace(string(comm)) == "postgres" {
			if t, ok := procTicks(name); ok {
				s.postgres[name] = t
			}
		}
	}
	s.ok = okBusy && okServer
	return s
}

// machineBusy is the non-idle time of all CPUs, from /proc/stat.
func machineBusy() (int64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	// user nice system idle iowait irq softirq steal …
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return busy, true
}

// procTicks is utime+stime of /proc/<pid>/stat.
func procTicks(pid string) (int64, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may contain spaces: fields count
	// from the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	return u + st, err1 == nil && err2 == nil
}

// CPUUse is where the CPU went during the measured window, in cores (CPU
// seconds per second).
type CPUUse struct {
	Server   float64 `json:"server_cores"`
	Postgres float64 `json:"postgres_cores"`
	LoadGen  float64 `json:"loadgen_cores"`
	// Other is every other process: noise from outside the benchmark.
	Other float64 `json:"other_cores"`
	// ServerMSPerRequest is the server's CPU time per measured request.
	ServerMSPerRequest float64 `json:"server_cpu_ms_per_req"`
}

// cpuWindow takes snapshots at the start and end of the measured window.
type cpuWindow struct {
	pid        int
	mu         sync.Mutex
	start, end cpuSnapshot
}

func (w *cpuWindow) onWindow(start bool) {
	s := takeCPUSnapshot(w.pid)
	w.mu.Lock()
	defer w.mu.Unlock()
	if start {
		w.start = s
	} else {
		w.end = s
	}
}

// use returns the CPU use over the window, nil when it could not be read.
func (w *cpuWindow) use(requests int) *CPUUse {
	w.mu.Lock()
	defer w.mu.Unlock()
	secs := w.end.at.Sub(w.start.at).Seconds()
	if !w.start.ok || !w.end.ok || secs <= 0 {
		return nil
	}
	cores := func(ticks int64) float64 { return float64(ticks) / clockTicks / secs }
	// A backend that exited during the window is missed; one that started
	// counts from zero. (A pid reused in between would be miscounted.)
	var pg int64
	for pid, t := range w.end.postgres {
		pg += max(0, t-w.start.postgres[pid])
	}
	u := &CPUUse{
		Server:   cores(w.end.server - w.start.server),
		Postgres: cores(pg),
		LoadGen:  cores(w.end.self - w.start.self),
	}
	u.Other = max(0, cores(w.end.busy-w.start.busy)-u.Server-u.Postgres-u.LoadGen)
	if requests > 0 {
		u.ServerMSPerRequest = float64(w.end.server-w.start.server) / clockTicks * 1000 / float64(requests)
	}
	return u
}
