// Package graphqlhttp is a gqlgen transport for GraphQL over HTTP (POST and
// GET) that follows the GraphQL-over-HTTP specification more closely than
// gqlgen's stock transports: validation errors are 200 for
// application/json and 400 without a data key for
// application/graphql-response+json; GET never runs a mutation (405);
// bodies over the limit are refused with 413; malformed requests get a
// clear message that does not echo the body back. A request may name a
// persisted document by documentId (the spec's persisted documents
// appendix) instead of sending a query; internal/persisted resolves it.
package graphqlhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/shipgraph/shipgraph/internal/persisted"
)

// Media types of responses.
const (
	ContentTypeJSON            = "application/json"
	ContentTypeGraphQLResponse = "application/graphql-response+json"
)

// DefaultMaxBodyBytes bounds a request body when Transport.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// Transport serves queries and mutations over POST and queries over GET.
type Transport struct {
	// MaxBodyBytes bounds the request body; larger bodies get 413.
	MaxBodyBytes int64
}

var _ graphql.Transport = Transport{}

// Supports claims plain HTTP GET and POST requests; WebSocket upgrades and
// event streams belong to other transports.
func (Transport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	if r.Method == http.MethodGet {
		return !strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	}
	return r.Method == http.MethodPost
}

// responseType picks the response media type from Accept: the spec's own
// type when the client lists it, else JSON, which every client reads.
func responseType(r *http.Request) string {
	if strings.Contains(r.Header.Get("Accept"), ContentTypeGraphQLResponse) {
		return ContentTypeGraphQLResponse
	}
	return ContentTypeJSON
}

// Do implements graphql.Transport.
func (t Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctype := responseType(r)
	w.Header().Set("Content-Type", ctype+"; charset=utf-8")
	w.Header().Add("Vary", "Accept")

	params, documentID, status, msg := t.readParams(w, r)
	if msg != "" {
		requestError(w, status, msg)
		return
	}
	params.Headers = r.Header
	start := graphql.Now()
	params.ReadTime = graphql.TraceTiming{Start: start, End: start}

	ctx := r.Context()
	if documentID != "" {
		ctx = persisted.WithDocumentID(ctx, documentID)
	}
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		// A request that never executed: parse or validation errors.
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		if ctype == ContentTypeGraphQLResponse && errcode.GetErrorKind(errs) == errcode.KindProtocol {
			writeJSON(w, http.StatusBadRequest, struct {
				Errors     gqlerror.List  `json:"errors"`
				Extensions map[string]any `json:"extensions,omitempty"`
			}{resp.Errors, resp.Extensions})
			return
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	if r.Method == http.MethodGet && opCtx.Operation.Operation != ast.Query {
		// GET must be safe: a link or an <img> must not change anything.
		w.Header().Set("Allow", "POST")
		requestError(w, http.StatusMethodNotAllowed, "GET requests can only run queries; send "+string(opCtx.Operation.Operation)+"s with POST")
		return
	}
	handler, ctx := exec.DispatchOperation(ctx, opCtx)
	writeResponse(w, handler(ctx))
}

// writeResponse writes an executed response. The data is already JSON that
// gqlgen wrote; json.Marshal would re-validate and compact it, which costs
// as much as a tenth of a large query. The data is also the bulk of the
// response (126 KB for make bench's query), so it is written as it is, not
// copied into one buffer with the envelope around it.
func writeResponse(w http.ResponseWriter, resp *graphql.Response) {
	head := make([]byte, 0, 64)
	head = append(head, '{')
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			writeJSON(w, http.StatusOK, resp)
			return
		}
		head = append(append(append(head, `"errors":`...), errs...), ',')
	}
	head = append(head, `"data":`...)
	data := []byte(resp.Data)
	if len(data) == 0 {
		data = []byte("null")
	}
	tail := make([]byte, 0, 16)
	if len(resp.Extensions) > 0 {
		ext, err := json.Marshal(resp.Extensions)
		if err != nil {
			writeJSON(w, http.StatusOK, resp)
			return
		}
		tail = append(append(tail, `,"extensions":`...), ext...)
	}
	tail = append(tail, '}')
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(data)+len(tail)))
	w.WriteHeader(http.StatusOK)
	w.Write(head)
	w.Write(data)
	w.Write(tail)
}

// readParams decodes the request, and the documentId of the
// GraphQL-over-HTTP persisted documents proposal, which gqlgen's parameters
// have no field for. On failure it returns the status and a message for
// the client.
func (t Transport) readParams(w http.ResponseWriter, r *http.Request) (*graphql.RawParams, string, int, string) {
	params := &graphql.RawParams{}
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		params.Query = q.Get("query")
		documentID := q.Get("documentId")
		params.OperationName = q.Get("operationName")
		for _, f := range []struct {
			name string
			dst  any
		}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
			if v := q.Get(f.name); v != "" {
				if err := decode(strings.NewReader(v), f.dst); err != nil {
					return nil, "", http.StatusBadRequest, "the " + f.name + " parameter is not a JSON object"
				}
			}
		}
		if params.Query == "" && params.Extensions == nil && documentID == "" {
			return nil, "", http.StatusBadRequest, "missing query parameter"
		}
		return params, documentID, 0, ""
	}

	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != ContentTypeJSON {
		// Only JSON: form and text/plain bodies are what a cross-site form
		// can send without a CORS preflight.
		return nil, "", http.StatusUnsupportedMediaType, "send the request as application/json"
	}
	limit := t.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, "", http.StatusRequestEntityTooLarge, "request body is larger than the limit of " + strconv.FormatInt(limit, 10) + " bytes"
	case err != nil:
		return nil, "", http.StatusBadRequest, "could not read the request body"
	}
	var req struct {
		*graphql.RawParams
		DocumentID string `json:"documentId"`
	}
	req.RawParams = params
	if err := decode(bytes.NewReader(body), &req); err != nil {
		return nil, "", http.StatusBadRequest, "the request body is not a valid GraphQL JSON request"
	}
	if params.Query == "" && params.Extensions == nil && req.DocumentID == "" {
		return nil, "", http.StatusBadRequest, "missing query"
	}
	return params, req.DocumentID, 0, ""
}

// decode reads one JSON value, keeping numbers exact for variables.
func decode(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// requestError answers a request that could not be read as GraphQL at all.
func requestError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, struct {
		Errors gqlerror.List `json:"errors"`
	}{gqlerror.List{{Message: msg, Extensions: map[string]any{"code": "BAD_REQUEST"}}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errors":[{"message":"internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`)
	}
	w.WriteHeader(status)
	w.Write(b)
}
