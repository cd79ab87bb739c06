package mcp

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSSEFilter(t *testing.T) {
	allow, _ := ParseAllowList("read")
	ids := IDSet{}
	ids.Add([]byte("1"))
	list := `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read"},{"name":"delete"}]}}`
	kept := `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read"}]}}`
	other := `{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"delete"}]}}`
	tests := []struct {
		name string
		in   string
		ids  IDSet
		max  int
		want string // "" = unchanged
	}{
		{name: "tools/list rewritten", in: "data: " + list + "\n\n", want: "data: " + kept + "\n\n"},
		{name: "crlf framing", in: "event: message\r\nid: 5\r\ndata: " + list + "\r\n\r\n", want: "event: message\r\nid: 5\r\ndata: " + kept + "\r\n\r\n"},
		{name: "cr framing", in: "data: " + list + "\r\r", want: "data: " + kept + "\r\r"},
		{name: "no space after colon", in: "data:" + list + "\n\n", want: "data: " + kept + "\n\n"},
		{name: "multi-line data joined", in: "data: {\"jsonrpc\":\"2.0\",\"id\":1,\ndata: \"result\":{\"tools\":[{\"name\":\"delete\"}]}}\n\n",
			want: "data: {\"jsonrpc\":\"2.0\",\"id\":1,\ndata: \"result\":{\"tools\":[]}}\n\n"},
		{name: "comment first passes, comment inside kept", in: ": ping\n\nid: 9\n: inside\ndata: " + list + "\n\n", want: ": ping\n\nid: 9\n: inside\ndata: " + kept + "\n\n"},
		{name: "other id untouched", in: "data: " + other + "\n\n"},
		{name: "no ids: nothing rewritten", in: "data: " + list + "\n\n", ids: IDSet{}},
		{name: "progress then result", in: "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\ndata: " + list + "\n\n",
			want: "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\ndata: " + kept + "\n\n"},
		{name: "bom before first data", in: "\xEF\xBB\xBFdata: " + list + "\n\n", want: "data: " + kept + "\n\n"},
		{name: "unterminated event judged", in: "data: " + list, want: "data: " + kept + "\n"},
		{name: "unterminated comment passes", in: ": c"},
		{name: "retry and unknown fields kept", in: "retry: 100\nfoo\ndata: " + list + "\n\n", want: "retry: 100\nfoo\ndata: " + kept + "\n\n"},
		{name: "uninspectable answer replaced", in: "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[],\"tools\":[{\"name\":\"delete\"}]}}\n\n",
			want: "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32603,\"message\":\"Gatehouse could not inspect the tools/list response\"}}\n\n"},
		{name: "oversized pending answer dropped", max: 64, in: "data: " + list + "\n\ndata: x\n\n",
			want: "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32603,\"message\":\"Gatehouse could not inspect the tools/list response: the event is too large\"}}\n\ndata: x\n\n"},
		{name: "oversized without pending passes", max: 64, ids: IDSet{}, in: "id: 1\r\ndata: " + list + "\r\n\r\ndata: x\n\n"},
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
	}
	for _, tt := range tests {
		for rname, wrap := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				f := &SSEFilter{Policy: Policy{Allow: allow}, IDs: ids, MaxEventBytes: tt.max}
				if tt.ids != nil {
					f.IDs = tt.ids
				}
				var out bytes.Buffer
				if err := f.Copy(&out, wrap(strings.NewReader(tt.in))); err != nil {
					t.Fatalf("Copy() error = %v", err)
				}
				want := tt.want
				if want == "" {
					want = tt.in
				}
				if out.String() != want {
					t.Errorf("Copy() =\n%q\nwant\n%q", out.String(), want)
				}
			})
		}
	}
}

// flushRecorder records what had been written at each flush.
type flushRecorder struct {
	bytes.Buffer
	flushed []string
}

func (f *flushRecorder) Flush() { f.flushed = append(f.flushed, f.String()) }

func TestSSEFilterRelaysEventByEvent(t *testing.T) {
	pr, pw := io.Pipe()
	rec := &flushRecorder{}
	done := make(chan error, 1)
	f := &SSEFilter{IDs: IDSet{}}
	go func() { done <- f.Copy(rec, pr) }()
	// Each write is read as its own chunk by the filter; the event must be flushed
	// before the next one is written (io.Pipe blocks until read).
	if _, err := pw.Write([]byte(": first\n\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte("data: a\n\n")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(rec.flushed) < 2 || rec.flushed[0] != ": first\n\n" {
		t.Errorf("flushes = %q, want the comment flushed on its own first", rec.flushed)
	}
}

func TestSSEFilterReadError(t *testing.T) {
	f := &SSEFilter{}
	err := f.Copy(io.Discard, iotest.ErrReader(io.ErrUnexpectedEOF))
	if err == nil {
		t.Fatal("Copy() error = nil, want the read error")
	}
}

func TestSSEMessage(t *testing.T) {
	msg := ErrorResponse([]byte("3"), CodeToolNotAllowed, "Tool not allowed by connection gh", nil)
	got := SSEMessage(msg)
	data := sseData(got)
	if len(data) != 1 || string(data[0]) != string(msg) {
		t.Errorf("SSEMessage() = %q, want one event carrying %s", got, msg)
	}
}
