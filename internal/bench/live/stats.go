package live

import (
	"slices"
	"time"

	"github.com/shipgraph/shipgraph/internal/bench/loadgen"
)

// Dist summarises a set of durations, in milliseconds.
type Dist struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
	Min  float64 `json:"min_ms"`
}

// Summarize sorts ds in place and summarises it; percentiles are
// loadgen.Percentile's (nearest rank), so that both benchmarks report the
// same statistic.
func Summarize(ds []time.Duration) Dist {
	if len(ds) == 0 {
		return Dist{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Dist{
		N:    len(ds),
		Mean: ms(sum / time.Duration(len(ds))),
		P50:  ms(loadgen.Percentile(ds, 50)),
		P90:  ms(loadgen.Percentile(ds, 90)),
		P99:  ms(loadgen.Percentile(ds, 99)),
		P999: ms(loadgen.Percentile(ds, 99.9)),
		Max:  ms(ds[len(ds)-1]),
		Min:  ms(ds[0]),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
