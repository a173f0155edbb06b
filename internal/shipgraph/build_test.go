package shipgraph_test

import (
	"strings"
	"testing"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

var buildStatuses = []shipgraph.BuildStatus{
	shipgraph.BuildQueued, shipgraph.BuildRunning, shipgraph.BuildSucceeded,
	shipgraph.BuildFailed, shipgraph.BuildCancelled,
}

func TestBuildStatusCanBecome(t *testing.T) {
	t.Parallel()
	// The legal moves: QUEUED→RUNNING→SUCCEEDED|FAILED, QUEUED|RUNNING→CANCELLED.
	legal := map[[2]shipgraph.BuildStatus]bool{
		{shipgraph.BuildQueued, shipgraph.BuildRunning}:    true,
		{shipgraph.BuildQueued, shipgraph.BuildCancelled}:  true,
		{shipgraph.BuildRunning, shipgraph.BuildSucceeded}: true,
		{shipgraph.BuildRunning, shipgraph.BuildFailed}:    true,
		{shipgraph.BuildRunning, shipgraph.BuildCancelled}: true,
	}
	for _, from := range buildStatuses {
		for _, to := range buildStatuses {
			want := legal[[2]shipgraph.BuildStatus{from, to}]
			verb := "forbidden"
			if want {
				verb = "allowed"
			}
			t.Run(string(from)+" to "+string(to)+" "+verb, func(t *testing.T) {
				t.Parallel()
				if got := from.CanBecome(to); got != want {
					t.Errorf("%s.CanBecome(%s) = %v, want %v", from, to, got, want)
				}
			})
		}
	}
	t.Run("unknown statuses never move", func(t *testing.T) {
		t.Parallel()
		for _, s := range buildStatuses {
			if shipgraph.BuildStatus("").CanBecome(s) || shipgraph.BuildStatus("BOGUS").CanBecome(s) {
				t.Errorf("an unknown status may become %s", s)
			}
			if s.CanBecome("") || s.CanBecome("BOGUS") {
				t.Errorf("%s may become an unknown status", s)
			}
		}
	})
	t.Run("finished statuses are exactly those with no way out", func(t *testing.T) {
		t.Parallel()
		for _, from := range buildStatuses {
			hasNext := false
			for _, to := range buildStatuses {
				hasNext = hasNext || from.CanBecome(to)
			}
			if from.Finished() == hasNext {
				t.Errorf("%s: Finished() = %v but has a next status = %v", from, from.Finished(), hasNext)
			}
		}
	})
}

func TestBuildStatusValid(t *testing.T) {
	t.Parallel()
	for _, s := range buildStatuses {
		if !s.Valid() {
			t.Errorf("%s.Valid() = false", s)
		}
	}
	for _, s := range []shipgraph.BuildStatus{"", "queued", "PENDING", "IN_PROGRESS"} {
		if s.Valid() {
			t.Errorf("%q.Valid() = true", s)
		}
	}
}

// branches lists branch names and whether they are accepted; shared by
// BuildCreate and BuildFilter.
var branches = []struct {
	name string
	in   string
	ok   bool
	want string // stored value when ok; in when empty
}{
	{name: "main accepted", in: "main", ok: true},
	{name: "slash and hyphen accepted", in: "feature/x-1", ok: true},
	{name: "dot in version accepted", in: "release/1.4", ok: true},
	{name: "underscore and upper case accepted", in: "Hotfix/JIRA_123", ok: true},
	{name: "single character accepted", in: "x", ok: true},
	{name: "255 characters accepted", in: strings.Repeat("b", 255), ok: true},
	{name: "surrounding white space trimmed", in: "  main\n", ok: true, want: "main"},
	{name: "empty rejected", in: ""},
	{name: "blank rejected", in: "   "},
	{name: "256 characters rejected", in: strings.Repeat("b", 256)},
	{name: "double dot rejected", in: "feature..x"},
	{name: "leading slash rejected", in: "/main"},
	{name: "trailing slash rejected", in: "feature/"},
	{name: "leading hyphen rejected", in: "-main"},
	{name: ".lock suffix rejected", in: "main.lock"},
	{name: "inner space rejected", in: "my branch"},
	{name: "tab inside rejected", in: "my\tbranch"},
	{name: "tilde rejected", in: "main~1"},
	{name: "caret rejected", in: "main^"},
	{name: "colon rejected", in: "a:b"},
	{name: "question mark rejected", in: "a?"},
	{name: "asterisk rejected", in: "feat*"},
	{name: "open bracket rejected", in: "a[1]"},
	{name: "backslash rejected", in: `a\b`},
	{name: "reflog syntax rejected", in: "main@{1}"},
	{name: "non-ASCII rejected", in: "fünf"},
	{name: "control character rejected", in: "main\x00"},
	{name: "HTML rejected", in: "<b>x</b>"},
}

func TestBuildCreateValidate(t *testing.T) {
	t.Parallel()
	const sha = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name  string
		sha   string
		field string
		want  string // normalized sha when valid
	}{
		{name: "sha of 6 hex digits rejected", sha: "abcdef", field: "commitSha"},
		{name: "sha of 7 hex digits accepted", sha: "abcdef0", want: "abcdef0"},
		{name: "sha of 40 hex digits accepted", sha: sha, want: sha},
		{name: "sha of 64 hex digits accepted", sha: strings.Repeat("a1", 32), want: strings.Repeat("a1", 32)},
		{name: "sha of 65 hex digits rejected", sha: strings.Repeat("a", 65), field: "commitSha"},
		{name: "sha upper case normalized to lower case", sha: "ABCDEF0123", want: "abcdef0123"},
		{name: "sha mixed case normalized to lower case", sha: "AbCdEf0", want: "abcdef0"},
		{name: "sha surrounding white space trimmed", sha: " \tabcdef0\n", want: "abcdef0"},
		{name: "sha with non-hex letter rejected", sha: "abcdefg", field: "commitSha"},
		{name: "sha with inner space rejected", sha: "abc def0", field: "commitSha"},
		{name: "sha with 0x prefix rejected", sha: "0xabcdef0", field: "commitSha"},
		{name: "sha with NUL byte rejected", sha: "abcdef0\x00", field: "commitSha"},
		{name: "sha with full-width digits rejected", sha: "１２３４５６７", field: "commitSha"},
		{name: "sha with Kelvin sign rejected", sha: "abcdef\u212a", field: "commitSha"},
		{name: "empty sha rejected", sha: "", field: "commitSha"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := shipgraph.BuildCreate{FeatureID: 1, CommitSHA: tt.sha, Branch: "main"}
			check(t, in.Validate(), tt.field)
			if tt.field == "" && in.CommitSHA != tt.want {
				t.Errorf("CommitSHA = %q, want %q", in.CommitSHA, tt.want)
			}
		})
	}
	for _, tt := range branches {
		t.Run("branch "+tt.name, func(t *testing.T) {
			t.Parallel()
			in := shipgraph.BuildCreate{FeatureID: 1, CommitSHA: sha, Branch: tt.in}
			err := in.Validate()
			if !tt.ok {
				requireInvalid(t, err, "branch")
				return
			}
			requireValid(t, err)
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if in.Branch != want {
				t.Errorf("Branch = %q, want %q", in.Branch, want)
			}
		})
	}
	t.Run("sha checked before branch", func(t *testing.T) {
		t.Parallel()
		in := shipgraph.BuildCreate{CommitSHA: "xyz", Branch: "/bad/"}
		requireInvalid(t, in.Validate(), "commitSha")
	})
}

