package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read"}}`,
		`[{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"delete"}},{"jsonrpc":"2.0","method":"n"}]`,
		`{"jsonrpc":"2.0","id":1,"result":{}}`,
		`{"jsonrpc":"2.0","id":1,"method":"x","Method":"tools/call"}`,
		`[]`, `{`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe_pinned"}},{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe_ok"}},{"jsonrpc":"2.0","method":"tools/call","params":{"name":"safe_err"}}]`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":"r","method":"resources/read","params":{"uri":"file:///x"}}`))
	allow, _ := ParseAllowList("read,safe_*")
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseRequest(body)
		if err != nil {
			return
		}
		// The routing headers as a client would send them always agree with the body.
		if !req.Batch {
			m := req.Messages[0]
			var method []string
			if m.Kind != KindResponse {
				method = []string{m.Method}
			}
			var name []string
			if m.Method == "tools/call" {
				name = []string{m.Tool}
			}
			if err := CheckHeaders(req, method, name); err != nil {
				t.Fatalf("headers taken from the body refused: %v", err)
			}
			if m.Method == "tools/call" {
				if CheckHeaders(req, method, []string{m.Tool + "x"}) == nil {
					t.Fatalf("a tool name other than the body's accepted")
				}
			}
		}
		// The pins refuse safe_pinned* tools and cannot be checked for safe_err* ones.
		gate := func(tool string) (string, error) {
			switch {
			case strings.HasPrefix(tool, "safe_err"):
				return "", errors.New("store down")
			case strings.HasPrefix(tool, "safe_pinned"):
				return "changed", nil
			}
			return "", nil
		}
		v := Judge(req, Policy{Connection: "c", Allow: allow, CallGate: gate})
		calls := ForwardedCalls(req, v)
		fwd := v.ForwardBody()
		// Whatever is forwarded re-parses to only allowed tools/calls.
		if fwd == nil {
			return
		}
		again, err := ParseRequest(fwd)
		if err != nil {
			t.Fatalf("forward body %q does not re-parse: %v", fwd, err)
		}
		for _, m := range again.Messages {
			if len(m.ID) > MaxIDBytes {
				t.Fatalf("id of %d bytes accepted", len(m.ID))
			}
			if m.Method == "tools/call" && !allow.Allowed(m.Tool) {
				t.Fatalf("disallowed tool %q forwarded in %q", m.Tool, fwd)
			}
			if m.Method == "tools/call" && (strings.HasPrefix(m.Tool, "safe_err") || strings.HasPrefix(m.Tool, "safe_pinned")) {
				t.Fatalf("tool %q the pins refuse forwarded in %q", m.Tool, fwd)
			}
		}
		// Every forwarded tools/call request is waited for, once.
		want := 0
		for _, m := range again.Messages {
			if m.Kind == KindRequest && m.Method == "tools/call" {
				want++
			}
		}
		if calls.Pending() != want {
			t.Fatalf("%d calls waited for, %d forwarded", calls.Pending(), want)
		}
		if v.AllAllowed() && !bytes.Equal(fwd, body) && !req.Batch {
			t.Fatalf("all allowed but single body changed")
		}
	})
}

// disallowedCanary is a tool name no fuzz allow-list admits; it must never survive.
const disallowedCanary = "zz_forbidden_tool"

