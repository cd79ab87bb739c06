package mcp

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoginRequiredError(t *testing.T) {
	const msg = "Credential for user identity('alice') is not found for the connection 'gh'. Please login first to the connection by visiting https://gh.example/login"
	const login = "https://gatehouse.example/api/2.0/gatehouse/connections/gh/login"
	type elicitation struct {
		Mode, ElicitationID, URL, Message string
	}
	type body struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Data    struct {
				LoginURL     string        `json:"login_url"`
				ErrorCode    string        `json:"error_code"`
				Elicitations []elicitation `json:"elicitations"`
			} `json:"data"`
		} `json:"error"`
	}
	tests := []struct {
		name        string
		id          string
		elicitation bool
		code        int
	}{
		{name: "url elicitation client", id: `"r1"`, elicitation: true, code: -32042},
		{name: "plain client", id: `4`, code: CodeLoginRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := LoginRequiredError(json.RawMessage(tt.id), msg, login, tt.elicitation)
			var b body
			if err := json.Unmarshal(raw, &b); err != nil {
				t.Fatalf("not JSON: %v: %s", err, raw)
			}
			if b.JSONRPC != "2.0" || string(b.ID) != tt.id || b.Error.Code != tt.code || b.Error.Message != msg || b.Error.Data.LoginURL != login {
				t.Errorf("LoginRequiredError() = %s", raw)
			}
			if !tt.elicitation {
				if b.Error.Data.ErrorCode != "OAUTH_LOGIN_REQUIRED" || b.Error.Data.Elicitations != nil {
					t.Errorf("plain login error = %s, want error_code and no elicitations", raw)
				}
				return
			}
			if len(b.Error.Data.Elicitations) != 1 {
				t.Fatalf("elicitations = %v, want one", b.Error.Data.Elicitations)
			}
			e := b.Error.Data.Elicitations[0]
			if e.Mode != "url" || e.URL != login || e.Message != msg || len(e.ElicitationID) != 32 {
				t.Errorf("elicitation = %+v", e)
			}
			again := LoginRequiredError(json.RawMessage(tt.id), msg, login, true)
			var b2 body
			_ = json.Unmarshal(again, &b2)
			if d := cmp.Diff(e.ElicitationID, b2.Error.Data.Elicitations[0].ElicitationID); d == "" {
				t.Errorf("two elicitations share id %s", e.ElicitationID)
			}
		})
	}
}

func TestClientDeclaresURLElicitation(t *testing.T) {
	tests := []struct {
		name, params string
		want         bool
	}{
		{name: "url declared", params: `{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"c","version":"1"}}`, want: true},
		{name: "form and url", params: `{"capabilities":{"elicitation":{"form":{},"url":{}}}}`, want: true},
		{name: "elicitation without modes is form only", params: `{"capabilities":{"elicitation":{}}}`},
		{name: "form only", params: `{"capabilities":{"elicitation":{"form":{}}}}`},
		{name: "no capabilities", params: `{}`},
		{name: "url not an object", params: `{"capabilities":{"elicitation":{"url":true}}}`},
		{name: "malformed", params: `{"capabilities":`},
		{name: "empty", params: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClientDeclaresURLElicitation(json.RawMessage(tt.params)); got != tt.want {
				t.Errorf("ClientDeclaresURLElicitation(%s) = %v, want %v", tt.params, got, tt.want)
			}
		})
	}
}
