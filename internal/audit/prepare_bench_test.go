package audit

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// BenchmarkPrepare measures the copy Record makes of a typical proxied call's event
// (the hot proxy path records one per call).
//
//	go test -run=^$ -bench=Prepare -benchmem ./internal/audit
func BenchmarkPrepare(b *testing.B) {
	e := &catalog.AuditEvent{
		EventID: catalog.NewID(), EventTime: time.Now(), ActionName: catalog.ActionUseConnection, Principal: "alice@example.com",
		SourceIP: "127.0.0.1", RequestID: "2f0c6a1b9d8e7f6a5b4c3d2e", Connection: "github", StatusCode: 200, Decision: catalog.DecisionAllow,
		Params: map[string]string{"method": "GET", "duration_ms": "3", "upstream_host": "api.github.com", "path": "/repos/gatehouse/gatehouse/issues",
			"bytes_in": "0", "bytes_out": "5120"},
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = prepare(e)
	}
}
