// Package wsprotocol is Shipgraph's transport for the graphql-transport-ws
// protocol (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md),
// in place of gqlgen's WebSocket transport for that protocol. It runs
// gqlgen's executor; what it changes is the connection around it:
//
//   - No goroutine per subscription. A subscription resolver that opens
//     its stream through Stream tells the transport each time its channel
//     holds a value; one writer goroutine per connection then takes it and
//     renders it. (gqlgen's transport parks a goroutine, with the stack
//     its resolver grew, on every subscription's channel.) Operations that
//     do not, queries and mutations included, run on a goroutine of their
//     own as in gqlgen.
//   - Coalesced writes. What the writer renders in one pass, for any of
//     the connection's subscriptions, goes out in one write to the socket
//     instead of one flush per message.
//   - The protocol's close codes, where gqlgen v0.17.98 differs: 4400 for
//     a message that is not JSON, of an unknown type or of the wrong shape
//     (gqlgen: 1002, 1000, or no answer), 4401 for a subscribe before
//     connection_init (gqlgen: 1002), 4408 when connection_init does not
//     come in time (gqlgen: 1002), 4409 for a subscribe whose id is running
//     (gqlgen ran both and lost the first one's cancel), 4429 for a second
//     connection_init (gqlgen: 1002). A ping before connection_init is
//     answered; nothing more goes out for an operation the client
//     completed, and no complete after an error; an id is free again as
//     soon as its operation has ended.
//
// The legacy graphql-ws protocol stays with gqlgen's transport: Supports
// leaves it (and a client that offers both, which gqlgen answers with
// graphql-ws) to the transport added after this one.
//
// Unlike gqlgen's transport it does not put the connection_init payload in
// operations' contexts (transport.GetInitPayload): the init function turns
// it into what operations need (the principal).
package wsprotocol

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Subprotocol is the protocol this package serves.
const Subprotocol = "graphql-transport-ws"

// legacySubprotocol is gqlgen's first choice when a client offers both.
const legacySubprotocol = "graphql-ws"

// Close codes of graphql-transport-ws.
const (
	CloseBadRequest       = 4400 // invalid message
	CloseUnauthorized     = 4401 // subscribe before connection_ack
	CloseForbidden        = 4403 // connection_init refused (the init function's choice)
	CloseInitTimeout      = 4408 // no connection_init in time
	CloseSubscriberExists = 4409 // subscribe with the id of a running operation
	CloseTooManyInits     = 4429 // a second connection_init
)

// defaultReadLimit is gqlgen's: the largest message read from a client.
const defaultReadLimit = 1 << 20

// InitFunc accepts or refuses a connection from its connection_init
// payload, returning the context its operations run under; the connection
// closes when that context ends (an expired token). A refusal closes the
// connection with the code and reason of a *CloseError in err, else with
// 4403 Forbidden.
type InitFunc func(ctx context.Context, payload transport.InitPayload) (context.Context, error)

// CloseError is an InitFunc's refusal with its own close code.
type CloseError struct {
	Code   int
	Reason string
	Err    error
}

func (e *CloseError) Error() string { return e.Err.Error() }
func (e *CloseError) Unwrap() error { return e.Err }

// Transport serves graphql-transport-ws; add it before gqlgen's
// transport.Websocket, which keeps the legacy protocol.
type Transport struct {
	// AcceptOptions are coder/websocket's (origin patterns); the
	// subprotocol is set here.
	AcceptOptions websocket.AcceptOptions
	// Init authenticates connection_init; nil accepts every connection.
	Init InitFunc
	// Closed runs once when an initialised connection ends, with its init
	// context and the close code sent (or 1006 when the peer vanished).
	Closed func(ctx context.Context, code int)
	// InitTimeout closes with 4408 when connection_init has not come by
	// then; zero waits forever.
	InitTimeout time.Duration
	// PingInterval sends a ping this often once a connection is
	// initialised, and drops a client that has not answered two of them;
	// zero sends none.
	PingInterval time.Duration
	// ReadLimit is the largest message read; 1 MB when zero.
	ReadLimit int64
}

var _ graphql.Transport = Transport{}

// Supports implements graphql.Transport: a WebSocket upgrade that would
// negotiate graphql-transport-ws.
func (t Transport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") == "" {
		return false
	}
	ours := false
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(h, ",") {
			switch p = strings.TrimSpace(p); {
			case strings.EqualFold(p, legacySubprotocol):
				return false
			case strings.EqualFold(p, Subprotocol):
				ours = true
			}
		}
	}
	return ours
}

