// Package wsprotocol makes gqlgen's WebSocket transport follow the
// graphql-transport-ws protocol
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md) where
// gqlgen v0.17.98 does not by itself. It wraps the connection gqlgen reads
// and writes, checks each message from the client before gqlgen sees it,
// and closes with the protocol's codes:
//
//   - 4400 for a message that is not JSON, of an unknown type, or of the
//     wrong shape (gqlgen: 1002 before init, 1000 after; a connection_init
//     payload that is not an object left the socket open, unread, forever;
//     a subscribe without an id ran, one with a malformed payload got an
//     error message);
//   - 4401 for a subscribe before connection_init (gqlgen: 1002). gqlgen
//     reads nothing after connection_init until it has sent the ack (or
//     refused the init, 4403), so "before the ack" is "before the init";
//   - 4408 when connection_init does not come in time (gqlgen: 1002);
//   - 4409 for a subscribe whose id is running (gqlgen: ran both, and lost
//     the first one's cancel, so that it could not be stopped);
//   - 4429 for a second connection_init (gqlgen: 1002).
//
// It also answers a ping sent before connection_init (gqlgen closed with
// 1002), sends nothing more for an operation the client completed and no
// complete after an error (gqlgen sent complete in both cases), and lets a
// client use an id again as soon as it has completed it: gqlgen sees its
// own unique id per operation, so that its late complete for the old one
// cannot end the new one.
//
// The legacy graphql-ws protocol (subscriptions-transport-ws) is passed
// through untouched.
//
// What this relies on in gqlgen, pinned by the root package's WebSocket
// tests: it closes with 1002 when InitTimeout passes, and the messages it
// writes are pointers to structs with string fields ID and Type (anything
// else is re-decoded, slower but still right).
package wsprotocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// Subprotocol is the protocol this package checks.
const Subprotocol = "graphql-transport-ws"

// Close codes of graphql-transport-ws.
const (
	CloseBadRequest       = 4400 // invalid message
	CloseUnauthorized     = 4401 // subscribe before connection_ack
	CloseForbidden        = 4403 // connection_init refused (the init function's choice)
	CloseInitTimeout      = 4408 // no connection_init in time
	CloseSubscriberExists = 4409 // subscribe with the id of a running operation
	CloseTooManyInits     = 4429 // a second connection_init
)

// Implementation wraps gqlgen's WebSocket implementation. Use it as
// transport.Websocket's Implementation, with InitTimeout set: 4408 replaces
// the code gqlgen closes with when that timeout passes.
type Implementation struct {
	transport.WebsocketImplementation
}

var _ transport.WebsocketImplementation = Implementation{}

// Accept implements transport.WebsocketImplementation.
func (i Implementation) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, err := i.WebsocketImplementation.Accept(w, r, o)
	if err != nil || c.Subprotocol() != Subprotocol {
		return c, err
	}
	return &conn{WebsocketConn: c, ops: map[string]string{}, clients: map[string]string{}}, nil
}

// conn is one graphql-transport-ws connection.
type conn struct {
	transport.WebsocketConn

	mu sync.Mutex
	// answered: gqlgen got a message (or a read error) from NextReader;
	// initialised: connection_init came; closed: a close was sent, later
	// ones are ignored.
	answered, initialised, closed bool
	// ops maps the ids of the client's running operations to gqlgen's;
	// clients maps gqlgen's ids back, to "" once the client completed one
	// (nothing more goes out for it), until gqlgen ends it.
	ops, clients map[string]string
	last         uint64 // gqlgen's last id
}

var (
	_ transport.WebsocketReadLimiter   = (*conn)(nil)
	_ transport.WebsocketReadDeadliner = (*conn)(nil)
)

// frame is a graphql-transport-ws message.
type frame struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// operation is the payload of subscribe. query is optional here (an
// automatic persisted query may carry only its hash); gqlgen answers its
// absence with an error.
type operation struct {
	Query         *string                    `json:"query"`
	OperationName *string                    `json:"operationName"`
	Variables     map[string]json.RawMessage `json:"variables"`
	Extensions    map[string]json.RawMessage `json:"extensions"`
}

// NextReader implements transport.WebsocketConn: the next message gqlgen
// should see. Messages it should not see are answered or dropped here, and
// an invalid one closes the connection.
func (c *conn) NextReader() (int, io.Reader, error) {
	defer func() {
		c.mu.Lock()
		c.answered = true
		c.mu.Unlock()
	}()
	for {
		typ, r, err := c.WebsocketConn.NextReader()
		var data []byte
		if err == nil {
			data, err = io.ReadAll(r)
		}
		if err != nil {
			return typ, nil, err
		}
		out, err := c.check(data)
		if err != nil {
			return typ, nil, err
		}
		if out != nil {
			return typ, bytes.NewReader(out), nil
		}
	}
}

