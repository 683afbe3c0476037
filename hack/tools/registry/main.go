// Command registry serves an OCI distribution registry (go-containerregistry's
// pkg/registry) for the local cluster to pull hotreload's images from:
//
//	registry --addr 127.0.0.1:5000 --dir bin/registry/blobs
//
// Blobs are files under --dir (in memory without one); manifests and tags are
// kept in memory only, so a restarted registry has no images until they are
// pushed again (make push). Requests are logged to stderr. It stops on SIGTERM
// or SIGINT, letting the requests under way finish.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// shutdownGrace is how long requests under way may take once told to stop.
const shutdownGrace = 10 * time.Second

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "address to listen on")
	dir := flag.String("dir", "", "directory for the blobs (default: in memory)")
	flag.Parse()
	logger := log.New(os.Stderr, "registry: ", log.LstdFlags)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Fatal(err)
	}
	if err := serve(ctx, ln, *dir, logger); err != nil {
		logger.Fatal(err)
	}
}

// serve answers registry requests on ln, with blobs under dir (in memory when
// dir is empty), until ctx is done; then it waits for the requests under way
// and returns nil.
func serve(ctx context.Context, ln net.Listener, dir string, logger *log.Logger) error {
	opts := []registry.Option{registry.Logger(logger)}
	where := "in memory"
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(dir)))
		where = "under " + dir
	}
	srv := &http.Server{Handler: registry.New(opts...), ReadHeaderTimeout: 10 * time.Second, ErrorLog: logger}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Printf("serving on %s, blobs %s", ln.Addr(), where)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Print("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
