//go:build gatehouse_benchpprof

package main

// This file is only in a binary built with -tags gatehouse_benchpprof, which bench/mcp.sh
// does when it is asked to profile (MCP_PROFILE=dir). The product build has no profiling
// endpoint: this one listens on the loopback address in BENCH_PPROF_ADDR only.

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"strconv"
	"strings"
)

func init() {
	addr := os.Getenv("BENCH_PPROF_ADDR")
	if addr == "" {
		return
	}
	// BENCH_MEMPROFILE_RATE samples the heap profile finer than the default (one sample
	// per 512 KiB allocated), to see per-stream objects of a few hundred bytes.
	if n, err := strconv.Atoi(os.Getenv("BENCH_MEMPROFILE_RATE")); err == nil && n > 0 {
		runtime.MemProfileRate = n
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		fmt.Fprintln(os.Stderr, "gatehouse: BENCH_PPROF_ADDR must be a 127.0.0.1 address")
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse: bench pprof:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() { _ = http.Serve(ln, mux) }()
	fmt.Fprintln(os.Stderr, "bench pprof on http://"+ln.Addr().String())
}
