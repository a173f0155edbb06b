package shipgraph_test

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

var kinds = []shipgraph.Kind{
	shipgraph.KindFeature, shipgraph.KindTestCase, shipgraph.KindBuild,
	shipgraph.KindDeployment, shipgraph.KindDeploymentEvent,
}

func rawID(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestGlobalIDRoundTrip(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		for _, id := range []int64{1, 42, 1 << 40, math.MaxInt64} {
			t.Run(string(k)+" round trips", func(t *testing.T) {
				t.Parallel()
				s := shipgraph.EncodeID(k, id)
				if strings.ContainsAny(s, "+/=:") {
					t.Errorf("EncodeID = %q, want URL-safe unpadded base64", s)
				}
				gotKind, gotID, err := shipgraph.DecodeAnyID("id", s)
				requireValid(t, err)
				if gotKind != k || gotID != id {
					t.Errorf("DecodeAnyID = %s %d, want %s %d", gotKind, gotID, k, id)
				}
				gotID, err = shipgraph.DecodeID("id", s, k)
				requireValid(t, err)
				if gotID != id {
					t.Errorf("DecodeID = %d, want %d", gotID, id)
				}
			})
		}
	}
}

func TestGlobalIDDistinctPerKind(t *testing.T) {
	t.Parallel()
	seen := map[string]shipgraph.Kind{}
	for _, k := range kinds {
		s := shipgraph.EncodeID(k, 1)
		if other, dup := seen[s]; dup {
			t.Errorf("%s and %s share the ID %q", k, other, s)
		}
		seen[s] = k
	}
}

func TestEntityGlobalID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		node shipgraph.Node
		want string
	}{
		{"feature", &shipgraph.Feature{ID: 7}, shipgraph.EncodeID(shipgraph.KindFeature, 7)},
		{"test case", &shipgraph.TestCase{ID: 7}, shipgraph.EncodeID(shipgraph.KindTestCase, 7)},
		{"build", &shipgraph.Build{ID: 7}, shipgraph.EncodeID(shipgraph.KindBuild, 7)},
		{"deployment", &shipgraph.Deployment{ID: 7}, shipgraph.EncodeID(shipgraph.KindDeployment, 7)},
		{"deployment event", &shipgraph.DeploymentEvent{ID: 7}, shipgraph.EncodeID(shipgraph.KindDeploymentEvent, 7)},
	}
	for _, tt := range tests {
		t.Run(tt.name+" ID has its kind", func(t *testing.T) {
			t.Parallel()
			if got := tt.node.GlobalID(); got != tt.want {
				t.Errorf("GlobalID() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeAnyIDRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"not base64", "!!!"},
		{"plain text with colon", "Feature:1"},
		{"padded base64", base64.URLEncoding.EncodeToString([]byte("Feature:12"))},
		{"base64 with white space", " " + rawID("Feature:12")},
		{"no colon", rawID("Feature1")},
		{"no key", rawID("Feature:")},
		{"no kind", rawID(":1")},
		{"key not a number", rawID("Feature:abc")},
		{"key with spaces", rawID("Feature: 1")},
		{"key with decimals", rawID("Feature:1.0")},
		{"two colons", rawID("Feature:1:2")},
		{"id 0", rawID("Feature:0")},
		{"negative id", rawID("Feature:-1")},
		{"id overflowing int64", rawID("Feature:9223372036854775808")},
		{"unknown kind", rawID("Widget:1")},
		{"kind in wrong case", rawID("feature:1")},
		{"GraphQL type that is not a node", rawID("Query:1")},
	}
	for _, tt := range tests {
		t.Run(tt.name+" rejected", func(t *testing.T) {
			t.Parallel()
			_, _, err := shipgraph.DecodeAnyID("featureId", tt.in)
			requireInvalid(t, err, "featureId")
			_, err = shipgraph.DecodeID("input.id", tt.in, shipgraph.KindFeature)
			e := requireInvalid(t, err, "input.id")
			if !strings.Contains(e.Message, "input.id") {
				t.Errorf("message %q does not name the argument", e.Message)
			}
		})
	}
}

func TestDecodeIDWrongKind(t *testing.T) {
	t.Parallel()
	for _, got := range kinds {
		for _, want := range kinds {
			if got == want {
				continue
			}
			t.Run(string(got)+" ID where "+string(want)+" expected rejected", func(t *testing.T) {
				t.Parallel()
				_, err := shipgraph.DecodeID("buildId", shipgraph.EncodeID(got, 5), want)
				e := requireInvalid(t, err, "buildId")
				for _, k := range []shipgraph.Kind{got, want} {
					if !strings.Contains(e.Message, string(k)) {
						t.Errorf("message %q does not mention %s", e.Message, k)
					}
				}
			})
		}
	}
}

// A global ID should have one spelling, so that a client cache keyed by ID
// never holds two entries for one node. Each subtest is skipped, with the
// reason, while the decoder still accepts the alternative spelling.
func TestDecodeAnyIDKnownGaps(t *testing.T) {
	t.Parallel()
	// "Build:5" is 7 bytes: its 10th base64 character carries 4 unused bits.
	canonical := rawID("Build:5")
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, canonical[len(canonical)-1])
	trailingBits := canonical[:len(canonical)-1] + string(alphabet[last|1])
	for _, tt := range []struct{ name, in string }{
		{"plus sign before the key", rawID("Build:+5")},
		{"leading zeros in the key", rawID("Build:005")},
		{"non-zero trailing bits", trailingBits},
	} {
		t.Run(tt.name+" should be rejected", func(t *testing.T) {
			t.Parallel()
			if tt.in == canonical || canonical != shipgraph.EncodeID(shipgraph.KindBuild, 5) {
				t.Fatalf("test input %q is the canonical ID", tt.in)
			}
			_, _, err := shipgraph.DecodeAnyID("id", tt.in)
			requireInvalid(t, err, "id")
		})
	}
}

func TestEncodeIDIsBase64OfKindAndKey(t *testing.T) {
	for _, c := range []struct {
		kind shipgraph.Kind
		id   int64
	}{
		{shipgraph.KindFeature, 1},
		{shipgraph.KindDeploymentEvent, math.MaxInt64},
		{shipgraph.KindBuild, -42},
		// Longer than the stack buffers: still right, only on the heap.
		{shipgraph.Kind(strings.Repeat("K", 100)), 7},
	} {
		want := base64.RawURLEncoding.EncodeToString([]byte(string(c.kind) + ":" + strconv.FormatInt(c.id, 10)))
		if got := shipgraph.EncodeID(c.kind, c.id); got != want {
			t.Errorf("EncodeID(%s, %d) = %q, want %q", c.kind, c.id, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { shipgraph.EncodeID(shipgraph.KindDeploymentEvent, math.MaxInt64) }); n > 1 {
		t.Errorf("EncodeID allocates %v times, want 1 (the string)", n)
	}
}
