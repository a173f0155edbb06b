// Package bench holds what the benchmark (scripts/bench.sh, `make bench`)
// shares between its pieces: the nested query every server under test
// answers, the check that an answer is a real one, and the deep comparison
// of two answers. The load generator is in bench/loadgen, the hand-written
// baseline server in bench/baseline, the commands in bench/cmd.
package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Query is the benchmark's query: one page of 50 features with three levels
// of nested connections under each.
const Query = `query Bench { features(first: 50) { nodes { id name complexityPoints status
  testCases(first: 10) { totalCount nodes { id title status } }
  builds(first: 5) { nodes { id number status commitSha
    deployments(first: 2) { nodes { id environment status progress } } } } } } }`

// Features is how many features the query asks for.
const Features = 50

// RequestBody is the POST /graphql body (application/json) of Query.
func RequestBody() []byte {
	b, err := json.Marshal(map[string]string{"query": Query})
	if err != nil {
		panic(err)
	}
	return b
}

// Summary describes a verified answer.
type Summary struct {
	Bytes       int `json:"bytes"`
	Features    int `json:"features"`
	TestCases   int `json:"test_cases"`
	Builds      int `json:"builds"`
	Deployments int `json:"deployments"`
	// Objects counts every object in the answer that has an id.
	Objects int `json:"objects"`
}

// answer is the shape of an answer to Query, as far as Verify checks it.
type answer struct {
	Errors json.RawMessage `json:"errors"`
	Data   *struct {
		Features struct {
			Nodes []struct {
				ID        string `json:"id"`
				TestCases struct {
					Nodes []struct{ ID string } `json:"nodes"`
				} `json:"testCases"`
				Builds struct {
					Nodes []struct {
						ID          string `json:"id"`
						Deployments struct {
							Nodes []struct{ ID string } `json:"nodes"`
						} `json:"deployments"`
					} `json:"nodes"`
				} `json:"builds"`
			} `json:"nodes"`
		} `json:"features"`
	} `json:"data"`
}

// Verify checks that body is a successful answer to Query: JSON, no
// "errors", data present with exactly Features features, every object with
// an id.
func Verify(body []byte) (Summary, error) {
	s := Summary{Bytes: len(body)}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return s, fmt.Errorf("response is not JSON: %v: %.200q", err, body)
	}
	if len(a.Errors) > 0 && !bytes.Equal(a.Errors, []byte("null")) {
		return s, fmt.Errorf("response has errors: %.500s", a.Errors)
	}
	if a.Data == nil {
		return s, fmt.Errorf("response has no data: %.200q", body)
	}
	nodes := a.Data.Features.Nodes
	s.Features = len(nodes)
	if s.Features != Features {
		return s, fmt.Errorf("response has %d features, want %d (is the database seeded?)", s.Features, Features)
	}
	missing := 0
	for _, f := range nodes {
		if f.ID == "" {
			missing++
		}
		s.TestCases += len(f.TestCases.Nodes)
		for _, t := range f.TestCases.Nodes {
			if t.ID == "" {
				missing++
			}
		}
		s.Builds += len(f.Builds.Nodes)
		for _, b := range f.Builds.Nodes {
			if b.ID == "" {
				missing++
			}
			s.Deployments += len(b.Deployments.Nodes)
			for _, d := range b.Deployments.Nodes {
				if d.ID == "" {
					missing++
				}
			}
		}
	}
	s.Objects = s.Features + s.TestCases + s.Builds + s.Deployments
	if missing > 0 {
		return s, fmt.Errorf("%d objects of the response have no id", missing)
	}
	return s, nil
}

// Compare decodes two JSON documents and compares them deeply: the order of
// object keys, white space and the spelling of numbers (5 vs 5.0) do not
// matter, array order does. It returns nil when they are equal, else an
// error naming the path of the first difference.
func Compare(a, b []byte) error {
	va, err := decode(a)
	if err != nil {
		return fmt.Errorf("first document: %w", err)
	}
	vb, err := decode(b)
	if err != nil {
		return fmt.Errorf("second document: %w", err)
	}
	if d := diff("$", va, vb); d != "" {
		return fmt.Errorf("documents differ: %s", d)
	}
	return nil
}

func decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// diff returns "" when a and b are equal, else the path of the first
// difference and both values there.
func diff(path string, a, b any) string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return mismatch(path, a, b)
		}
		keys := make([]string, 0, len(av)+len(bv))
		for k := range av {
			keys = append(keys, k)
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			x, okA := av[k]
			y, okB := bv[k]
			p := path + "." + k
			switch {
			case !okA:
				return p + ": missing from the first document"
			case !okB:
				return p + ": missing from the second document"
			}
			if d := diff(p, x, y); d != "" {
				return d
			}
		}
		return ""
	case []any:
		bv, ok := b.([]any)
		if !ok {
			return mismatch(path, a, b)
		}
		for i := 0; i < len(av) && i < len(bv); i++ {
			if d := diff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i]); d != "" {
				return d
			}
		}
		if len(av) != len(bv) {
			return fmt.Sprintf("%s: %d elements in the first document, %d in the second", path, len(av), len(bv))
		}
		return ""
	case json.Number:
		bv, ok := b.(json.Number)
		if !ok {
			return mismatch(path, a, b)
		}
		// 5 and 5.0 are the same number; compare as floats when the
		// spellings differ.
		if av == bv {
			return ""
		}
		fa, errA := av.Float64()
		fb, errB := bv.Float64()
		if errA == nil && errB == nil && fa == fb {
			return ""
		}
		return mismatch(path, a, b)
	}
	if !reflect.DeepEqual(a, b) {
		return mismatch(path, a, b)
	}
	return ""
}

func mismatch(path string, a, b any) string {
	show := func(v any) string {
		j, _ := json.Marshal(v)
		s := string(j)
		if len(s) > 120 {
			s = s[:120] + "…"
		}
		return strings.TrimSpace(s)
	}
	return fmt.Sprintf("%s: %s in the first document, %s in the second", path, show(a), show(b))
}
