package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/consentry/consentry/banner/demo"
)

// demoCmd serves the demo page of one site until ctx ends (make run starts it).
func demoCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "address of the demo page (one of the site's origins)")
	consentURL := fs.String("consent", "http://127.0.0.1:8080", "base URL of the Consentry service")
	site := fs.String("site", "shop", "site whose banner the page embeds")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: demo.New(*site, *consentURL), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "demo page of site %q on http://%s (banner from %s)\n", *site, ln.Addr(), *consentURL)
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
