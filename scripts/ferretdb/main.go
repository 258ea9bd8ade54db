// Command ferretdb-local runs FerretDB (MongoDB wire protocol on SQLite) on loopback for
// MetricSync's integration tests. It embeds github.com/FerretDB/FerretDB/ferretdb rather than
// building cmd/ferretdb, whose published module lacks build/version/version.txt and panics at start.
//
// Usage: ferretdb-local -listen 127.0.0.1:27017 -data /abs/dir
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on (loopback only)")
	dataDir := flag.String("data", "", "existing directory for the SQLite databases (required)")
	flag.Parse()

	if *dataDir == "" {
		log.Fatal("-data is required: pass an existing directory for the SQLite files")
	}

	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		log.Fatalf("resolve -data %q: %v", *dataDir, err)
	}

	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		log.Fatalf("-data %q is not an existing directory", dir)
	}

	if !strings.HasSuffix(dir, "/") {
		dir += "/"
	}

	cfg := ferretdb.Config{
		Listener: ferretdb.ListenerConfig{
			TCP: *listen,
		},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir,
		Logger:    slog.New(&lazyHandler{base: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})}),
	}

	f, err := ferretdb.New(&cfg)
	if err != nil {
		log.Fatalf("configure FerretDB: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	fmt.Fprintf(os.Stderr, "ferretdb-local: listening on %s, data in %s\n", *listen, dir)

	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatalf("FerretDB stopped: %v", err)
	}

	fmt.Fprintln(os.Stderr, "ferretdb-local: stopped")
}

// lazyHandler formats the attributes a logger was given with `With` only when a record is
// written. FerretDB's SQL layer attaches every statement's arguments (whole documents, as JSON)
// to a debug logger per statement; slog's built-in handlers, which `slog.Default()` (the
// embedding API's default) uses, format them at `With` time even though debug records are then
// dropped: measured, 12-20 % of FerretDB's CPU under MetricSync's inserts. FerretDB's own binary
// logs through its console handler, which defers the same way; this gives the embedded server
// the same cost.
type lazyHandler struct {
	base  slog.Handler
	attrs []slog.Attr
}

func (h *lazyHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.base.Enabled(ctx, level)
}

func (h *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	base := h.base
	if len(h.attrs) > 0 {
		base = base.WithAttrs(h.attrs)
	}

	return base.Handle(ctx, r)
}

func (h *lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}

	return &lazyHandler{base: h.base, attrs: append(slices.Clip(h.attrs), attrs...)}
}

func (h *lazyHandler) WithGroup(name string) slog.Handler {
	base := h.base
	if len(h.attrs) > 0 {
		base = base.WithAttrs(h.attrs) // attributes before the group stay outside it
	}

	return &lazyHandler{base: base.WithGroup(name)}
}
