package persisted

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Manifest is a set of trusted documents: the only operations a server in
// trusted documents mode runs, by the SHA-256 of their text.
type Manifest struct {
	docs map[string]string // lowercase hex SHA-256 → document
}

// Len is how many documents the manifest holds.
func (m *Manifest) Len() int { return len(m.docs) }

// Lookup returns the document whose SHA-256 is hash (lowercase hex).
func (m *Manifest) Lookup(hash string) (string, bool) {
	doc, ok := m.docs[hash]
	return doc, ok
}

// LoadManifest reads a manifest file (see ParseManifest). Its errors name
// the file and, for a bad entry, the entry, so that an operator can fix a
// server that refuses to start.
func LoadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trusted documents: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("trusted documents %s: %w", path, err)
	}
	return m, nil
}

// apolloFormat is the format field of Apollo's persisted query manifest
// (@apollo/generate-persisted-query-manifest).
const apolloFormat = "apollo-persisted-query-manifest"

// ParseManifest reads the two manifest formats clients generate:
//
//   - Apollo's persisted query manifest:
//     {"format": "apollo-persisted-query-manifest", "version": 1,
//     "operations": [{"id": "<sha256>", "name": …, "type": …, "body": "<document>"}]}
//   - a plain map {"<sha256 hex>": "<document>"}, as GraphQL Code
//     Generator's client preset (persistedDocuments with hashAlgorithm
//     sha256) and Relay's persisted queries write it.
//
// Every id must be the SHA-256 of its document, in hex: the server finds
// documents by the hash clients compute, and an id that is anything else
// (a sha1, an md5, a name) could never be asked for and means the manifest
// was generated with other settings. An empty manifest is refused too: it
// would refuse every operation.
func ParseManifest(data []byte) (*Manifest, error) {
	data = bytes.TrimSpace(data)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	m := &Manifest{docs: map[string]string{}}
	if _, ok := top["format"]; ok {
		var apollo struct {
			Format     string
			Version    int
			Operations []struct {
				ID   string
				Name string
				Body string
			}
		}
		if err := json.Unmarshal(data, &apollo); err != nil {
			return nil, fmt.Errorf("not an Apollo persisted query manifest: %w", err)
		}
		if apollo.Format != apolloFormat || apollo.Version != 1 {
			return nil, fmt.Errorf("unknown manifest format %q version %d (want %q version 1, or a {\"<sha256>\": \"<document>\"} map)", apollo.Format, apollo.Version, apolloFormat)
		}
		for i, op := range apollo.Operations {
			what := fmt.Sprintf("operation %d (%q)", i, op.Name)
			if err := m.add(what, op.ID, op.Body); err != nil {
				return nil, err
			}
		}
	} else {
		// Sorted, so that the error names the same entry every time.
		ids := make([]string, 0, len(top))
		for id := range top {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			var body string
			if err := json.Unmarshal(top[id], &body); err != nil {
				return nil, fmt.Errorf("entry %q: the document is not a string", id)
			}
			if err := m.add(fmt.Sprintf("entry %q", id), id, body); err != nil {
				return nil, err
			}
		}
	}
	if len(m.docs) == 0 {
		return nil, errors.New("the manifest holds no operations")
	}
	return m, nil
}

func (m *Manifest) add(what, id, body string) error {
	if body == "" {
		return fmt.Errorf("%s: empty document", what)
	}
	sum := Hash(body)
	if strings.ToLower(id) != sum {
		return fmt.Errorf("%s: id %q is not the SHA-256 of its document (that is %s); generate the manifest with SHA-256 ids", what, id, sum)
	}
	m.docs[sum] = body
	return nil
}
