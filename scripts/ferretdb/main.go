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
	"os"
	"os/signal"
	"path/filepath"
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
