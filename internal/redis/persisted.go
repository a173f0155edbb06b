package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// PersistedQueries returns the store of Automatic Persisted Queries kept in
// this Redis, so that a query registered on one instance runs by hash on
// every other. Each query expires ttl after it was last registered; 0
// keeps it until Redis evicts it. It implements persisted.Store.
func (c *Client) PersistedQueries(ttl time.Duration) *PersistedQueries {
	return &PersistedQueries{c: c, ttl: ttl}
}

// PersistedQueries keeps query texts by their SHA-256 under
// <prefix>apq:<hash>.
type PersistedQueries struct {
	c   *Client
	ttl time.Duration
}

func (p *PersistedQueries) key(hash string) string { return p.c.prefix + "apq:" + hash }

// GetQuery returns the query registered under hash.
func (p *PersistedQueries) GetQuery(ctx context.Context, hash string) (string, bool, error) {
	query, err := p.c.rdb.Get(ctx, p.key(hash)).Result()
	if errors.Is(err, goredis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("redis: persisted query: %w", err)
	}
	return query, true, nil
}

// SetQuery registers query under hash.
func (p *PersistedQueries) SetQuery(ctx context.Context, hash, query string) error {
	if err := p.c.rdb.Set(ctx, p.key(hash), query, p.ttl).Err(); err != nil {
		return fmt.Errorf("redis: persisted query: %w", err)
	}
	return nil
}
