// Command mcpserver is the MCP benchmark's upstream: an MCP server built with the official
// Go SDK, served with the Streamable HTTP transport over HTTPS on loopback at /mcp, with one
// tool, echo. It requires the bearer token given with -token (the credential Gatehouse
// injects), speaks HTTP/1.1 (or HTTP/2 too, with -http2), prints its base URL and writes
// its certificate to a PEM file so that Gatehouse and the bench client can trust it.
// GET /bench/conns answers the number of connections accepted so far.
package main

import (
	"context"
	"crypto/subtle"
	"encoding/pem"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type echoIn struct {
	Text string `json:"text"`
}

func main() {
	caFile := flag.String("ca-out", "mcpserver-ca.pem", "where to write the certificate")
	token := flag.String("token", "", "bearer token every request must carry (empty: none)")
	h2 := flag.Bool("http2", false, "offer HTTP/2 as well as HTTP/1.1 (TLS ALPN)")
	flag.Parse()

	srv := mcp.NewServer(&mcp.Implementation{Name: "bench-mcpserver", Version: "1.0.0"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "echo", Description: "echoes its text"}, func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	want := []byte("Bearer " + *token)
	mux := http.NewServeMux()
	mux.Handle("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, "bad credential", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	// The bench counts the TLS connections Gatehouse (or the direct client) opens: a
	// keep-alive pool that works opens few however many calls go through it.
	var accepted atomic.Int64
	mux.HandleFunc("/bench/conns", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, accepted.Load())
	})
	ts := httptest.NewUnstartedServer(mux)
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted.Add(1)
		}
	}
	ts.EnableHTTP2 = *h2
	ts.StartTLS()
	defer ts.Close()
	if err := os.WriteFile(*caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ts.URL)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
