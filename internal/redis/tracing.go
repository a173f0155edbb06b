package redis

import (
	"github.com/redis/go-redis/extra/redisotel/v9"
	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
)

// InstrumentTracing makes a span per command (and per pipeline, and per
// new connection) with tp. Give it a provider that only makes child spans
// (tracing.ChildOnly): the event bus's subscription works in the
// background, and its commands belong to no request.
//
// The spans carry the command's name, never its arguments
// (WithDBStatement(false)): keys name callers (rate limits) and published
// payloads are whole deployment events. No caller location either: it
// costs a stack walk per command.
//
// Call it before NewCache: the entity cache's client, made afterwards,
// is traced with tp too.
func (c *Client) InstrumentTracing(tp trace.TracerProvider) error {
	if err := instrumentTracing(c.rdb, tp); err != nil {
		return err
	}
	c.tracing = tp
	return nil
}

func instrumentTracing(rdb *goredis.Client, tp trace.TracerProvider) error {
	return redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(tp),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false),
	)
}
