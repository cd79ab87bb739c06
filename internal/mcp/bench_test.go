package mcp

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// BenchmarkSSEFilter measures relaying a stream of progress notifications and one
// tools/list answer through the filter (the cost the MCP proxy adds per stream byte).
func BenchmarkSSEFilter(b *testing.B) {
	allow, _ := ParseAllowList("read,list_*")
	var s strings.Builder
	for i := 0; i < 100; i++ {
		s.WriteString("event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":5}}\r\n\r\n")
	}
	s.WriteString("data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"read\"},{\"name\":\"delete\"}]}}\n\n")
	stream := []byte(s.String())
	ids := IDSet{}
	ids.Add([]byte("1"))
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		f := &SSEFilter{Policy: Policy{Allow: allow}, IDs: ids}
		if err := f.Copy(io.Discard, bytes.NewReader(stream)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseRequest measures parsing and judging one tools/call body.
func BenchmarkParseRequest(b *testing.B) {
	allow, _ := ParseAllowList("read,list_*")
	body := []byte(`{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"list_issues","arguments":{"repo":"gatehouse","state":"open","limit":50}}}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req, err := ParseRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		if !Judge(req, Policy{Connection: "gh", Allow: allow}).AllAllowed() {
			b.Fatal("refused")
		}
	}
}
