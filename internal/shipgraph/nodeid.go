package shipgraph

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Kind is the type of a node, encoded in its global ID.
type Kind string

// The node kinds; their names are the GraphQL type names.
const (
	KindFeature         Kind = "Feature"
	KindTestCase        Kind = "TestCase"
	KindBuild           Kind = "Build"
	KindDeployment      Kind = "Deployment"
	KindDeploymentEvent Kind = "DeploymentEvent"
)

func (k Kind) valid() bool {
	switch k {
	case KindFeature, KindTestCase, KindBuild, KindDeployment, KindDeploymentEvent:
		return true
	}
	return false
}

// EncodeID returns the opaque global ID of a node: base64url of "Kind:key".
// Clients must treat it as opaque; encoding the kind lets node(id:) find the
// table and lets a mutation reject an ID of the wrong type clearly.
//
// Every object of a response carries one (1,300 in make bench's query), so it
// is built in stack buffers: one allocation, the string itself, where
// EncodeToString of the joined text took two.
func EncodeID(k Kind, id int64) string {
	var enc [64]byte // base64 of "DeploymentEvent:" and 19 digits
	return string(AppendID(enc[:0], k, id))
}

// AppendID appends the global ID of a node to b, as EncodeID returns it:
// a response writer needs no string at all.
func AppendID(b []byte, k Kind, id int64) []byte {
	var raw [48]byte // "DeploymentEvent:" and 19 digits fit
	r := append(raw[:0], k...)
	r = append(r, ':')
	r = strconv.AppendInt(r, id, 10)
	return base64.RawURLEncoding.AppendEncode(b, r)
}

// DecodeAnyID decodes a global ID of any kind. field names the argument in
// the error.
func DecodeAnyID(field, s string) (Kind, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", 0, InvalidField(field, "%s is not a valid ID", field)
	}
	kind, key, ok := strings.Cut(string(b), ":")
	id, err := strconv.ParseInt(key, 10, 64)
	// Only the canonical spelling is accepted ("Build:5", not "Build:005"
	// or "Build:+5"), so one node has exactly one ID.
	if !ok || err != nil || id < 1 || !Kind(kind).valid() || EncodeID(Kind(kind), id) != s {
		return "", 0, InvalidField(field, "%s is not a valid ID", field)
	}
	return Kind(kind), id, nil
}

// DecodeID decodes a global ID that must be of kind want.
func DecodeID(field, s string, want Kind) (int64, error) {
	kind, id, err := DecodeAnyID(field, s)
	if err != nil {
		return 0, err
	}
	if kind != want {
		return 0, InvalidField(field, "%s is the ID of a %s, not of a %s", field, kind, want)
	}
	return id, nil
}

// Node is implemented by every entity that has a global ID; it backs the
// GraphQL Node interface.
type Node interface {
	GlobalID() string
}

// Key returns the feature's primary key.
func (f *Feature) Key() int64 { return f.ID }

// Key returns the test case's primary key.
func (t *TestCase) Key() int64 { return t.ID }

// Key returns the build's primary key.
func (b *Build) Key() int64 { return b.ID }

// Key returns the deployment's primary key.
func (d *Deployment) Key() int64 { return d.ID }

// Key returns the event's primary key.
func (e *DeploymentEvent) Key() int64 { return e.ID }
