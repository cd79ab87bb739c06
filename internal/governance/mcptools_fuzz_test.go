package governance

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/mcp"
)

// memTools is an in-memory catalog.MCPToolStore (the rest of catalog.Store is absent:
// the gate needs nothing else), with the SQLite store's version rule.
type memTools struct {
	catalog.Store
	recs map[string]catalog.MCPTool
}

func (m *memTools) ListMCPTools(_ context.Context, _ string) ([]*catalog.MCPTool, error) {
	out := make([]*catalog.MCPTool, 0, len(m.recs))
	for _, r := range m.recs {
		c := r
		out = append(out, &c)
	}
	slices.SortFunc(out, func(a, b *catalog.MCPTool) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *memTools) GetMCPTool(_ context.Context, _, name string) (*catalog.MCPTool, error) {
	r, ok := m.recs[name]
	if !ok {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "no tool %s", name)
	}
	return &r, nil
}

func (m *memTools) PutMCPTools(_ context.Context, _ string, ts []*catalog.MCPTool) error {
	for _, t := range ts {
		if len(t.Description) > catalog.MaxMCPToolDescription || !t.State.Valid() || t.Name == "" || len(t.Name) > catalog.MaxMCPToolName {
			return fmt.Errorf("invalid record %q", t.Name)
		}
		if r, ok := m.recs[t.Name]; ok != (t.Version != 0) || ok && r.Version != t.Version {
			return catalog.Errorf(catalog.ResourceAlreadyExists, "stale")
		}
	}
	for _, t := range ts {
		t.Version++
		m.recs[t.Name] = *t
	}
	return nil
}

// FuzzObserveTools feeds listings of whatever tools a server may list (one listing per
// line: "name=description" entries separated by ';', a line starting with '!' listed
// with pinning off) through the gate, and checks after each that the gate's two answers
// agree: on a pinning connection a listed tool is callable exactly when the listing did
// not hide it, and a tool is shown only when every definition listed under its name is
// its pin; without pinning nothing is hidden and everything is callable.
func FuzzObserveTools(f *testing.F) {
	f.Add("a=x;b=y\na=x;b=z\na=x;b=y;c=w\n!a=q\na=q;a=x")
	f.Add("a=1;a=2\n\na=1\nb=\n!b=1\nb=2")
	f.Add(strings.Repeat("x", 300) + "=long;ok=1\nok=2")
	f.Fuzz(func(t *testing.T, script string) {
		if len(script) > 4096 {
			return
		}
		now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		st := &memTools{recs: map[string]catalog.MCPTool{}}
		svc := New(Deps{Store: st, Now: func() time.Time { return now }})
		ctx := context.Background()
		conn := &catalog.Connection{ID: "c1", Name: "conn", Options: map[string]string{}}
		for _, line := range strings.Split(script, "\n") {
			now = now.Add(time.Duration(len(line)) * time.Second)
			pin := !strings.HasPrefix(line, "!")
			conn.Options[catalog.OptMCPPinTools] = fmt.Sprint(pin)
			var defs []mcp.ToolDefinition
			for _, e := range strings.Split(strings.TrimPrefix(line, "!"), ";") {
				name, desc, _ := strings.Cut(e, "=")
				if name == "" {
					continue
				}
				raw, _ := json.Marshal(map[string]string{"name": name, "description": desc})
				d, err := mcp.ToolDefinitionOf(raw)
				if err != nil {
					continue // not valid UTF-8 once marshalled, or similar: the proxy would not list it
				}
				defs = append(defs, d)
			}
			hidden, err := svc.ObserveTools(ctx, conn, "fuzz", defs)
			if err != nil {
				t.Fatalf("ObserveTools: %v", err)
			}
			if !pin && len(hidden) != 0 {
				t.Fatalf("nothing may be hidden without pinning; hidden %v", hidden)
			}
			byName := map[string][]string{}
			for _, d := range defs {
				byName[d.Name] = append(byName[d.Name], d.Hash)
			}
			for name, hashes := range byName {
				reason, err := svc.ToolCallable(ctx, conn, name)
				if err != nil {
					t.Fatalf("ToolCallable(%q): %v", name, err)
				}
				_, isHidden := hidden[name]
				if (reason == "") == isHidden {
					t.Fatalf("tool %q: hidden %v (%q) but callable reason %q", name, isHidden, hidden[name], reason)
				}
				if !pin || isHidden {
					continue
				}
				r := st.recs[name]
				for _, h := range hashes {
					if h != r.PinHash {
						t.Fatalf("tool %q shown although a definition listed (%s) is not its pin (%s)", name, h, r.PinHash)
					}
				}
			}
			for name := range hidden {
				if _, listed := byName[name]; !listed {
					t.Fatalf("hidden %q was not listed", name)
				}
			}
		}
	})
}
