package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// config is everything the environment configures. Every setting has a
// default that works on a developer machine; see the README's table.
type config struct {
	DatabaseURL     string        // DATABASE_URL
	Addr            string        // SHIPGRAPH_ADDR
	LogLevel        slog.Level    // SHIPGRAPH_LOG_LEVEL: debug, info, warn, error
	LogFormat       string        // SHIPGRAPH_LOG_FORMAT: json or text
	DBMaxConns      int32         // SHIPGRAPH_DB_MAX_CONNS
	DBConnTimeout   time.Duration // SHIPGRAPH_DB_CONNECT_TIMEOUT
	AutoMigrate     bool          // SHIPGRAPH_AUTO_MIGRATE: serve applies pending migrations
	ShutdownTimeout time.Duration // SHIPGRAPH_SHUTDOWN_TIMEOUT
	LoaderWait      time.Duration // SHIPGRAPH_LOADER_WAIT: batch window of the dataloaders
	MaxBodyBytes    int64         // SHIPGRAPH_MAX_BODY_BYTES
	PprofAddr       string        // SHIPGRAPH_PPROF_ADDR: profiler listener, off when empty
}

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/shipgraph?sslmode=disable"

// envWithDotenv returns a getenv that falls back to the variables of a .env
// file in the working directory, if there is one. The real environment wins,
// so an operator can always override the file.
func envWithDotenv(getenv func(string) string) (func(string) string, error) {
	file := getenv("SHIPGRAPH_ENV_FILE")
	if file == "" {
		file = ".env"
	}
	vars, err := godotenv.Read(file)
	if errors.Is(err, fs.ErrNotExist) {
		return getenv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return vars[k]
	}, nil
}

// loadConfig reads and checks the configuration.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		DatabaseURL: getenv("DATABASE_URL"),
		Addr:        getenv("SHIPGRAPH_ADDR"),
		LogFormat:   strings.ToLower(getenv("SHIPGRAPH_LOG_FORMAT")),
		PprofAddr:   getenv("SHIPGRAPH_PPROF_ADDR"),
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = defaultDatabaseURL
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	switch c.LogFormat {
	case "":
		c.LogFormat = "json"
	case "json", "text":
	default:
		return c, fmt.Errorf("SHIPGRAPH_LOG_FORMAT must be json or text, not %q", c.LogFormat)
	}
	if v := getenv("SHIPGRAPH_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("SHIPGRAPH_LOG_LEVEL: %w", err)
		}
	}
	var err error
	parse := func(name string, def string, set func(string) error) {
		if err != nil {
			return
		}
		v := getenv(name)
		if v == "" {
			v = def
		}
		if e := set(v); e != nil {
			err = fmt.Errorf("%s=%q: %w", name, v, e)
		}
	}
	duration := func(dst *time.Duration) func(string) error {
		return func(s string) (e error) { *dst, e = time.ParseDuration(s); return e }
	}
	parse("SHIPGRAPH_DB_MAX_CONNS", "10", func(s string) error {
		n, e := strconv.ParseInt(s, 10, 32)
		c.DBMaxConns = int32(n)
		return e
	})
	parse("SHIPGRAPH_DB_CONNECT_TIMEOUT", "5s", duration(&c.DBConnTimeout))
	parse("SHIPGRAPH_SHUTDOWN_TIMEOUT", "15s", duration(&c.ShutdownTimeout))
	parse("SHIPGRAPH_LOADER_WAIT", "500us", duration(&c.LoaderWait))
	parse("SHIPGRAPH_AUTO_MIGRATE", "true", func(s string) (e error) { c.AutoMigrate, e = strconv.ParseBool(s); return e })
	parse("SHIPGRAPH_MAX_BODY_BYTES", "1048576", func(s string) (e error) { c.MaxBodyBytes, e = strconv.ParseInt(s, 10, 64); return e })
	return c, err
}

// redactURL hides the password of a connection URL, for logs and output.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
