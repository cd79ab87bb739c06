package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOIDCConfig(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("  s3cret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("s3cret-value"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	full := map[string]string{"GATEHOUSE_OIDC_ISSUER": "https://idp.example.com/realms/x", "GATEHOUSE_OIDC_CLIENT_ID": "gatehouse",
		"GATEHOUSE_OIDC_CLIENT_SECRET_FILE": secret}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string // "" for none
		want    *oidcConfig
	}{
		{name: "off", env: map[string]string{}},
		{name: "on", env: full, want: &oidcConfig{Issuer: "https://idp.example.com/realms/x", ClientID: "gatehouse", UsernameClaim: "email", ClientSecret: "s3cret-value"}},
		{name: "issuer kept as written", env: with("GATEHOUSE_OIDC_ISSUER", "https://tenant.example.com/"),
			want: &oidcConfig{Issuer: "https://tenant.example.com/", ClientID: "gatehouse", UsernameClaim: "email", ClientSecret: "s3cret-value"}},
		{name: "claim and auto-create", env: with("GATEHOUSE_OIDC_USERNAME_CLAIM", "preferred_username", "GATEHOUSE_OIDC_AUTO_CREATE_USERS", "true"),
			want: &oidcConfig{Issuer: "https://idp.example.com/realms/x", ClientID: "gatehouse", UsernameClaim: "preferred_username", ClientSecret: "s3cret-value", AutoCreate: true}},
		{name: "http issuer refused", env: with("GATEHOUSE_OIDC_ISSUER", "http://idp.example.com"), wantErr: "oidc-issuer: \"http://idp.example.com\" must be https"},
		{name: "http loopback without dev refused", env: with("GATEHOUSE_OIDC_ISSUER", "http://127.0.0.1:9000"), wantErr: "must be https"},
		{name: "http loopback with dev", env: with("GATEHOUSE_OIDC_ISSUER", "http://127.0.0.1:9000", "GATEHOUSE_DEV", "true"),
			want: &oidcConfig{Issuer: "http://127.0.0.1:9000", ClientID: "gatehouse", UsernameClaim: "email", ClientSecret: "s3cret-value"}},
		{name: "http non-loopback with dev refused", env: with("GATEHOUSE_OIDC_ISSUER", "http://10.0.0.5", "GATEHOUSE_DEV", "true"), wantErr: "must be https"},
		{name: "issuer with query refused", env: with("GATEHOUSE_OIDC_ISSUER", "https://idp.example.com/?x=1"), wantErr: "nothing after the path"},
		{name: "ftp issuer refused", env: with("GATEHOUSE_OIDC_ISSUER", "ftp://idp.example.com"), wantErr: "must be an https URL"},
		{name: "client id missing", env: with("GATEHOUSE_OIDC_CLIENT_ID", ""), wantErr: "oidc-client-id: needed"},
		{name: "secret file missing", env: with("GATEHOUSE_OIDC_CLIENT_SECRET_FILE", ""), wantErr: "oidc-client-secret-file: needed"},
		{name: "secret file unreadable", env: with("GATEHOUSE_OIDC_CLIENT_SECRET_FILE", filepath.Join(dir, "nope")), wantErr: "oidc-client-secret-file: open"},
		{name: "secret file empty", env: with("GATEHOUSE_OIDC_CLIENT_SECRET_FILE", empty), wantErr: "is empty"},
		{name: "secret file readable by others is warned", env: with("GATEHOUSE_OIDC_CLIENT_SECRET_FILE", open),
			want: &oidcConfig{Issuer: "https://idp.example.com/realms/x", ClientID: "gatehouse", UsernameClaim: "email", ClientSecret: "s3cret-value",
				Warning: "oidc-client-secret-file " + open + " is accessible by group or others (mode 0644); it holds the OpenID client secret: chmod 600 " + open}},
		{name: "client id without issuer refused", env: map[string]string{"GATEHOUSE_OIDC_CLIENT_ID": "x"}, wantErr: "need --oidc-issuer"},
		{name: "auto-create not a bool", env: with("GATEHOUSE_OIDC_AUTO_CREATE_USERS", "sometimes"), wantErr: "oidc-auto-create-users"},
		{name: "empty claim refused", env: with("GATEHOUSE_OIDC_USERNAME_CLAIM", " "), wantErr: "oidc-username-claim"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := serverCommand(&env{getenv: func(string) string { return "" }})
			cfg, err := loadServerConfig(cmd.Flags(), mapEnv(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("loadServerConfig = %v, want an error with %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret-value") {
					t.Fatal("the error quotes the client secret")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == nil && cfg.OIDC != nil:
				t.Fatalf("OIDC = %+v, want off", cfg.OIDC)
			case tc.want != nil && (cfg.OIDC == nil || *cfg.OIDC != *tc.want):
				t.Fatalf("OIDC = %+v, want %+v", cfg.OIDC, tc.want)
			}
		})
	}
}
