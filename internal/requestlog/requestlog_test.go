package requestlog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"testing"
)

func TestRecordLine(t *testing.T) {
	t.Parallel()
	line := func(r *Record) map[string]any {
		t.Helper()
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).LogAttrs(context.Background(), slog.LevelInfo, "request", r.Attrs()...)
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	t.Run("codes are listed once each, in the order first seen, errors all counted", func(t *testing.T) {
		t.Parallel()
		_, r := New(context.Background(), "id")
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() { r.AddErrors("NOT_FOUND", "NOT_FOUND") })
		}
		wg.Wait()
		r.AddErrors("FORBIDDEN")
		if s := r.Summary(); !slices.Equal(s.Codes, []string{"NOT_FOUND", "FORBIDDEN"}) || s.Errors != 21 {
			t.Errorf("codes %v, errors %d", s.Codes, s.Errors)
		}
		r.SetOperation("Overview", "query")
		r.SetUser("alice")
		m := line(r)
		if m["operation"] != "Overview" || m["operation_type"] != "query" || m["user"] != "alice" {
			t.Errorf("line %v", m)
		}
	})

	t.Run("a request without an operation or a caller has no such fields, and an empty list of codes", func(t *testing.T) {
		t.Parallel()
		_, r := New(context.Background(), "id")
		m := line(r)
		for _, k := range []string{"operation", "operation_type", "user"} {
			if _, ok := m[k]; ok {
				t.Errorf("%s present: %v", k, m)
			}
		}
		if codes, ok := m["error_codes"].([]any); !ok || len(codes) != 0 {
			t.Errorf("error_codes %v", m["error_codes"])
		}
	})

	t.Run("outside a request the record is nil and ignores everything", func(t *testing.T) {
		t.Parallel()
		r := From(context.Background())
		r.SetOperation("x", "query")
		r.SetUser("u")
		r.AddErrors("X")
		r.SetRoute("/x")
		if r.Attrs() != nil || r.Route() != "" || r.Summary().Errors != 0 {
			t.Error("a nil record reported something")
		}
	})
}
