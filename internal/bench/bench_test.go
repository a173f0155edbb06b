package bench

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		diff string // "" when equal, else a substring of the error
	}{
		{`{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, ""},
		{`{"a":5}`, `{"a":5.0}`, ""},
		{` {"a": "x"}` + "\n", `{"a":"x"}`, ""},
		{`{"a":[1,2]}`, `{"a":[2,1]}`, "$.a[0]"},
		{`{"a":[1,2]}`, `{"a":[1]}`, "$.a: 2 elements in the first document, 1 in the second"},
		{`{"a":{"b":1}}`, `{"a":{"c":1}}`, "$.a.b: missing from the second document"},
		{`{"a":null}`, `{"a":[]}`, "$.a"},
		{`{"a":"1"}`, `{"a":1}`, "$.a"},
		{`{"a":1} x`, `{"a":1}`, "first document"},
	} {
		err := Compare([]byte(tc.a), []byte(tc.b))
		switch {
		case tc.diff == "" && err != nil:
			t.Errorf("Compare(%s, %s) = %v, want equal", tc.a, tc.b, err)
		case tc.diff != "" && (err == nil || !strings.Contains(err.Error(), tc.diff)):
			t.Errorf("Compare(%s, %s) = %v, want an error about %q", tc.a, tc.b, err, tc.diff)
		}
	}
}

// answerWith returns an answer with n features, each with one test case
// and one build with one deployment.
func answerWith(n int) []byte {
	nodes := make([]map[string]any, n)
	for i := range nodes {
		nodes[i] = map[string]any{
			"id":        fmt.Sprintf("F%d", i),
			"testCases": map[string]any{"totalCount": 1, "nodes": []any{map[string]any{"id": "T"}}},
			"builds": map[string]any{"nodes": []any{map[string]any{
				"id": "B", "deployments": map[string]any{"nodes": []any{map[string]any{"id": "D"}}},
			}}},
		}
	}
	b, _ := json.Marshal(map[string]any{"data": map[string]any{"features": map[string]any{"nodes": nodes}}})
	return b
}

func TestVerify(t *testing.T) {
	s, err := Verify(answerWith(Features))
	if err != nil {
		t.Fatal(err)
	}
	if s.Features != 50 || s.TestCases != 50 || s.Builds != 50 || s.Deployments != 50 || s.Objects != 200 {
		t.Errorf("summary = %+v", s)
	}
	for name, body := range map[string][]byte{
		"too few features": answerWith(3),
		"errors":           []byte(`{"errors":[{"message":"boom"}],"data":null}`),
		"no data":          []byte(`{}`),
		"not JSON":         []byte(`<html>`),
		"missing id":       []byte(strings.Replace(string(answerWith(Features)), `"id":"D"`, `"id":""`, 1)),
	} {
		if _, err := Verify(body); err == nil {
			t.Errorf("%s: Verify accepted it", name)
		}
	}
}

func TestRequestBodyIsTheQuery(t *testing.T) {
	var req struct{ Query string }
	if err := json.Unmarshal(RequestBody(), &req); err != nil || req.Query != Query {
		t.Fatalf("RequestBody() = %s (%v)", RequestBody(), err)
	}
}