// check returns what gqlgen should read for data, nil for nothing, or the
// error that closed the connection.
func (c *conn) check(data []byte) ([]byte, error) {
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, c.fail(CloseBadRequest, "Invalid message received")
	}
	switch f.Type {
	case "connection_init", "ping", "pong":
		if !isObject(f.Payload, false) {
			return nil, c.fail(CloseBadRequest, "Invalid message received")
		}
	case "subscribe":
		var op operation
		if f.ID == "" || !isObject(f.Payload, true) || json.Unmarshal(f.Payload, &op) != nil {
			return nil, c.fail(CloseBadRequest, "Invalid message received")
		}
	case "complete":
		if f.ID == "" {
			return nil, c.fail(CloseBadRequest, "Invalid message received")
		}
	default:
		return nil, c.fail(CloseBadRequest, "Invalid message received")
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case f.Type == "connection_init":
		if c.initialised {
			return nil, c.failLocked(CloseTooManyInits, "Too many initialisation requests")
		}
		c.initialised = true
		return data, nil
	case !c.initialised:
		// gqlgen's init reads one message and refuses anything but
		// connection_init; the protocol allows pings at any time.
		switch f.Type {
		case "ping":
			pong := frame{Type: "pong"}
			if isObject(f.Payload, true) {
				pong.Payload = f.Payload
			}
			return nil, c.WebsocketConn.WriteJSON(pong)
		case "subscribe":
			return nil, c.failLocked(CloseUnauthorized, "Unauthorized")
		}
		return nil, nil // a pong, or a complete of nothing
	case f.Type == "subscribe":
		if _, running := c.ops[f.ID]; running {
			return nil, c.failLocked(CloseSubscriberExists, truncate("Subscriber for "+f.ID+" already exists"))
		}
		c.last++
		op := strconv.FormatUint(c.last, 10)
		c.ops[f.ID], c.clients[op] = op, f.ID
		f.ID = op
		return json.Marshal(f)
	case f.Type == "complete":
		op, running := c.ops[f.ID]
		if !running {
			return nil, nil
		}
		delete(c.ops, f.ID)
		c.clients[op] = ""
		f.ID = op
		return json.Marshal(f)
	}
	return data, nil // ping, pong
}

// WriteJSON implements transport.WebsocketConn: gqlgen's message, with the
// client's id, unless the client no longer expects it.
func (c *conn) WriteJSON(v any) error {
	id, typ, ok := fields(v)
	if !ok {
		// Not the message type this was written against: decode it.
		var f frame
		b, err := json.Marshal(v)
		if err == nil {
			err = json.Unmarshal(b, &f)
		}
		if err != nil {
			return err
		}
		v = &f
		id, typ, _ = fields(v)
	}
	if id.String() == "" {
		return c.WebsocketConn.WriteJSON(v)
	}
	c.mu.Lock()
	client, known := c.clients[id.String()]
	if known && (typ.String() == "complete" || typ.String() == "error") {
		delete(c.clients, id.String())
		if client != "" {
			delete(c.ops, client)
		}
	}
	c.mu.Unlock()
	if client == "" {
		// Completed by the client, or already ended (gqlgen completes
		// after an error): the protocol sends nothing more.
		return nil
	}
	id.SetString(client)
	return c.WebsocketConn.WriteJSON(v)
}

// fields returns the ID and Type of gqlgen's outgoing message, a pointer to
// a struct with string fields ID and Type.
func fields(v any) (id, typ reflect.Value, ok bool) {
	p := reflect.ValueOf(v)
	if p.Kind() != reflect.Pointer || p.Elem().Kind() != reflect.Struct {
		return id, typ, false
	}
	id, typ = p.Elem().FieldByName("ID"), p.Elem().FieldByName("Type")
	ok = id.IsValid() && typ.IsValid() && id.Kind() == reflect.String && typ.Kind() == reflect.String && id.CanSet()
	return id, typ, ok
}

// WriteClose implements transport.WebsocketConn. gqlgen closing while it
// still waits for its first message is its InitTimeout: 4408. (Pings
// answered here before connection_init do not count: they do not stop the
// clock either.)
func (c *conn) WriteClose(code int, reason string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if !c.answered && code == transport.WebsocketCloseProtocolError {
		code, reason = CloseInitTimeout, "Connection initialisation timeout"
	}
	c.closed = true
	return c.WebsocketConn.WriteClose(code, reason)
}

// errClosed is what gqlgen reads once a message closed the connection.
var errClosed = fmt.Errorf("graphql-transport-ws: protocol violation: %w", net.ErrClosed)

func (c *conn) fail(code int, reason string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failLocked(code, reason)
}

func (c *conn) failLocked(code int, reason string) error {
	if !c.closed {
		c.closed = true
		if err := c.WebsocketConn.WriteClose(code, reason); err != nil {
			return errors.Join(errClosed, err)
		}
	}
	return errClosed
}

// SetReadLimit implements transport.WebsocketReadLimiter.
func (c *conn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

// SetReadDeadline implements transport.WebsocketReadDeadliner (the missing
// pong timeout).
func (c *conn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

// isObject reports whether a valid JSON value is an object, or absent or
// null when it is optional.
func isObject(raw json.RawMessage, required bool) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return !required
	}
	return raw[0] == '{'
}

// truncate keeps a close reason within the 123 bytes a close frame holds.
func truncate(reason string) string {
	if len(reason) <= 123 {
		return reason
	}
	cut := 120
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut] + "..."
}
