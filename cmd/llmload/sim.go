package main

import (
	"context"
	"errors"
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
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:8000", "listen address")
	cfg := sim.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: llmload sim [flags]\n\nServes a vLLM-compatible simulated OpenAI endpoint (see docs/sim.md).\n\nFlags:")
			printFlags(stdout, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "llmload sim: %v (see llmload sim --help)\n", err)
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "llmload sim: unexpected argument %q\n", fs.Arg(0))
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