// Do implements graphql.Transport.
func (t Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	opts := t.AcceptOptions
	opts.Subprotocols = []string{Subprotocol}
	cork := &corkConn{}
	ws, err := websocket.Accept(hijackWriter{ResponseWriter: w, cork: cork}, r, &opts)
	if err != nil {
		return // Accept answered the request
	}
	limit := t.ReadLimit
	if limit <= 0 {
		limit = defaultReadLimit
	}
	ws.SetReadLimit(limit)
	c := &conn{
		t: t, ws: ws, cork: cork, exec: exec, headers: r.Header,
		ctx: r.Context(), ops: map[string]*operation{}, wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	c.serve()
}

// conn is one connection.
type conn struct {
	t       Transport
	ws      *websocket.Conn
	cork    *corkConn
	exec    graphql.GraphExecutor
	headers http.Header
	wake    chan struct{} // a driven operation has values; capacity 1
	done    chan struct{} // closed when serve returns

	// wmu serialises writing: a message is checked against its
	// operation's end and written under it, so that nothing goes out for
	// an operation once the client completed it.
	wmu sync.Mutex

	mu sync.Mutex
	// ctx is the connection's: the request's, then the init function's.
	ctx         context.Context
	initialised bool
	closeCode   int // the close sent; 0: none yet
	ops         map[string]*operation
	ready       []*operation // driven operations with pending values
	pings       int          // sent since the last pong
	pingTimer   *time.Timer
}

// operation is one subscribe.
type operation struct {
	id        string
	ctx       context.Context
	cancel    context.CancelFunc
	responses graphql.ResponseHandler
	signal    *signal

	// Guarded by conn.mu.
	driven  bool // its resolver signals; the writer reads its responses
	pending int  // signals not yet taken
	queued  bool // in conn.ready
	ended   bool // nothing more goes out for it
}

// frame is a graphql-transport-ws message.
type frame struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// operationPayload is the payload of subscribe. query is optional here (an
// automatic persisted query may carry only its hash); gqlgen answers its
// absence with an error.
type operationPayload struct {
	Query         *string                    `json:"query"`
	OperationName *string                    `json:"operationName"`
	Variables     map[string]json.RawMessage `json:"variables"`
	Extensions    map[string]json.RawMessage `json:"extensions"`
}

// errBadMessage closes the connection with 4400.
var errBadMessage = errors.New("invalid message")

// serve reads the client's messages until the connection ends, then ends
// everything the connection started.
func (c *conn) serve() {
	var initTimer *time.Timer
	if c.t.InitTimeout > 0 {
		initTimer = time.AfterFunc(c.t.InitTimeout, func() {
			c.mu.Lock()
			late := !c.initialised
			c.mu.Unlock()
			if late {
				c.close(CloseInitTimeout, "Connection initialisation timeout")
			}
		})
	}
	go c.writeLoop()
	defer c.shutdown(initTimer)
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		if !c.handle(data) {
			return
		}
	}
}

// shutdown ends the connection's operations and writer, and tells Closed.
func (c *conn) shutdown(initTimer *time.Timer) {
	if initTimer != nil {
		initTimer.Stop()
	}
	c.mu.Lock()
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	ops := c.ops
	c.ops = map[string]*operation{}
	for _, op := range ops {
		op.ended = true
	}
	code, initialised, ctx := c.closeCode, c.initialised, c.ctx
	sent := code != 0
	if !sent {
		code = int(websocket.StatusAbnormalClosure)
		c.closeCode = code
	}
	c.mu.Unlock()
	for _, op := range ops {
		op.cancel()
	}
	close(c.done)
	if !sent {
		// The peer left, or the read failed. (A close sent is finishing
		// its handshake in the background, and closes the socket itself.)
		c.ws.CloseNow()
	}
	if initialised && c.t.Closed != nil {
		c.t.Closed(ctx, code)
	}
}

// handle acts on one message from the client; false ends the connection.
func (c *conn) handle(data []byte) bool {
	start := graphql.Now()
	f, err := parse(data)
	if err != nil {
		c.close(CloseBadRequest, "Invalid message received")
		return false
	}
	c.mu.Lock()
	initialised := c.initialised
	c.mu.Unlock()
	switch f.Type {
	case "connection_init":
		if initialised {
			c.close(CloseTooManyInits, "Too many initialisation requests")
			return false
		}
		return c.init(f.Payload)
	case "ping":
		pong := frame{Type: "pong"}
		if isObject(f.Payload, true) {
			pong.Payload = f.Payload
		}
		c.writeFrame(pong)
	case "pong":
		c.mu.Lock()
		c.pings = 0
		c.mu.Unlock()
	case "subscribe":
		if !initialised {
			c.close(CloseUnauthorized, "Unauthorized")
			return false
		}
		c.mu.Lock()
		_, running := c.ops[f.ID]
		c.mu.Unlock()
		if running {
			c.close(CloseSubscriberExists, truncate("Subscriber for "+f.ID+" already exists"))
			return false
		}
		c.subscribe(start, f.ID, f.Payload)
	case "complete":
		c.complete(f.ID)
	}
	return true
}

