package ratelimit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Extension is the gqlgen extension that charges each operation to its
// caller before it executes and refuses it with RATE_LIMITED when the
// caller's budget cannot pay. Install it after the limits extension, whose
// node count it prices.
type Extension struct {
	Limiter *Limiter
	// Caller names whose budget an operation spends (a user, a client
	// address). Operations with the same name share a budget.
	Caller func(ctx context.Context) string
	// Nodes is how many nodes the operation may return (see
	// limits.NodesOf); nil prices every operation at one point.
	Nodes func(op *graphql.OperationContext) int64
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = Extension{}

// statsKey names the Status among the operation context's extension stats.
const statsKey = "RateLimit"

// ExtensionName implements graphql.HandlerExtension.
func (Extension) ExtensionName() string { return "RateLimit" }

// Validate implements graphql.HandlerExtension.
func (e Extension) Validate(graphql.ExecutableSchema) error {
	if e.Limiter == nil || e.Caller == nil {
		return fmt.Errorf("ratelimit: Extension needs a Limiter and a Caller")
	}
	return nil
}

// MutateOperationContext charges the operation. The status goes into the
// operation's stats (for the rateLimit field, see StatusFrom) and into the
// HTTP response's headers (see Headers).
func (e Extension) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	var nodes int64
	if e.Nodes != nil {
		nodes = e.Nodes(op)
	}
	st, ok := e.Limiter.Charge(ctx, e.Caller(ctx), Cost(nodes))
	op.Stats.SetExtension(statsKey, &st)
	if v := verdictFrom(ctx); v != nil {
		v.status, v.refused = &st, !ok
	}
	if ok {
		return nil
	}
	return &gqlerror.Error{
		Message: fmt.Sprintf("rate limit exceeded: this operation costs %d points and %d of your %d remain until %s",
			st.Cost, st.Remaining, st.Limit, st.ResetAt.UTC().Format(time.RFC3339)),
		Extensions: map[string]any{
			"code":      string(shipgraph.CodeRateLimited),
			"cost":      st.Cost,
			"limit":     st.Limit,
			"remaining": st.Remaining,
			"resetAt":   st.ResetAt.UTC().Format(time.RFC3339),
		},
	}
}

// StatusFrom returns the rate limit status of the operation ctx belongs to,
// after its own cost; nil when the operation was not charged.
func StatusFrom(ctx context.Context) *Status {
	if !graphql.HasOperationContext(ctx) {
		return nil
	}
	st, _ := graphql.GetOperationContext(ctx).Stats.GetExtension(statsKey).(*Status)
	return st
}

// verdict carries the charge of a request's operation from the extension,
// which knows it, to the response writer, which reports it.
type verdict struct {
	clientIP string
	status   *Status
	refused  bool
}

type verdictKey struct{}

func verdictFrom(ctx context.Context) *verdict {
	v, _ := ctx.Value(verdictKey{}).(*verdict)
	return v
}

// ClientIP is the address of the peer that sent the request ctx belongs
// to, as seen by Headers; "" outside it. It is the TCP peer: forwarding
// headers are not trusted, so behind a proxy every anonymous caller is the
// proxy.
func ClientIP(ctx context.Context) string {
	if v := verdictFrom(ctx); v != nil {
		return v.clientIP
	}
	return ""
}

// Headers wraps the GraphQL HTTP handler. It reports the charge of the
// request's operation as X-RateLimit-Limit, X-RateLimit-Remaining,
// X-RateLimit-Used and X-RateLimit-Reset (unix seconds) headers, and turns
// a refused operation's response into a 429 with Retry-After. A request
// refused before it was charged (unparsable, over a limit) gets none of
// them. WebSocket upgrades pass through untouched: their connection is
// hijacked, and their operations are charged one by one.
func Headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		v := &verdict{clientIP: r.RemoteAddr}
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			v.clientIP = host
		}
		ctx := context.WithValue(r.Context(), verdictKey{}, v)
		next.ServeHTTP(&headerWriter{ResponseWriter: w, v: v}, r.WithContext(ctx))
	})
}

// headerWriter adds the verdict's headers when the response starts.
type headerWriter struct {
	http.ResponseWriter
	v       *verdict
	started bool
}

func (w *headerWriter) WriteHeader(code int) {
	if !w.started && code >= http.StatusOK {
		w.started = true
		if st := w.v.status; st != nil {
			h := w.Header()
			h.Set("X-RateLimit-Limit", strconv.Itoa(st.Limit))
			h.Set("X-RateLimit-Remaining", strconv.Itoa(st.Remaining))
			h.Set("X-RateLimit-Used", strconv.Itoa(st.Used()))
			h.Set("X-RateLimit-Reset", strconv.FormatInt(st.ResetAt.Unix(), 10))
			if w.v.refused {
				wait := max(int64(time.Until(st.ResetAt).Seconds()+0.999), 1)
				h.Set("Retry-After", strconv.FormatInt(wait, 10))
				if code == http.StatusOK {
					code = http.StatusTooManyRequests
				}
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(b []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush lets an event stream (SSE) push each event; gqlgen's SSE transport
// asserts http.Flusher rather than using a ResponseController.
func (w *headerWriter) Flush() {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}
