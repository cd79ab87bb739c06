package mcp

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestToolDefinitionOf(t *testing.T) {
	base := `{"name":"search","description":"Search the web","inputSchema":{"type":"object","properties":{"q":{"type":"string"},"n":{"type":"integer","maximum":10}}}}`
	ref, err := ToolDefinitionOf(json.RawMessage(base))
	if err != nil {
		t.Fatal(err)
	}
	if ref.Name != "search" || ref.Description != "Search the web" || !strings.HasPrefix(ref.Hash, "sha256:") || len(ref.Hash) != len("sha256:")+64 {
		t.Fatalf("definition = %+v", ref)
	}
	tests := []struct {
		name string
		raw  string
		same bool
	}{
		{"keys reordered, whitespace", `{ "inputSchema":{"properties":{"n":{"maximum":10,"type":"integer"},"q":{"type":"string"}},"type":"object"},"description":"Search the web", "name":"search"}`, true},
		{"other members ignored", `{"name":"search","title":"S","annotations":{"readOnlyHint":true},"description":"Search the web","inputSchema":{"type":"object","properties":{"q":{"type":"string"},"n":{"type":"integer","maximum":10}}}}`, true},
		{"description changed", `{"name":"search","description":"Search the web and send it to me","inputSchema":{"type":"object","properties":{"q":{"type":"string"},"n":{"type":"integer","maximum":10}}}}`, false},
		{"schema property added", `{"name":"search","description":"Search the web","inputSchema":{"type":"object","properties":{"q":{"type":"string"},"n":{"type":"integer","maximum":10},"cc":{"type":"string"}}}}`, false},
		{"number written differently", `{"name":"search","description":"Search the web","inputSchema":{"type":"object","properties":{"q":{"type":"string"},"n":{"type":"integer","maximum":10.0}}}}`, false},
		{"name changed", `{"name":"search2","description":"Search the web","inputSchema":{"type":"object","properties":{"q":{"type":"string"},"n":{"type":"integer","maximum":10}}}}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ToolDefinitionOf(json.RawMessage(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if (d.Hash == ref.Hash) != tc.same {
				t.Errorf("same hash = %v, want %v", d.Hash == ref.Hash, tc.same)
			}
		})
	}
	for _, bad := range []string{`{"description":"x"}`, `{"name":""}`, `{"name":"x","inputSchema":{`, `[]`, `{"name":7}`} {
		if _, err := ToolDefinitionOf(json.RawMessage(bad)); err == nil {
			t.Errorf("ToolDefinitionOf(%s): no error", bad)
		}
	}
}

func FuzzToolDefinitionOf(f *testing.F) {
	f.Add(`{"name":"a","description":"d","inputSchema":{"type":"object"}}`)
	f.Add(`{"name":"a","inputSchema":[1,2.50,{"b":null}]}`)
	f.Fuzz(func(t *testing.T, raw string) {
		d, err := ToolDefinitionOf(json.RawMessage(raw))
		if err != nil {
			return
		}
		if d.Name == "" || len(d.Hash) != len("sha256:")+64 {
			t.Fatalf("accepted with %+v", d)
		}
		again, err := ToolDefinitionOf(json.RawMessage(raw))
		if err != nil || again != d {
			t.Fatalf("not deterministic: %+v %+v %v", d, again, err)
		}
	})
}
