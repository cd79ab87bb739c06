package main

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestEveryServerFlagHasItsVariable: each flag of `gatehouse server` can be set with a
// GATEHOUSE_* variable (the README's table relies on it), and the variable is read.
func TestEveryServerFlagHasItsVariable(t *testing.T) {
	cmd := serverCommand(&env{getenv: func(string) string { return "" }})
	seen := map[string]bool{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		seen[f.Name] = true
		if flagEnv[f.Name] == "" {
			t.Errorf("flag --%s has no GATEHOUSE_* variable in flagEnv", f.Name)
		}
	})
	for name := range flagEnv {
		if !seen[name] {
			t.Errorf("flagEnv names %s, which is not a flag", name)
		}
	}
	env := map[string]string{"GATEHOUSE_UPSTREAM_HEADER_TIMEOUT": "7s", "GATEHOUSE_PROXY_MAX_BODY_BYTES": "2048", "GATEHOUSE_OAUTH_LOGIN_TTL": "3m"}
	cfg, err := loadServerConfig(cmd.Flags(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Proxy.HeaderTimeout != 7*time.Second || cfg.Proxy.MaxRequestBytes != 2048 || cfg.LoginTTL != 3*time.Minute {
		t.Errorf("variables not applied: %+v, login ttl %v", cfg.Proxy, cfg.LoginTTL)
	}
}
