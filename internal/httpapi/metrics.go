package httpapi

import (
	"bytes"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/buildinfo"
)

// metricsContentType is the Prometheus text exposition format, version 0.0.4.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// metrics answers GET /metrics in the Prometheus text exposition format 0.0.4, without
// authentication, as scrapers expect. It shows counts only, never a name of a principal
// or a destination: anyone who can reach the port can read it.
//
// Families are sorted by name and samples by their label values, so that the output is
// stable from one scrape to the next.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer

	bi := buildinfo.Get()
	writeMetricHeader(&b, "gatehouse_build_info", "gauge", "Build information of the running Gatehouse (as `gatehouse version` prints it); always 1.")
	writeSample(&b, "gatehouse_build_info", []metricLabel{{"version", bi.Version}, {"commit", bi.Commit}, {"goversion", bi.GoVersion}}, 1)

	writeMetricHeader(&b, "gatehouse_network_denials_total", "counter",
		"Outbound connections the network policy denied (access_type DROP) or, in DRY_RUN, would have denied (DRY_RUN_DENIAL), by source (proxy, oauth, egress).")
	if s.NetworkCounts != nil {
		type sample struct {
			source, accessType string
			n                  int64
		}
		var samples []sample
		for k, n := range s.NetworkCounts() {
			if n < 0 {
				continue // a counter never goes down; a negative count is a bug upstream
			}
			source, accessType := k, ""
			if i := strings.LastIndexByte(k, '/'); i >= 0 {
				source, accessType = k[:i], k[i+1:]
			}
			samples = append(samples, sample{source, accessType, n})
		}
		sort.Slice(samples, func(i, j int) bool {
			if samples[i].source != samples[j].source {
				return samples[i].source < samples[j].source
			}
			return samples[i].accessType < samples[j].accessType
		})
		for _, sm := range samples {
			writeSample(&b, "gatehouse_network_denials_total", []metricLabel{{"source", sm.source}, {"access_type", sm.accessType}}, sm.n)
		}
	}

	w.Header().Set("Content-Type", metricsContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}

type metricLabel struct{ name, value string }

// writeMetricHeader writes the HELP and TYPE lines of a family. HELP text escapes
// backslash and newline.
func writeMetricHeader(b *bytes.Buffer, name, typ, help string) {
	help = strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help)
	b.WriteString("# HELP " + name + " " + help + "\n")
	b.WriteString("# TYPE " + name + " " + typ + "\n")
}

// writeSample writes one sample line. Label values escape backslash, double quote and
// newline, and must be UTF-8: invalid bytes become U+FFFD.
func writeSample(b *bytes.Buffer, name string, labels []metricLabel, v int64) {
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l.name)
			b.WriteString(`="`)
			b.WriteString(escapeLabelValue(l.value))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(v, 10))
	b.WriteByte('\n')
}

var labelValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabelValue(v string) string {
	return labelValueEscaper.Replace(strings.ToValidUTF8(v, "\uFFFD"))
}