// parse checks a client message's shape.
func parse(data []byte) (frame, error) {
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		return f, errBadMessage
	}
	switch f.Type {
	case "connection_init", "ping", "pong":
		if !isObject(f.Payload, false) {
			return f, errBadMessage
		}
	case "subscribe":
		var op operationPayload
		if f.ID == "" || !isObject(f.Payload, true) || json.Unmarshal(f.Payload, &op) != nil {
			return f, errBadMessage
		}
	case "complete":
		if f.ID == "" {
			return f, errBadMessage
		}
	default:
		return f, errBadMessage
	}
	return f, nil
}

// init runs the init function and acknowledges, or closes.
func (c *conn) init(payload json.RawMessage) bool {
	var p transport.InitPayload
	if len(payload) > 0 && !bytes.Equal(bytes.TrimSpace(payload), []byte("null")) {
		if err := json.Unmarshal(payload, &p); err != nil {
			c.close(CloseBadRequest, "Invalid message received")
			return false
		}
	}
	ctx := c.ctx
	if c.t.Init != nil {
		var err error
		if ctx, err = c.t.Init(c.ctx, p); err != nil {
			code, reason := CloseForbidden, "Forbidden"
			var ce *CloseError
			if errors.As(err, &ce) {
				code, reason = ce.Code, ce.Reason
			}
			c.close(code, reason)
			return false
		}
	}
	c.mu.Lock()
	c.ctx, c.initialised = ctx, true
	if c.t.PingInterval > 0 {
		c.pingTimer = time.AfterFunc(c.t.PingInterval, c.ping)
	}
	c.mu.Unlock()
	// The init context ends the connection (an expired token); its
	// operations end with it.
	context.AfterFunc(ctx, func() { c.close(int(websocket.StatusNormalClosure), "terminated") })
	c.writeFrame(frame{Type: "connection_ack"})
	return true
}

// ping sends a ping, or drops a client that has not answered the last two.
func (c *conn) ping() {
	c.mu.Lock()
	if c.closeCode != 0 {
		c.mu.Unlock()
		return
	}
	c.pings++
	dead := c.pings > 2
	if dead {
		c.closeCode = int(websocket.StatusAbnormalClosure)
	} else {
		c.pingTimer.Reset(c.t.PingInterval)
	}
	c.mu.Unlock()
	if dead {
		c.ws.CloseNow() // as gqlgen's missed-pong deadline does: 1006
		return
	}
	c.writeFrame(frame{Type: "ping"})
}

// subscribe starts an operation.
func (c *conn) subscribe(start time.Time, id string, payload json.RawMessage) {
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber() // as gqlgen decodes variables
	if err := dec.Decode(params); err != nil {
		c.writeError(nil, id, gqlerror.List{{Message: "invalid json"}})
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	params.Headers = c.headers
	c.mu.Lock()
	connCtx := c.ctx
	c.mu.Unlock()
	ctx := graphql.StartOperationTrace(connCtx)
	rc, errs := c.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			c.writeError(nil, id, resp.Errors)
			return
		}
		if c.writeNext(nil, id, &graphql.Response{Errors: errs}) {
			c.writeFrame(frame{ID: id, Type: "complete"})
		}
		return
	}
	ctx, cancel := context.WithCancel(graphql.WithOperationContext(ctx, rc))
	op := &operation{id: id, cancel: cancel}
	op.signal = &signal{c: c, op: op}
	c.mu.Lock()
	if c.closeCode != 0 {
		c.mu.Unlock()
		cancel()
		return
	}
	c.ops[id] = op
	c.mu.Unlock()

	// A subscription's resolver runs here; a query's or mutation's when
	// its responses are asked for.
	var panicked error
	func() {
		defer func() {
			if p := recover(); p != nil {
				panicked = rc.Recover(ctx, p)
			}
		}()
		op.responses, op.ctx = c.exec.DispatchOperation(context.WithValue(ctx, signalKey{}, op.signal), rc)
	}()
	if panicked != nil {
		c.end(op, presentPanic(panicked))
		return
	}
	if op.signal.claimed.Load() {
		c.mu.Lock()
		op.driven = true
		c.enqueueLocked(op)
		c.mu.Unlock()
		return
	}
	go c.run(op)
}

