package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/shipgraph/shipgraph/internal/auth"
	"github.com/shipgraph/shipgraph/internal/persisted"
)

// loadTrustedDocuments reads SHIPGRAPH_TRUSTED_DOCUMENTS, nil when unset.
// A manifest that cannot be read, or whose ids are not the SHA-256 of
// their documents, stops serve before it listens: running with a broken
// allow-list would refuse every client, or the wrong ones.
func loadTrustedDocuments(cfg config, log *slog.Logger) (*persisted.Manifest, error) {
	if cfg.TrustedDocuments == "" {
		return nil, nil
	}
	m, err := persisted.LoadManifest(cfg.TrustedDocuments)
	if err != nil {
		return nil, err
	}
	log.Info("trusted documents mode: only the manifest's operations run", "manifest", cfg.TrustedDocuments, "operations", m.Len())
	return m, nil
}

// persistedQueries is the persisted queries extension of the GraphQL
// endpoint: trusted documents when a manifest is loaded, else Automatic
// Persisted Queries shared through Redis when there is one.
func persistedQueries(d serverDeps) *persisted.Extension {
	cfg := persisted.Config{
		Trusted:       d.TrustedDocuments,
		CacheSize:     d.Config.APQCacheSize,
		MaxQueryBytes: d.Config.APQMaxQueryBytes,
		Logger:        d.Logger,
		// Only callers with a token register: an anonymous client could
		// otherwise fill Redis with valid queries (each passes validation
		// before any field asks for a token), bounded only by its rate
		// limit. Anonymous clients still run registered hashes and text.
		MayRegister: func(ctx context.Context) bool {
			_, ok := auth.PrincipalFrom(ctx)
			return ok
		},
	}
	if d.Redis != nil {
		cfg.Store = d.Redis.PersistedQueries(d.Config.APQTTL)
	}
	return persisted.New(cfg)
}

// graphiQLOff stands in for GraphiQL in trusted documents mode: GraphiQL
// sends whatever its user types (and an introspection query first), all of
// which the server would refuse, so it says why instead of failing.
var graphiQLOff = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte("GraphiQL is off: this server runs only the operations of its trusted documents manifest (SHIPGRAPH_TRUSTED_DOCUMENTS).\n"))
})
