// Package metricstest scrapes a /metrics endpoint the way Prometheus does
// (its text format, parsed by Prometheus' own parser) and reads values out
// of it, for tests that assert what the server reports.
package metricstest

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Scrape GETs url and parses the answer; any failure fails the test.
func Scrape(t testing.TB, url string) Families {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %d %s", url, res.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape %s: not the Prometheus text format: %v\n%s", url, err, body)
	}
	return fams
}

// Value returns the value of the series of name whose labels include
// labels, summed over all such series: a counter's or gauge's value, a
// histogram's sample count. 0 when there is none.
func (f Families) Value(name string, labels map[string]string) float64 {
	var v float64
	for _, m := range f.series(name, labels) {
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			v += m.Untyped.GetValue()
		}
	}
	return v
}

// Sum returns the sum of the observations of the histograms of name whose
// labels include labels.
func (f Families) Sum(name string, labels map[string]string) float64 {
	var v float64
	for _, m := range f.series(name, labels) {
		if m.Histogram != nil {
			v += m.Histogram.GetSampleSum()
		}
	}
	return v
}

// Has reports whether the family name exists.
func (f Families) Has(name string) bool { return f[name] != nil }

// LabelValues returns the distinct values of label among the series of
// name, sorted.
func (f Families) LabelValues(name, label string) []string {
	seen := map[string]bool{}
	for _, m := range f.series(name, nil) {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				seen[l.GetValue()] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func (f Families) series(name string, labels map[string]string) []*dto.Metric {
	fam := f[name]
	if fam == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range fam.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			if have[k] != v {
				match = false
				break
			}
		}
		if match {
			out = append(out, m)
		}
	}
	return out
}
