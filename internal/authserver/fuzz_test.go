package authserver_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/authserver"
)

// FuzzParseClientDoc: a client ID metadata document from anywhere never panics, and
// one accepted names the client_id it was fetched from and only allowed redirect URIs.
func FuzzParseClientDoc(f *testing.F) {
	f.Add("https://c.example/a", []byte(`{"client_id":"https://c.example/a","redirect_uris":["http://127.0.0.1/cb"]}`))
	f.Add("https://c.example/a", []byte(`{"client_id":"https://c.example/a","redirect_uris":["http://evil.example/cb"]}`))
	f.Add("https://c.example/a", []byte(`[]`))
	f.Fuzz(func(t *testing.T, id string, raw []byte) {
		doc, err := authserver.ParseClientDoc(id, raw)
		if err != nil {
			return
		}
		if doc.ClientID != id || len(doc.RedirectURIs) == 0 {
			t.Fatalf("accepted %+v for %q", doc, id)
		}
	})
}

// FuzzCheckClientID: any client_id is judged without panicking.
func FuzzCheckClientID(f *testing.F) {
	for _, s := range []string{"https://c.example/a", "http://c.example/a", "https://u@c.example/a", "https://c.example/../a", "https://c.example/#f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) { _ = authserver.CheckClientID(id) })
}
