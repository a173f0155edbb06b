package persisted_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipgraph/shipgraph/internal/persisted"
)

const (
	docA = "query A { features(first: 1) { totalCount } }"
	docB = "query B { features(first: 2) { totalCount } }"
)

func apolloManifest(ops ...map[string]string) string {
	list := []map[string]string{}
	list = append(list, ops...)
	b, _ := json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest", "version": 1, "operations": list})
	return string(b)
}

func plainManifest(m map[string]string) string {
	b, _ := json.Marshal(m)
	return string(b)
}

func TestParseManifestAcceptsBothFormats(t *testing.T) {
	t.Parallel()
	for name, data := range map[string]string{
		"apollo": apolloManifest(
			map[string]string{"id": persisted.Hash(docA), "name": "A", "type": "query", "body": docA},
			map[string]string{"id": persisted.Hash(docB), "name": "B", "type": "query", "body": docB}),
		"plain map":           plainManifest(map[string]string{persisted.Hash(docA): docA, persisted.Hash(docB): docB}),
		"uppercase hex ids":   plainManifest(map[string]string{strings.ToUpper(persisted.Hash(docA)): docA, persisted.Hash(docB): docB}),
		"surrounding newline": "\n" + plainManifest(map[string]string{persisted.Hash(docA): docA, persisted.Hash(docB): docB}) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := persisted.ParseManifest([]byte(data))
			if err != nil {
				t.Fatal(err)
			}
			if m.Len() != 2 {
				t.Fatalf("%d documents, want 2", m.Len())
			}
			for _, doc := range []string{docA, docB} {
				if got, ok := m.Lookup(persisted.Hash(doc)); !ok || got != doc {
					t.Fatalf("lookup of %q: %q, %v", doc, got, ok)
				}
			}
			if _, ok := m.Lookup(persisted.Hash("{ __typename }")); ok {
				t.Fatal("found a document that is not in the manifest")
			}
		})
	}
}

func TestParseManifestRefusesWhatItCannotTrust(t *testing.T) {
	t.Parallel()
	sha1OfA := "5d6b1d1b8a3c9e2f6b0b4b1f7ad0c56cbf0a4e51" // not even SHA-256's length
	for _, tc := range []struct {
		name, data, want string
	}{
		{"not JSON", "operations:", "not a JSON object"},
		{"a JSON array", "[]", "not a JSON object"},
		{"empty map", "{}", "holds no operations"},
		{"apollo without operations", apolloManifest(), "holds no operations"},
		{"unknown format", `{"format":"relay","version":1,"operations":[]}`, `unknown manifest format "relay"`},
		{"apollo version 2", `{"format":"apollo-persisted-query-manifest","version":2,"operations":[]}`, "version 2"},
		{"apollo id of another body", apolloManifest(
			map[string]string{"id": persisted.Hash(docA), "name": "A", "body": docA},
			map[string]string{"id": persisted.Hash(docA), "name": "B", "body": docB}),
			`operation 1 ("B"): id "` + persisted.Hash(docA) + `" is not the SHA-256 of its document (that is ` + persisted.Hash(docB) + ")"},
		{"a sha1 id", plainManifest(map[string]string{sha1OfA: docA}), `entry "` + sha1OfA + `": id "` + sha1OfA + `" is not the SHA-256`},
		{"a name as id", plainManifest(map[string]string{"A": docA}), `entry "A": id "A" is not the SHA-256`},
		{"empty document", plainManifest(map[string]string{persisted.Hash(""): ""}), "empty document"},
		{"document not a string", `{"` + persisted.Hash(docA) + `": {"body": "x"}}`, "the document is not a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := persisted.ParseManifest([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadManifestNamesTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(plainManifest(map[string]string{"A": docA})), 0o600)
	if _, err := persisted.LoadManifest(bad); err == nil || !strings.Contains(err.Error(), "trusted documents "+bad+": ") {
		t.Fatalf("err %v", err)
	}
	if _, err := persisted.LoadManifest(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("err %v", err)
	}
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(plainManifest(map[string]string{persisted.Hash(docA): docA})), 0o600)
	if m, err := persisted.LoadManifest(good); err != nil || m.Len() != 1 {
		t.Fatalf("m %v, err %v", m, err)
	}
}
