// Package requestlog holds what one log line tells about a request: a
// mutable Record that the HTTP middleware puts in the request's context and
// logs when the request ends, and that the layers in between (the GraphQL
// extension, the authentication) fill as they learn things: the operation's
// name and type, the caller, the codes of the errors it answered.
//
// A WebSocket connection carries many operations over one HTTP request; each
// of them gets a Record of its own (New on the operation's context), logged
// when the operation ends, so that a subscription's line has its own duration and
// codes rather than being folded into the connection's.
package requestlog

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// Record is what is known about one request (or one operation of a
// WebSocket connection). It is safe for concurrent use: resolvers of one
// operation run in parallel, and the events of a subscription arrive while
// the connection's other operations run.
type Record struct {
	// RequestID ties the line to the client's X-Request-ID and to the
	// other lines logged for the request.
	RequestID string
	// Multiplexed says the request carries many operations (a WebSocket
	// connection): each gets a record of its own, and this one only
	// tells about the connection.
	Multiplexed bool

	mu        sync.Mutex
	operation string
	opType    string
	user      string
	route     string
	codes     []string
	errors    int
}

type recordKey struct{}

// New returns ctx carrying a fresh record for the request id.
func New(ctx context.Context, requestID string) (context.Context, *Record) {
	r := &Record{RequestID: requestID}
	return context.WithValue(ctx, recordKey{}, r), r
}

// From returns the record of ctx, or nil outside a request. Every method of
// a nil *Record does nothing, so callers need not check.
func From(ctx context.Context) *Record {
	r, _ := ctx.Value(recordKey{}).(*Record)
	return r
}

// SetOperation records the operation's name ("" for an anonymous
// operation) and type (query, mutation, subscription).
func (r *Record) SetOperation(name, typ string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.operation, r.opType = name, typ
	r.mu.Unlock()
}

// SetUser records who made the request: a token's subject.
func (r *Record) SetUser(user string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.user = user
	r.mu.Unlock()
}

// SetRoute records the pattern of the route that served the request.
func (r *Record) SetRoute(pattern string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.route = pattern
	r.mu.Unlock()
}

// Route returns the pattern of the route that served the request, "" when
// none matched.
func (r *Record) Route() string {
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.route
}

// AddErrors records the codes of errors the request answered. Each code is
// listed once, in the order first seen (a page of a hundred NOT_FOUND is one
// NOT_FOUND); Errors counts them all. Codes only, never messages: messages
// can quote what the user sent.
func (r *Record) AddErrors(codes ...string) {
	if r == nil || len(codes) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors += len(codes)
	for _, c := range codes {
		if !slices.Contains(r.codes, c) {
			r.codes = append(r.codes, c)
		}
	}
}

// Summary is a snapshot of a record's GraphQL facts.
type Summary struct {
	Operation string   // "" when anonymous or unknown
	Type      string   // "" when the request carried no valid operation
	User      string   // "" when anonymous
	Codes     []string // distinct error codes, first seen first
	Errors    int      // number of errors
}

// Summary returns what the record holds now.
func (r *Record) Summary() Summary {
	if r == nil {
		return Summary{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return Summary{Operation: r.operation, Type: r.opType, User: r.user, Codes: slices.Clone(r.codes), Errors: r.errors}
}

// Attrs returns the record's attributes for the log line: operation and
// operation_type when there was an operation, user when there was a
// caller, and error_codes (always a list, empty when none).
func (r *Record) Attrs() []slog.Attr {
	if r == nil {
		return nil
	}
	s := r.Summary()
	attrs := make([]slog.Attr, 0, 4)
	if s.Type != "" {
		attrs = append(attrs, slog.String("operation", s.Operation), slog.String("operation_type", s.Type))
	}
	if s.User != "" {
		attrs = append(attrs, slog.String("user", s.User))
	}
	if s.Codes == nil {
		s.Codes = []string{}
	}
	return append(attrs, slog.Any("error_codes", s.Codes))
}
