package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmload/llmload/stack/sim"
)

func simCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("llmload sim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8000", "listen address")
	cfg := sim.RegisterFlags(fs)
	pos, code, done := parseCommandFlags(fs, args, "Serves a vLLM-compatible simulated OpenAI endpoint (see docs/sim.md).", stdout, stderr)
	if done {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "llmload sim: unexpected argument %q\n", pos[0])
		return exitConfig
	}
	srv, err := sim.New(*cfg, prometheus.NewRegistry())
	if err != nil {
		fmt.Fprintf(stderr, "llmload sim: %v\n", err)
		return exitConfig
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "llmload sim: --addr: %v\n", err)
		return exitConfig
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Fprintf(stdout, "llmload sim: serving %s (profile %s) on http://%s\n", cfg.Model, cfg.Profile, ln.Addr())
	if err := srv.Serve(ln); err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "llmload sim: %v\n", err)
		return 1
	}
	return exitOK
}
