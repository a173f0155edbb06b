// Package persisted lets clients run operations by the hash of their text
// instead of the text, in one of two modes:
//
//   - Automatic Persisted Queries (Apollo's protocol): a client sends
//     extensions.persistedQuery {version: 1, sha256Hash}; an unknown hash
//     is answered with PERSISTED_QUERY_NOT_FOUND, the client resends the
//     hash with the query, and the server registers the query, once it
//     has parsed, validated and passed the limits, for every later
//     request by hash. Registered queries live in this process (an LRU)
//     and, when a Store is given, in Redis, shared by every instance.
//   - Trusted documents: only the operations of a manifest run, asked for
//     by hash (extensions.persistedQuery, or documentId as the
//     GraphQL-over-HTTP persisted documents proposal has it) or sent in
//     full; anything else is refused with PERSISTED_QUERY_NOT_ALLOWED
//     before it is parsed, and nothing is registered.
//
// Either way the text found by hash goes through parsing, validation and
// the operation limits like any other: a hash only spares the upload.
package persisted

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Defaults of Config.
const (
	// DefaultCacheSize is how many registered queries one process keeps: a
	// client fleet sends a few hundred distinct operations.
	DefaultCacheSize = 1000
	// DefaultMaxQueryBytes bounds a query that may be registered: ample for
	// generated client documents (10,000 tokens, the default token limit,
	// are about 60 KB of typical GraphQL), small enough that a full cache
	// stays under 64 MiB.
	DefaultMaxQueryBytes = 64 << 10
)

// Store keeps registered queries where every instance finds them
// (internal/redis implements it). Its errors are logged and then treated
// as a miss: a client whose hash is not found sends the query again, so an
// outage costs uploads, never operations.
type Store interface {
	GetQuery(ctx context.Context, hash string) (query string, ok bool, err error)
	SetQuery(ctx context.Context, hash, query string) error
}

// Config configures New.
type Config struct {
	// Trusted, when set, is trusted documents mode: only its documents run.
	Trusted *Manifest
	// Store shares registered queries among instances; nil keeps them in
	// this process only. Unused in trusted documents mode.
	Store Store
	// CacheSize is how many registered queries this process keeps, in
	// front of Store; 0 means DefaultCacheSize.
	CacheSize int
	// MaxQueryBytes bounds a query that may be registered; 0 means
	// DefaultMaxQueryBytes.
	MaxQueryBytes int
	// MayRegister says whether the caller of ctx may register queries;
	// nil lets everyone. Others still run queries by hash and as text.
	MayRegister func(ctx context.Context) bool
	// Logger reports Store failures; nil discards them.
	Logger *slog.Logger
}

// Extension is the gqlgen extension that resolves hashes to queries and
// registers new ones. Install it after the limits and the rate limiter: it
// registers a query only once the operation has passed them.
type Extension struct {
	cfg   Config
	local graphql.Cache[string]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = (*Extension)(nil)

// New returns the extension for cfg.
func New(cfg Config) *Extension {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.MaxQueryBytes <= 0 {
		cfg.MaxQueryBytes = DefaultMaxQueryBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Extension{cfg: cfg, local: lru.New[string](cfg.CacheSize)}
}

// Hash is the id of a document: the hex SHA-256 of its text, as clients
// compute it.
func Hash(query string) string {
	sum := sha256.Sum256([]byte(query))
	return hex.EncodeToString(sum[:])
}

// ExtensionName implements graphql.HandlerExtension.
func (*Extension) ExtensionName() string { return "PersistedQueries" }

// Validate implements graphql.HandlerExtension.
func (*Extension) Validate(graphql.ExecutableSchema) error { return nil }

type documentIDKey struct{}

// WithDocumentID carries the documentId of a request (the GraphQL-over-HTTP
// persisted documents proposal) to the extension: gqlgen's request
// parameters have no field for it, so the transport that reads it puts it
// in the context.
func WithDocumentID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, documentIDKey{}, id)
}

// registration is what MutateOperationParameters leaves for
// MutateOperationContext: a query to register once it has validated.
type registration struct{ hash string }

// statsKey names the registration among the operation's extension stats.
const statsKey = "PersistedQueries"

// MutateOperationParameters implements graphql.OperationParameterMutator:
// it runs before the query is parsed, and puts the query a hash names in
// its place, or refuses the request.
func (e *Extension) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	hash, err := requestedHash(ctx, raw)
	if err != nil {
		return presented(err)
	}
	if e.cfg.Trusted != nil {
		return presented(e.trusted(raw, hash))
	}
	if hash == "" {
		return nil // a plain request
	}
	if raw.Query == "" {
		query, ok := e.lookup(ctx, hash)
		if !ok {
			return presented(&shipgraph.Error{Code: shipgraph.CodePersistedQueryNotFound, Message: notFoundMessage})
		}
		raw.Query = query
		return nil
	}
	if Hash(raw.Query) != hash {
		return presented(errHashMismatch)
	}
	if len(raw.Query) > e.cfg.MaxQueryBytes {
		return presented(shipgraph.Errorf(shipgraph.CodeBadUserInput,
			"the query is %d bytes, more than the %d a persisted query may have; send it without extensions.persistedQuery", len(raw.Query), e.cfg.MaxQueryBytes))
	}
	if e.cfg.MayRegister != nil && !e.cfg.MayRegister(ctx) {
		return nil // it runs as sent, and is not kept
	}
	if _, known := e.local.Get(ctx, hash); !known {
		graphql.GetOperationContext(ctx).Stats.SetExtension(statsKey, &registration{hash: hash})
	}
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator: it
// runs once the query has parsed, validated and passed the limits and the
// rate limiter, and only then registers it, so that a query that can
// never run takes no room.
func (e *Extension) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	reg, _ := op.Stats.GetExtension(statsKey).(*registration)
	if reg == nil {
		return nil
	}
	e.local.Add(ctx, reg.hash, op.RawQuery)
	if e.cfg.Store != nil {
		if err := e.cfg.Store.SetQuery(ctx, reg.hash, op.RawQuery); err != nil {
			e.cfg.Logger.WarnContext(ctx, "persisted query not shared: the store failed", "hash", reg.hash, "error", err)
		}
	}
	return nil
}

