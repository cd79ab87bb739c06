package bound_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/bound"
)

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

// TestHandlerBoundsEveryString: a 1 MB attribute and attributes with a newline and an
// ANSI escape come out bounded and escaped, wherever they are in the record, for the
// text and the JSON handler.
func TestHandlerBoundsEveryString(t *testing.T) {
	mb := strings.Repeat("x", 1<<20)
	inject := "evil\nlevel=ERROR msg=forged \x1b[2J"
	cases := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"string attribute", func(l *slog.Logger) { l.Info("request", "path", "/"+mb, "note", inject) }},
		{"message", func(l *slog.Logger) { l.Info("lost: " + mb + inject) }},
		{"error value", func(l *slog.Logger) { l.Error("failed", "err", errors.New(mb+inject)) }},
		{"stringer and slice", func(l *slog.Logger) { l.Info("m", "s", stringer{mb + inject}, "list", []string{mb, inject}) }},
		{"group", func(l *slog.Logger) { l.Info("m", slog.Group("g", "path", mb, slog.Group("h", "v", inject))) }},
		{"with attrs", func(l *slog.Logger) { l.With("path", mb, "v", inject).Info("m") }},
		{"with group", func(l *slog.Logger) { l.WithGroup("g").Info("m", "path", mb, "v", inject) }},
		{"key", func(l *slog.Logger) { l.Info("m", mb+inject, 1) }},
		{"log valuer", func(l *slog.Logger) { l.Info("m", "v", valuer{mb + inject}) }},
	}
	formats := map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	}
	for fname, mk := range formats {
		for _, tc := range cases {
			t.Run(fname+"/"+tc.name, func(t *testing.T) {
				var buf bytes.Buffer
				tc.log(slog.New(bound.NewHandler(mk(&buf), 0)))
				out := buf.String()
				if n := strings.Count(out, "\n"); n != 1 {
					t.Errorf("output has %d lines, want 1: %.300q", n, out)
				}
				if len(out) > 4096 {
					t.Errorf("output is %d bytes, want at most 4096", len(out))
				}
				if strings.ContainsAny(out, "\x1b\r") {
					t.Errorf("output holds a raw control character: %.300q", out)
				}
				if strings.Contains(out, "xxxx") && !strings.Contains(out, "truncated, 1048") {
					t.Errorf("1 MB value not marked as truncated with its length: %.300q", out)
				}
				// The escape is visible as text: \x1b, which a JSON or text handler
				// shows with its backslash escaped.
				if strings.Contains(tc.name, "key") || strings.Contains(out, "evil") {
					if !strings.Contains(out, `\\x1b`) && !strings.Contains(out, "truncated") {
						t.Errorf("escape not shown as \\x1b: %.300q", out)
					}
				}
			})
		}
	}
}

type nopHandler struct{}

func (nopHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (nopHandler) Handle(context.Context, slog.Record) error { return nil }
func (h nopHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h nopHandler) WithGroup(string) slog.Handler           { return h }

type valuer struct{ s string }

func (v valuer) LogValue() slog.Value { return slog.StringValue(v.s) }

// TestHandlerPassesCleanRecords: a record with nothing to bound reaches the wrapped
// handler unchanged, numbers and times included, and costs no allocation.
func TestHandlerPassesCleanRecords(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(bound.NewHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}), 0))
	l.Info("request", "path", "/api/2.0/connections", "status", 200, "ok", true)
	want := `{"level":"INFO","msg":"request","path":"/api/2.0/connections","status":200,"ok":true}` + "\n"
	if buf.String() != want {
		t.Errorf("got %s want %s", buf.String(), want)
	}
	h := bound.NewHandler(nopHandler{}, 0)
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("request_id", "abc"), slog.String("method", "GET"), slog.String("path", "/api/2.0/x"), slog.Int("status", 200))
	if n := testing.AllocsPerRun(100, func() { _ = h.Handle(context.Background(), r) }); n > 0 {
		t.Errorf("a clean record allocates %v times in the handler, want 0", n)
	}
}

// FuzzHandler: whatever string a record carries as its message, a key, a value, an
// error or inside a group, the JSON line that comes out is one line of valid JSON,
// bounded, with no raw control character once decoded.
func FuzzHandler(f *testing.F) {
	for _, s := range []string{"", "path", "a\nb", "\x1b[2J", "\xff\xfe", "é\u2028\u202e", strings.Repeat("x", 300)} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		var buf bytes.Buffer
		l := slog.New(bound.NewHandler(slog.NewJSONHandler(&buf, nil), 0))
		l.With(k, v).WithGroup(k).Info(v, k, v, "err", errors.New(v), slog.Group("g", k, v))
		out := buf.Bytes()
		if n := bytes.Count(out, []byte("\n")); n != 1 || out[len(out)-1] != '\n' {
			t.Fatalf("output is not one line: %q", out)
		}
		// Five strings of at most MaxLen(Limit) bytes and two (the message and the
		// error) of MaxLen(4*Limit), each escaped by JSON (up to 6 bytes per byte),
		// plus the fixed fields.
		if len(out) > 6*(5*bound.MaxLen(bound.Limit)+2*bound.MaxLen(4*bound.Limit))+200 {
			t.Fatalf("output is %d bytes", len(out))
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("output is not JSON: %v: %q", err, out)
		}
		var walk func(x any)
		walk = func(x any) {
			switch x := x.(type) {
			case string:
				if rawControl(x) {
					t.Fatalf("decoded value %q holds a control character", x)
				}
			case map[string]any:
				for k, v := range x {
					walk(k)
					walk(v)
				}
			}
		}
		walk(m)
	})
}

func rawControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 || (r >= 0x202a && r <= 0x202e)
	})
}
