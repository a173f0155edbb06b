package shipgraph_test

import (
	"strings"
	"testing"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

func TestTestCaseStatusValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    shipgraph.TestCaseStatus
		want bool
	}{
		{shipgraph.TestNotRun, true},
		{shipgraph.TestPassed, true},
		{shipgraph.TestFailed, true},
		{shipgraph.TestSkipped, true},
		{"", false},
		{"passed", false},
		{"RUNNING", false},
	}
	for _, tt := range tests {
		t.Run("status "+string(tt.s), func(t *testing.T) {
			t.Parallel()
			if got := tt.s.Valid(); got != tt.want {
				t.Errorf("%q.Valid() = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}

func TestTestCaseCreateValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    shipgraph.TestCaseCreate
		field string
		want  shipgraph.TestCaseCreate
	}{
		{
			name: "title only accepted",
			in:   shipgraph.TestCaseCreate{FeatureID: 1, Title: "Login works"},
			want: shipgraph.TestCaseCreate{FeatureID: 1, Title: "Login works"},
		},
		{
			name: "all fields trimmed in place, inner line breaks kept",
			in: shipgraph.TestCaseCreate{
				FeatureID: 1, Title: "\t Login works \n",
				Steps: "\n1. Open /login\r\n2. Submit\t\n", ExpectedResult: "  Dashboard shown.\n",
			},
			want: shipgraph.TestCaseCreate{
				FeatureID: 1, Title: "Login works",
				Steps: "1. Open /login\r\n2. Submit", ExpectedResult: "Dashboard shown.",
			},
		},
		{
			name: "steps at 10000 characters accepted",
			in:   shipgraph.TestCaseCreate{Title: "Long", Steps: strings.Repeat("日", 10000)},
			want: shipgraph.TestCaseCreate{Title: "Long", Steps: strings.Repeat("日", 10000)},
		},
		{name: "steps at 10001 characters rejected", in: shipgraph.TestCaseCreate{Title: "Long", Steps: strings.Repeat("a", 10001)}, field: "steps"},
		{name: "expectedResult at 2001 characters rejected", in: shipgraph.TestCaseCreate{Title: "Long", ExpectedResult: strings.Repeat("é", 2001)}, field: "expectedResult"},
		{name: "title blank rejected", in: shipgraph.TestCaseCreate{Title: "  "}, field: "title"},
		{name: "title one character rejected", in: shipgraph.TestCaseCreate{Title: "é"}, field: "title"},
		{name: "title with newline rejected", in: shipgraph.TestCaseCreate{Title: "Login\nworks"}, field: "title"},
		{name: "title checked before steps", in: shipgraph.TestCaseCreate{Title: "", Steps: "\x00"}, field: "title"},
		{name: "steps checked before expectedResult", in: shipgraph.TestCaseCreate{Title: "ok", Steps: "\x00", ExpectedResult: "\x00"}, field: "steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.in
			check(t, in.Validate(), tt.field)
			if tt.field == "" && in != tt.want {
				t.Errorf("after Validate:\n got %+v\nwant %+v", in, tt.want)
			}
		})
	}
}

func TestTestCaseUpdateValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    shipgraph.TestCaseUpdate
		field string
	}{
		{name: "no fields set accepted", in: shipgraph.TestCaseUpdate{ID: 1}},
		{name: "title set accepted", in: shipgraph.TestCaseUpdate{Title: ptr("Login works")}},
		{name: "title blank rejected", in: shipgraph.TestCaseUpdate{Title: ptr("\t")}, field: "title"},
		{name: "title with tab inside rejected", in: shipgraph.TestCaseUpdate{Title: ptr("Login\tworks")}, field: "title"},
		{name: "steps empty accepted (clears them)", in: shipgraph.TestCaseUpdate{Steps: ptr("")}},
		{name: "steps with bidi override rejected", in: shipgraph.TestCaseUpdate{Steps: ptr("abc\u202edef")}, field: "steps"},
		{name: "expectedResult empty accepted", in: shipgraph.TestCaseUpdate{ExpectedResult: ptr("")}},
		{name: "expectedResult with ESC rejected", in: shipgraph.TestCaseUpdate{ExpectedResult: ptr("ok\x1b[0m")}, field: "expectedResult"},
		{name: "status PASSED accepted", in: shipgraph.TestCaseUpdate{Status: ptr(shipgraph.TestPassed)}},
		{name: "status empty rejected", in: shipgraph.TestCaseUpdate{Status: ptr(shipgraph.TestCaseStatus(""))}, field: "status"},
		{name: "status unknown rejected", in: shipgraph.TestCaseUpdate{Status: ptr(shipgraph.TestCaseStatus("BROKEN"))}, field: "status"},
		{name: "expectedVersion 1 accepted", in: shipgraph.TestCaseUpdate{ExpectedVersion: ptr(1)}},
		{name: "expectedVersion 0 rejected", in: shipgraph.TestCaseUpdate{ExpectedVersion: ptr(0)}, field: "expectedVersion"},
		{name: "expectedVersion negative rejected", in: shipgraph.TestCaseUpdate{ExpectedVersion: ptr(-1)}, field: "expectedVersion"},
		{name: "title checked before steps", in: shipgraph.TestCaseUpdate{Title: ptr("x"), Steps: ptr("\x00")}, field: "title"},
		{name: "text checked before status", in: shipgraph.TestCaseUpdate{ExpectedResult: ptr("\x00"), Status: ptr(shipgraph.TestCaseStatus("X"))}, field: "expectedResult"},
		{name: "status checked before expectedVersion", in: shipgraph.TestCaseUpdate{Status: ptr(shipgraph.TestCaseStatus("X")), ExpectedVersion: ptr(0)}, field: "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.in
			check(t, in.Validate(), tt.field)
		})
	}

	t.Run("set fields trimmed in place", func(t *testing.T) {
		t.Parallel()
		title, steps, result := " Login works ", "\t1. Open\n2. Submit\n", "\n Dashboard \n"
		in := shipgraph.TestCaseUpdate{ID: 1, Title: &title, Steps: &steps, ExpectedResult: &result}
		requireValid(t, in.Validate())
		if in.Title != &title || in.Steps != &steps || in.ExpectedResult != &result {
			t.Fatal("Validate replaced the pointers instead of trimming in place")
		}
		if title != "Login works" || steps != "1. Open\n2. Submit" || result != "Dashboard" {
			t.Errorf("got %q, %q, %q; want trimmed", title, steps, result)
		}
	})
	t.Run("nil fields stay nil", func(t *testing.T) {
		t.Parallel()
		in := shipgraph.TestCaseUpdate{ID: 1}
		requireValid(t, in.Validate())
		if in != (shipgraph.TestCaseUpdate{ID: 1}) {
			t.Errorf("Validate changed unset fields: %+v", in)
		}
	})
}

func TestTestCaseQueryOrder(t *testing.T) {
	t.Parallel()
	if got := (shipgraph.TestCaseQuery{}).Order(); got != (shipgraph.Order{Field: shipgraph.OrderCreatedAt}) {
		t.Errorf("Order() = %+v, want CREATED_AT ascending", got)
	}
}
