package wsprotocol

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// fakeConn hands out queued client messages and records what is written.
type fakeConn struct {
	in      []string
	written []string
	closes  []int
}

var _ transport.WebsocketConn = (*fakeConn)(nil)

func (f *fakeConn) NextReader() (int, io.Reader, error) {
	if len(f.in) == 0 {
		return 0, nil, io.EOF
	}
	m := f.in[0]
	f.in = f.in[1:]
	return 1, strings.NewReader(m), nil
}

func (f *fakeConn) WriteJSON(v any) error {
	b, err := json.Marshal(v)
	f.written = append(f.written, string(b))
	return err
}

func (f *fakeConn) WriteClose(code int, _ string) error {
	f.closes = append(f.closes, code)
	return nil
}

func (f *fakeConn) Close() error        { return nil }
func (f *fakeConn) Subprotocol() string { return Subprotocol }

func newConn(in ...string) (*conn, *fakeConn) {
	f := &fakeConn{in: in}
	return &conn{WebsocketConn: f, ops: map[string]string{}, clients: map[string]string{}}, f
}

// gqlgen's view of a message, as it reads it.
func readMessage(t *testing.T, c *conn) frame {
	t.Helper()
	_, r, err := c.NextReader()
	if err != nil {
		t.Fatal(err)
	}
	var f frame
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		t.Fatal(err)
	}
	return f
}

// The ids gqlgen sees are its own; the client sees its ids back, whatever
// the type of the message gqlgen writes (a struct with ID and Type, or
// anything else that encodes the same).
func TestIDsAreTranslatedBothWays(t *testing.T) {
	c, f := newConn(
		`{"type":"connection_init"}`,
		`{"type":"subscribe","id":"a","payload":{"query":"subscription { x }"}}`,
		`{"type":"complete","id":"a"}`,
		`{"type":"subscribe","id":"a","payload":{"query":"subscription { x }"}}`,
	)
	readMessage(t, c) // connection_init
	first := readMessage(t, c)
	if first.ID == "a" || first.ID == "" {
		t.Fatalf("gqlgen sees id %q", first.ID)
	}
	if m := readMessage(t, c); m.Type != "complete" || m.ID != first.ID {
		t.Fatalf("complete reaches gqlgen as %+v", m)
	}
	second := readMessage(t, c)
	if second.ID == first.ID {
		t.Fatalf("two operations share gqlgen's id %q", first.ID)
	}

	// Written as gqlgen does (a pointer to a struct) and as a map.
	c.WriteJSON(&frame{ID: first.ID, Type: "complete"})                                             // completed by the client: dropped
	c.WriteJSON(map[string]any{"id": second.ID, "type": "next", "payload": map[string]int{"x": 1}}) // fallback path
	c.WriteJSON(&frame{ID: second.ID, Type: "complete"})
	c.WriteJSON(&frame{ID: second.ID, Type: "complete"}) // already ended: dropped
	c.WriteJSON(&frame{Type: "pong"})
	want := []string{
		`{"id":"a","type":"next","payload":{"x":1}}`,
		`{"id":"a","type":"complete"}`,
		`{"type":"pong"}`,
	}
	if strings.Join(f.written, "\n") != strings.Join(want, "\n") {
		t.Fatalf("written:\n%s\nwant:\n%s", strings.Join(f.written, "\n"), strings.Join(want, "\n"))
	}
	if len(c.ops) != 0 || len(c.clients) != 0 {
		t.Fatalf("state left: %v %v", c.ops, c.clients)
	}
}

func TestCloseReasonsFitAFrame(t *testing.T) {
	id := strings.Repeat("é", 100)
	c, f := newConn(
		`{"type":"connection_init"}`,
		`{"type":"subscribe","id":"`+id+`","payload":{"query":"subscription { x }"}}`,
		`{"type":"subscribe","id":"`+id+`","payload":{"query":"subscription { x }"}}`,
	)
	readMessage(t, c)
	readMessage(t, c)
	if _, _, err := c.NextReader(); err == nil {
		t.Fatal("a duplicate id was accepted")
	}
	if len(f.closes) != 1 || f.closes[0] != CloseSubscriberExists {
		t.Fatalf("closes %v", f.closes)
	}
	r := truncate("Subscriber for " + id + " already exists")
	if len(r) > 123 || !utf8.ValidString(r) || !bytes.HasPrefix([]byte(r), []byte("Subscriber for é")) {
		t.Fatalf("reason %q (%d bytes)", r, len(r))
	}
}