// FuzzFilterToolsList checks that a disallowed tool never survives the filter (read back
// the way a client would), and that a body without a tools member is returned unchanged.
func FuzzFilterToolsList(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read"},{"name":"zz_forbidden_tool"}]}}`,
		`[{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"zz_forbidden_tool"}]}}]`,
		`{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a","name":"zz_forbidden_tool"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"TOOLS":[{"NAME":"zz_forbidden_tool"}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"safe_hidden"},{"name":"safe_ok","description":"d","inputSchema":{"type":"object"}}]}}`))
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"safe_boom"}]}},{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"read"}]}}]`))
	allow, _ := ParseAllowList("read,safe_*")
	// The pins hide safe_hidden* tools, and cannot be checked for a list holding safe_boom.
	gate := func(tools []ToolDefinition) (map[string]string, error) {
		hidden := map[string]string{}
		for _, d := range tools {
			if d.Name == "safe_boom" {
				return nil, errors.New("store down")
			}
			if strings.HasPrefix(d.Name, "safe_hidden") {
				hidden[d.Name] = "changed"
			}
		}
		return hidden, nil
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := FilterToolsList(body, Policy{Allow: allow}, nil)
		if err != nil {
			return
		}
		pinned, err := FilterToolsList(body, Policy{Allow: allow, ListGate: gate}, nil)
		if err != nil {
			t.Fatalf("the gate made an inspectable body uninspectable: %v", err)
		}
		for _, name := range clientToolNames(pinned) {
			if !allow.Allowed(name) || strings.HasPrefix(name, "safe_hidden") || name == "safe_boom" {
				t.Fatalf("tool %q the pins hide (or could not check) survived in %q", name, pinned)
			}
		}
		if !bytes.Contains(body, []byte("tools")) && !bytes.Equal(out, body) {
			t.Fatalf("body without tools changed:\n%q\n%q", body, out)
		}
		for _, name := range clientToolNames(out) {
			if !allow.Allowed(name) {
				t.Fatalf("disallowed tool %q survived in %q", name, out)
			}
		}
	})
}

// clientToolNames reads tool names the way a lenient Go client would (encoding/json:
// last duplicate wins, case-insensitive members).
func clientToolNames(body []byte) []string {
	type tool struct {
		Name string `json:"name"`
	}
	type resp struct {
		Result *struct {
			Tools []tool `json:"tools"`
		} `json:"result"`
	}
	var names []string
	var one resp
	if json.Unmarshal(body, &one) == nil && one.Result != nil {
		for _, t := range one.Result.Tools {
			names = append(names, t.Name)
		}
	}
	var many []resp
	if json.Unmarshal(body, &many) == nil {
		for _, r := range many {
			if r.Result != nil {
				for _, t := range r.Result.Tools {
					names = append(names, t.Name)
				}
			}
		}
	}
	return names
}

// FuzzSSEFilter checks that no event a client would dispatch carries a disallowed tool in
// an answer to a pending tools/list, and that a stream without "tools" passes unchanged.
func FuzzSSEFilter(f *testing.F) {
	for _, s := range []string{
		"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"zz_forbidden_tool\"}]}}\n\n",
		"event: message\r\nid: 3\r\ndata: {\"jsonrpc\":\"2.0\",\r\ndata: \"id\":1,\"result\":{\"tools\":[{\"name\":\"read\"}]}}\r\n\r\n",
		": ping\n\ndata: hello\rdata: x\r\r",
		"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"id\":1,\"result\":{\"TOOLS\":[{\"name\":\"zz_forbidden_tool\"}]}}\n\n",
		"\xEF\xBB\xBFdata:{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"zz_forbidden_tool\"}]}}",
	} {
		f.Add([]byte(s), uint16(0))
		f.Add([]byte(s), uint16(40))
	}
	f.Add([]byte("data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"isError\":true}}\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"safe_hidden\"}]}}\n\n"), uint16(0))
	f.Add([]byte("id: 1\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\r\ndata\r\ndata:\"error\":{\"code\":-32601}}\r\n\r\n"), uint16(30))
	allow, _ := ParseAllowList("read,safe_*")
	gate := func(tools []ToolDefinition) (map[string]string, error) {
		hidden := map[string]string{}
		for _, d := range tools {
			if strings.HasPrefix(d.Name, "safe_hidden") {
				hidden[d.Name] = "changed"
			}
		}
		return hidden, nil
	}
	f.Fuzz(func(t *testing.T, in []byte, max uint16) {
		ids := IDSet{}
		ids.Add([]byte("1"))
		// Without a tools/list pending (odd bounds), oversized events pass through and
		// their answers are still reported.
		if max%2 == 1 {
			ids = IDSet{}
		}
		var reported []string
		sf := &SSEFilter{Policy: Policy{Allow: allow, ListGate: gate}, IDs: ids, MaxEventBytes: int(max),
			OnAnswer: func(a Answer) { reported = append(reported, answerString(a)) }}
		var out bytes.Buffer
		if err := sf.Copy(&out, bytes.NewReader(in)); err != nil {
			t.Fatal(err)
		}
		// What is reported is what a client reads from the events it gets, but for the
		// errors Gatehouse puts in place of an event too large to inspect.
		var read []string
		for _, data := range sseData(out.Bytes()) {
			ScanAnswers(data, func(a Answer) { read = append(read, answerString(a)) })
		}
		if len(ids) == 0 || max == 0 || len(in) < int(max) {
			if strings.Join(reported, " ") != strings.Join(read, " ") {
				t.Fatalf("answers reported %q, a client reads %q from %q", reported, read, out.Bytes())
			}
		}
		// An event over the bound while a tools/list is pending is replaced by design, so
		// byte identity is checked when no event can be over it.
		fits := max == 0 || len(in) < int(max)
		noTools := !bytes.Contains(bytes.ToLower(in), []byte("tool")) && !bytes.Contains(in, []byte(`\u`))
		if fits && noTools && !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("stream without tools changed:\n%q\n%q", in, out.Bytes())
		}
		for _, data := range sseData(out.Bytes()) {
			var probe struct {
				ID json.RawMessage `json:"id"`
			}
			if json.Unmarshal(data, &probe) != nil || probe.ID == nil || !ids.Has(probe.ID) {
				continue
			}
			for _, name := range clientToolNames(data) {
				if !allow.Allowed(name) || strings.HasPrefix(name, "safe_hidden") {
					t.Fatalf("disallowed tool %q in event %q of %q", name, data, out.Bytes())
				}
			}
		}
	})
}

// sseData parses a stream the way the SSE spec's client does (lenient: the unterminated
// last event is dispatched too) and returns each event's data.
func sseData(stream []byte) [][]byte {
	stream = bytes.TrimPrefix(stream, []byte("\xEF\xBB\xBF"))
	var events [][]byte
	var data []byte
	n := 0
	dispatch := func() {
		if n > 0 {
			events = append(events, append([]byte(nil), data...))
		}
		data, n = data[:0], 0
	}
	for len(stream) > 0 {
		i := bytes.IndexAny(stream, "\r\n")
		line := stream
		if i < 0 {
			stream = nil
		} else {
			line = stream[:i]
			if stream[i] == '\r' && i+1 < len(stream) && stream[i+1] == '\n' {
				i++
			}
			stream = stream[i+1:]
		}
		if len(line) == 0 {
			dispatch()
			continue
		}
		if line[0] == ':' {
			continue
		}
		name, value := line, []byte(nil)
		if j := bytes.IndexByte(line, ':'); j >= 0 {
			name, value = line[:j], bytes.TrimPrefix(line[j+1:], []byte(" "))
		}
		if string(name) == "data" {
			if n > 0 {
				data = append(data, '\n')
			}
			data = append(data, value...)
			n++
		}
	}
	dispatch()
	return events
}