// run serves an operation whose resolver does not signal: it waits on its
// responses as gqlgen's transport does.
func (c *conn) run(op *operation) {
	for {
		resp, err := c.respond(op)
		if err != nil {
			c.end(op, err)
			return
		}
		if resp == nil {
			c.end(op, nil)
			return
		}
		if !c.writeNext(op, op.id, resp) {
			return
		}
	}
}

// respond asks op for its next response; a panic becomes its error.
func (c *conn) respond(op *operation) (resp *graphql.Response, err gqlerror.List) {
	defer func() {
		if p := recover(); p != nil {
			rc := graphql.GetOperationContext(op.ctx)
			err = presentPanic(rc.Recover(op.ctx, p))
		}
	}()
	return op.responses(op.ctx), nil
}

// presentPanic is the error message of a recovered panic.
func presentPanic(err error) gqlerror.List {
	var gqlErr *gqlerror.Error
	if !errors.As(err, &gqlErr) {
		gqlErr = &gqlerror.Error{}
		if err != nil {
			gqlErr.Message = err.Error()
		}
	}
	return gqlerror.List{gqlErr}
}

// end sends an operation's last message: complete, or the error that ended
// it; nothing when the client completed it or the connection is closing.
// Its id is free before that message goes out: a client may use it again
// as soon as it has read it.
func (c *conn) end(op *operation, errs gqlerror.List) {
	c.mu.Lock()
	if c.ops[op.id] == op {
		delete(c.ops, op.id)
	}
	closing := c.closeCode != 0 || c.ctx.Err() != nil
	c.mu.Unlock()
	switch {
	case errs != nil:
		c.writeError(op, op.id, errs)
	case !closing:
		c.writeMessage(op, completeMessage(op.id))
	}
	c.mu.Lock()
	op.ended = true
	c.mu.Unlock()
	op.cancel()
}

// complete ends the operation the client completed; nothing more goes out
// for it.
func (c *conn) complete(id string) {
	c.wmu.Lock() // no write of it in flight past this point
	c.mu.Lock()
	op := c.ops[id]
	if op != nil {
		op.ended = true
		delete(c.ops, id)
	}
	c.mu.Unlock()
	c.wmu.Unlock()
	if op != nil {
		op.cancel()
	}
}

// enqueueLocked puts a driven operation with pending values on the
// writer's list and wakes it. c.mu is held.
func (c *conn) enqueueLocked(op *operation) {
	if !op.driven || op.queued || op.pending == 0 || op.ended {
		return
	}
	op.queued = true
	c.ready = append(c.ready, op)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop is the connection's writer: it takes the values its driven
// operations signalled, renders them, and writes them out together.
func (c *conn) writeLoop() {
	var (
		batch  []*operation
		counts []int
		out    []outgoing
	)
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
		}
		c.mu.Lock()
		batch, c.ready = c.ready, batch[:0]
		counts = counts[:0]
		for _, op := range batch {
			n := op.pending
			if op.ended {
				n = 0
			}
			counts = append(counts, n)
			op.pending, op.queued = 0, false
		}
		c.mu.Unlock()

		out = out[:0]
		for i, op := range batch {
			for range counts[i] {
				resp, errs := c.respond(op)
				if errs != nil || resp == nil {
					out = append(out, outgoing{op: op, end: true, errs: errs})
					break
				}
				out = append(out, outgoing{op: op, msg: nextMessage(op.id, resp)})
			}
		}
		c.writeBatch(out)
		for _, o := range out {
			if o.end {
				c.end(o.op, o.errs)
			}
		}
		clear(batch)
		clear(out)
	}
}

// outgoing is a rendered message of a driven operation, or its end.
type outgoing struct {
	op   *operation
	msg  []byte
	end  bool
	errs gqlerror.List
}

// writeBatch writes the messages of one pass of the writer with one write
// to the socket, each unless its operation ended meanwhile.
func (c *conn) writeBatch(out []outgoing) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.cork.cork()
	defer c.cork.uncork()
	for _, o := range out {
		if o.end || c.ended(o.op) {
			continue
		}
		if err := c.ws.Write(context.Background(), websocket.MessageText, o.msg); err != nil {
			return // the connection is gone; its reader ends it
		}
	}
}

// ended tells whether nothing more goes out for op.
func (c *conn) ended(op *operation) bool {
	if op == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return op.ended
}

// writeMessage writes one message of op (nil: of the connection) unless op
// has ended; it reports whether it was written.
func (c *conn) writeMessage(op *operation, msg []byte) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ended(op) {
		return false
	}
	return c.ws.Write(context.Background(), websocket.MessageText, msg) == nil
}

