package bound_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/bound"
)

// BenchmarkRequestLine measures the request log line, written for every call, with and
// without the bounding handler in front of the text handler.
//
//	go test -run=^$ -bench=RequestLine -benchmem ./internal/bound
func BenchmarkRequestLine(b *testing.B) {
	for name, h := range map[string]slog.Handler{
		"text":         slog.NewTextHandler(io.Discard, nil),
		"bounded text": bound.NewHandler(slog.NewTextHandler(io.Discard, nil), 0),
	} {
		b.Run(name, func(b *testing.B) {
			l := slog.New(h)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				l.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("request_id", "2f0c6a1b9d8e7f6a5b4c3d2e"), slog.String("method", "GET"),
					slog.String("path", "/api/2.0/unity-catalog/connections/github/proxy/repos/x/issues"), slog.Int("status", 200),
					slog.String("principal", "alice@example.com"), slog.Int64("duration_ms", int64(3*time.Millisecond/time.Millisecond)))
			}
		})
	}
}