// lookup finds a registered query: in this process, else in the store.
func (e *Extension) lookup(ctx context.Context, hash string) (string, bool) {
	if query, ok := e.local.Get(ctx, hash); ok {
		return query, true
	}
	if e.cfg.Store == nil {
		return "", false
	}
	query, ok, err := e.cfg.Store.GetQuery(ctx, hash)
	if err != nil {
		e.cfg.Logger.WarnContext(ctx, "persisted query lookup failed; answering not found", "hash", hash, "error", err)
		return "", false
	}
	// The store holds only what passed the checks here (of this or another
	// instance); a hash names one text forever, so the copy never goes stale.
	if ok && Hash(query) == hash {
		e.local.Add(ctx, hash, query)
		return query, true
	}
	return "", false
}

// trusted applies trusted documents mode: the request must name, or be, a
// document of the manifest.
func (e *Extension) trusted(raw *graphql.RawParams, hash string) error {
	if hash == "" {
		if _, ok := e.cfg.Trusted.Lookup(Hash(raw.Query)); !ok {
			return &shipgraph.Error{Code: shipgraph.CodePersistedQueryNotAllowed,
				Message: "this server runs only trusted documents, and this operation is not one of them"}
		}
		return nil
	}
	doc, ok := e.cfg.Trusted.Lookup(hash)
	if !ok {
		// Not PERSISTED_QUERY_NOT_FOUND: an APQ client would answer that by
		// sending the text, which is refused all the same.
		return &shipgraph.Error{Code: shipgraph.CodePersistedQueryNotAllowed,
			Message: "this server runs only trusted documents, and none has this hash"}
	}
	if raw.Query != "" && raw.Query != doc {
		return errHashMismatch
	}
	raw.Query = doc
	return nil
}

// notFoundMessage is the message Apollo Server and gqlgen send with
// PERSISTED_QUERY_NOT_FOUND; Apollo's older links match it rather than
// the code.
const notFoundMessage = "PersistedQueryNotFound"

var errHashMismatch = shipgraph.InvalidField("extensions.persistedQuery.sha256Hash", "the hash does not match the query: it must be the hex SHA-256 of the query text")

// requestedHash returns the lowercase hex hash a request names, through
// extensions.persistedQuery or documentId, or "" when it names none.
func requestedHash(ctx context.Context, raw *graphql.RawParams) (string, error) {
	var fromExt, fromID string
	if pq, ok := raw.Extensions["persistedQuery"]; ok && pq != nil {
		obj, ok := pq.(map[string]any)
		if !ok {
			return "", shipgraph.InvalidField("extensions.persistedQuery", "must be an object {version: 1, sha256Hash}")
		}
		if v, ok := number(obj["version"]); !ok || v != 1 {
			return "", shipgraph.InvalidField("extensions.persistedQuery.version", "unsupported persisted query version: only version 1 is")
		}
		s, _ := obj["sha256Hash"].(string)
		if fromExt, ok = hexHash(s); !ok {
			return "", shipgraph.InvalidField("extensions.persistedQuery.sha256Hash", "must be a SHA-256 hash in hex (64 digits)")
		}
	}
	if id, _ := ctx.Value(documentIDKey{}).(string); id != "" {
		var ok bool
		if fromID, ok = hexHash(strings.TrimPrefix(id, "sha256:")); !ok {
			return "", shipgraph.InvalidField("documentId", "must be sha256:<hex SHA-256 of the document> (or the bare hex hash)")
		}
	}
	if fromExt != "" && fromID != "" && fromExt != fromID {
		return "", shipgraph.InvalidField("documentId", "documentId and extensions.persistedQuery name different documents")
	}
	if fromExt != "" {
		return fromExt, nil
	}
	return fromID, nil
}

// hexHash returns s in lowercase if it is 64 hex digits.
func hexHash(s string) (string, bool) {
	if len(s) != sha256.Size*2 {
		return "", false
	}
	s = strings.ToLower(s)
	if _, err := hex.DecodeString(s); err != nil {
		return "", false
	}
	return s, true
}

// number reads a JSON number as the transports decode it: json.Number
// (ours, which keeps numbers exact) or float64 (gqlgen's WebSocket and SSE
// transports).
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := strconv.ParseInt(string(n), 10, 64)
		return i, err == nil
	case float64:
		return int64(n), float64(int64(n)) == n
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

// presented turns a refusal into the GraphQL error the client sees. It is
// complete here (message and extensions.code), because gqlgen's WebSocket
// transport sends errors of this stage without the error presenter; over
// HTTP the presenter finds the shipgraph.Error inside and shows the same.
func presented(err error) *gqlerror.Error {
	if err == nil {
		return nil
	}
	var se *shipgraph.Error
	if !errors.As(err, &se) {
		se = shipgraph.Internal(err)
	}
	ext := map[string]any{"code": string(se.Code)}
	if se.Field != "" {
		ext["field"] = se.Field
	}
	return &gqlerror.Error{Message: se.Message, Extensions: ext, Err: se}
}