// Names that `git check-ref-format --branch` refuses but the "conservative"
// rule still accepts. Each subtest is skipped, with the reason, while the gap
// remains, and starts enforcing the rule once validBranch is tightened.
func TestBuildBranchKnownGaps(t *testing.T) {
	t.Parallel()
	for _, b := range []string{
		"a//b",       // empty path component
		".hidden",    // component starting with a dot
		"feature/.x", // component starting with a dot
		"foo.",       // ends with a dot
		"a/.",        // component "." (and ends with a dot)
		"a.lock/b",   // component ending in .lock
		"HEAD",       // refused by git as a branch name
	} {
		t.Run(b+" should be rejected", func(t *testing.T) {
			t.Parallel()
			in := shipgraph.BuildCreate{FeatureID: 1, CommitSHA: "abcdef0", Branch: b}
			requireInvalid(t, in.Validate(), "branch")
		})
	}
}

func TestBuildStatusUpdateValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    shipgraph.BuildStatusUpdate
		field string
	}{
		{name: "empty status rejected", in: shipgraph.BuildStatusUpdate{ID: 1}, field: "status"},
		{name: "unknown status rejected", in: shipgraph.BuildStatusUpdate{ID: 1, Status: "DONE"}, field: "status"},
		{name: "lowercase status rejected", in: shipgraph.BuildStatusUpdate{ID: 1, Status: "running"}, field: "status"},
		{name: "expectedVersion nil accepted", in: shipgraph.BuildStatusUpdate{ID: 1, Status: shipgraph.BuildRunning}},
		{name: "expectedVersion 1 accepted", in: shipgraph.BuildStatusUpdate{ID: 1, Status: shipgraph.BuildRunning, ExpectedVersion: ptr(1)}},
		{name: "expectedVersion 0 rejected", in: shipgraph.BuildStatusUpdate{ID: 1, Status: shipgraph.BuildRunning, ExpectedVersion: ptr(0)}, field: "expectedVersion"},
		{name: "expectedVersion negative rejected", in: shipgraph.BuildStatusUpdate{ID: 1, Status: shipgraph.BuildRunning, ExpectedVersion: ptr(-1)}, field: "expectedVersion"},
	}
	for _, s := range buildStatuses {
		tests = append(tests, struct {
			name  string
			in    shipgraph.BuildStatusUpdate
			field string
		}{name: "status " + string(s) + " accepted", in: shipgraph.BuildStatusUpdate{ID: 1, Status: s}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.in
			check(t, in.Validate(), tt.field)
		})
	}
}

func TestBuildFilterValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    shipgraph.BuildFilter
		field string
		want  shipgraph.BuildFilter
	}{
		{name: "zero filter matches anything", in: shipgraph.BuildFilter{}},
		{name: "known status accepted", in: shipgraph.BuildFilter{Status: shipgraph.BuildFailed}, want: shipgraph.BuildFilter{Status: shipgraph.BuildFailed}},
		{name: "unknown status rejected", in: shipgraph.BuildFilter{Status: "failed"}, field: "filter.status"},
		{name: "status checked before branch", in: shipgraph.BuildFilter{Status: "X", Branch: ".."}, field: "filter.status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tt.in
			check(t, f.Validate(), tt.field)
			if tt.field == "" && f != tt.want {
				t.Errorf("after Validate: got %+v, want %+v", f, tt.want)
			}
		})
	}
	for _, tt := range branches {
		if tt.in == "" {
			continue // an empty branch filter means "any branch"
		}
		t.Run("branch "+tt.name, func(t *testing.T) {
			t.Parallel()
			f := shipgraph.BuildFilter{Branch: tt.in}
			err := f.Validate()
			if !tt.ok {
				requireInvalid(t, err, "filter.branch")
				return
			}
			requireValid(t, err)
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if f.Branch != want {
				t.Errorf("Branch = %q, want %q", f.Branch, want)
			}
		})
	}
}