// writeFrame writes a message of the connection's own.
func (c *conn) writeFrame(f frame) {
	b, err := json.Marshal(f)
	if err != nil {
		panic(err) // strings and valid raw JSON only
	}
	c.writeMessage(nil, b)
}

// writeNext writes a response of op.
func (c *conn) writeNext(op *operation, id string, resp *graphql.Response) bool {
	return c.writeMessage(op, nextMessage(id, resp))
}

// writeError writes the error message that ends op.
func (c *conn) writeError(op *operation, id string, errs gqlerror.List) {
	payload, err := json.Marshal(errs)
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(frame{ID: id, Type: "error", Payload: payload})
	c.writeMessage(op, b)
}

// nextMessage renders a next message. A response with data only, every
// event of a subscription, is spliced together rather than marshalled a
// second time.
func nextMessage(id string, resp *graphql.Response) []byte {
	b := make([]byte, 0, len(resp.Data)+len(id)+48)
	b = append(b, `{"id":`...)
	b = appendString(b, id)
	b = append(b, `,"type":"next","payload":`...)
	if len(resp.Errors) == 0 && resp.Label == "" && resp.Path == nil && resp.HasNext == nil && len(resp.Extensions) == 0 {
		b = append(b, `{"data":`...)
		if len(resp.Data) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, resp.Data...)
		}
		b = append(b, '}')
	} else {
		payload, err := json.Marshal(resp)
		if err != nil {
			panic(err) // as gqlgen's transport does
		}
		b = append(b, payload...)
	}
	return append(b, '}')
}

// completeMessage renders the complete of id.
func completeMessage(id string) []byte {
	b := append([]byte(`{"id":`), appendString(nil, id)...)
	return append(b, `,"type":"complete"}`...)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// close sends a close frame with code; the first close wins. The close
// handshake runs in the background, as gqlgen's does: a vanished peer
// would hold it for seconds.
func (c *conn) close(code int, reason string) {
	c.mu.Lock()
	if c.closeCode != 0 {
		c.mu.Unlock()
		return
	}
	c.closeCode = code
	c.mu.Unlock()
	go c.ws.Close(websocket.StatusCode(code), reason)
}

// signalKey carries an operation's signal to its resolver.
type signalKey struct{}

// signal is how a subscription resolver drives its operation (see Stream).
type signal struct {
	c       *conn
	op      *operation
	claimed atomic.Bool
}

// notify records one value (or the close) on the operation's channel.
func (s *signal) notify() {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.op.pending++
	s.c.enqueueLocked(s.op)
}

// Stream opens a subscription's channel through open, handing it a notify
// function when the subscription runs on this transport (nil otherwise).
// The sender must then call notify once after each value it sends and once
// after it closes the channel, and never block on the channel for longer
// than the transport takes to read it: the transport reads the channel only
// when notified, from its connection's writer, and so needs no goroutine
// parked on it. Call it from the subscription resolver, which runs when
// the operation starts.
func Stream[T any](ctx context.Context, open func(notify func()) (<-chan T, error)) (<-chan T, error) {
	s, _ := ctx.Value(signalKey{}).(*signal)
	var notify func()
	if s != nil && !s.claimed.Load() {
		notify = s.notify
	}
	ch, err := open(notify)
	if err == nil && notify != nil {
		s.claimed.Store(true)
	}
	return ch, err
}

// hijackWriter hands coder/websocket the connection through a corkConn.
type hijackWriter struct {
	http.ResponseWriter
	cork *corkConn
}

// Hijack implements http.Hijacker.
func (w hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.cork.Conn = nc
	// A writer of its own: net/http's writes to nc directly.
	return w.cork, bufio.NewReadWriter(brw.Reader, bufio.NewWriter(w.cork)), nil
}

// Unwrap lets http.ResponseController reach the writer below.
func (w hijackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// corkConn holds back the writes coder/websocket flushes after every
// message while the writer writes a batch, and sends them with one write
// (one syscall) when the batch is done. Outside a batch it writes through,
// so control frames (pongs, close) written meanwhile go out at once, or
// with the batch.
type corkConn struct {
	net.Conn
	mu     sync.Mutex // every write to Conn is made under it
	corked bool
	buf    []byte
}

// maxCorkBuffer is the largest buffer a connection keeps between batches.
const maxCorkBuffer = 16 << 10

// Write implements net.Conn.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was held back. An error shows at the next write.
func (c *corkConn) uncork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) > 0 {
		c.Conn.Write(c.buf)
	}
	if cap(c.buf) > maxCorkBuffer {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
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
