package metrics

import "sync"

// Labels bounds the values of a label: the first Max distinct values keep
// their own series, every later one is reported as Other. First come,
// first kept: the operations a server sees early (its real clients' after a
// deploy) are the ones worth telling apart, and a flood of invented names
// later costs one series, not one per name. A process restart resets the
// set.
type Labels struct {
	max  int
	mu   sync.RWMutex
	seen map[string]struct{}
}

// NewLabels returns a bound of max distinct values.
func NewLabels(max int) *Labels {
	return &Labels{max: max, seen: make(map[string]struct{}, max)}
}

// Get returns v while it is one of the first max distinct values, else
// Other.
func (l *Labels) Get(v string) string {
	l.mu.RLock()
	_, ok := l.seen[v]
	l.mu.RUnlock()
	if ok {
		return v
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[v]; ok {
		return v
	}
	if len(l.seen) >= l.max {
		return Other
	}
	l.seen[v] = struct{}{}
	return v
}
