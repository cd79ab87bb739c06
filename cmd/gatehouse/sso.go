package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/webui"
)

// loadOIDCConfig reads and checks the --oidc-* flags (single sign-on, issue 12) into
// cfg.OIDC, returning every problem. They go together: with --oidc-issuer, the client
// id and a readable, non-empty secret file are needed; without it, none may be set.
func loadOIDCConfig(cfg *serverConfig, val func(string) string) []error {
	var problems []error
	issuer := val("oidc-issuer")
	o := &oidcConfig{Issuer: issuer, ClientID: val("oidc-client-id"), UsernameClaim: strings.TrimSpace(val("oidc-username-claim"))}
	secretFile := val("oidc-client-secret-file")
	auto, err := strconv.ParseBool(val("oidc-auto-create-users"))
	if err != nil {
		problems = append(problems, fmt.Errorf("oidc-auto-create-users: %q must be true or false", val("oidc-auto-create-users")))
	}
	o.AutoCreate = auto
	if issuer == "" {
		if o.ClientID != "" || secretFile != "" || auto {
			problems = append(problems, errors.New("oidc-issuer: --oidc-client-id, --oidc-client-secret-file and --oidc-auto-create-users need --oidc-issuer"))
		}
		return problems
	}
	u, err := url.Parse(issuer)
	switch {
	case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		problems = append(problems, fmt.Errorf("oidc-issuer: %q must be an https URL with a host and nothing after the path", issuer))
	case u.Scheme == "https":
	case u.Scheme == "http" && cfg.Dev && cliIsLoopback(strings.ToLower(u.Hostname())):
	case u.Scheme == "http":
		problems = append(problems, fmt.Errorf("oidc-issuer: %q must be https (http only for a loopback issuer with --dev)", issuer))
	default:
		problems = append(problems, fmt.Errorf("oidc-issuer: %q must be an https URL", issuer))
	}
	if o.ClientID == "" {
		problems = append(problems, errors.New("oidc-client-id: needed with --oidc-issuer"))
	}
	if o.UsernameClaim == "" {
		problems = append(problems, errors.New("oidc-username-claim: must not be empty"))
	}
	if secretFile == "" {
		problems = append(problems, errors.New("oidc-client-secret-file: needed with --oidc-issuer"))
	} else {
		b, err := os.ReadFile(secretFile)
		switch {
		case err != nil:
			problems = append(problems, fmt.Errorf("oidc-client-secret-file: %w", err))
		case strings.TrimSpace(string(b)) == "":
			problems = append(problems, fmt.Errorf("oidc-client-secret-file: %s is empty", secretFile))
		default:
			o.ClientSecret = strings.TrimSpace(string(b))
			if fi, err := os.Stat(secretFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
				o.Warning = fmt.Sprintf("oidc-client-secret-file %s is accessible by group or others (mode %04o); it holds the OpenID client secret: chmod 600 %s", secretFile, fi.Mode().Perm(), secretFile)
			}
		}
	}
	cfg.OIDC = o
	return problems
}

// ssoConfig is the web pages' single sign-on, or nil when it is not configured. The
// provider is reached through the OAuth client's HTTP client: the network policy's
// dialer, no proxy from the environment, no redirects.
func ssoConfig(cfg *serverConfig, oc *oauth.Client, st catalog.Store, log *slog.Logger) *webui.SSOConfig {
	if cfg.OIDC == nil {
		return nil
	}
	if cfg.OIDC.Warning != "" {
		log.Warn(cfg.OIDC.Warning)
	}
	log.Info("single sign-on", "issuer", cfg.OIDC.Issuer, "username_claim", cfg.OIDC.UsernameClaim,
		"auto_create_users", cfg.OIDC.AutoCreate, "redirect_uri", cfg.PublicURL+webui.SSOCallbackPath)
	return &webui.SSOConfig{Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID, ClientSecret: cfg.OIDC.ClientSecret,
		UsernameClaim: cfg.OIDC.UsernameClaim, AutoCreateUsers: cfg.OIDC.AutoCreate, HTTPClient: oc.HTTPClient(),
		Users: st, Pending: st, StateTTL: cfg.LoginTTL, MaxPending: cfg.MaxPending}
}
