package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/console"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/egress"
	"github.com/gatehouse/gatehouse/internal/egress/tunnel"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/httpapi"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/revoke"
	"github.com/gatehouse/gatehouse/internal/seal"
	"github.com/gatehouse/gatehouse/internal/webui"
)

// serverConfig is the server's whole configuration, read once from flags and
// GATEHOUSE_* variables (a flag given on the command line wins over the variable).
type serverConfig struct {
	Listen          string
	DataDir         string
	Store           string // --store: "sqlite" or a postgres:// URL (never logged: see storeLabel)
	PublicURL       string
	MasterKeyFile   string
	MasterKey       string // GATEHOUSE_MASTER_KEY only, never a flag: flags show in ps
	BootstrapToken  string // GATEHOUSE_BOOTSTRAP_TOKEN only
	MaxBodyBytes    int64
	BodyTimeout     time.Duration
	MaxConnections  int
	ShutdownTimeout time.Duration
	LogFormat       string
	LogLevel        string
	InsecureHTTP    bool
	UpstreamCAFile  string
	Proxy           proxy.Config
	LoginTTL        time.Duration
	MaxPending      int // pending OAuth logins held at most
	EgressListen    string
	Egress          tunnel.Config
	// AuditUnauthRate is the events per second per source address written one by one
	// for callers without a valid token; past it they are counted in summaries.
	AuditUnauthRate float64

	// AuditAnchorLegacy accepts an audit log written without a chain key as the
	// unkeyed start of the keyed chain (a one-time upgrade step).
	AuditAnchorLegacy bool

	// Dev (--dev) is the laptop mode: http:// upstreams, loopback and private ranges
	// open in the dialer's view of the policy, the development key when none is set.
	Dev bool

	// OIDC is single sign-on for people (issue 12); nil when --oidc-issuer is unset.
	OIDC *oidcConfig

	// issue 10: HTTP/2 from callers. HTTP2Cleartext (--http2-cleartext) also serves
	// HTTP/2 with prior knowledge (h2c, no Upgrade) on the API listener, for a
	// TLS-terminating balancer that speaks HTTP/2 to its targets; HTTP2MaxStreams
	// (--http2-max-concurrent-streams) is the streams one such connection may carry.
	HTTP2Cleartext  bool
	HTTP2MaxStreams int
}

// oidcConfig is the --oidc-* settings of single sign-on (issue 12).
type oidcConfig struct {
	Issuer, ClientID, UsernameClaim string
	// ClientSecret is the content of --oidc-client-secret-file, trimmed; never logged.
	ClientSecret string
	AutoCreate   bool
	// Warning, when set, is logged at start (the secret file is readable by others).
	Warning string
}

// flagEnv names the variable behind each flag.
var flagEnv = map[string]string{
	"listen":                           "GATEHOUSE_LISTEN",
	"data-dir":                         "GATEHOUSE_DATA_DIR",
	"store":                            "GATEHOUSE_STORE", // issue 11: PostgreSQL store
	"public-url":                       "GATEHOUSE_PUBLIC_URL",
	"master-key-file":                  "GATEHOUSE_MASTER_KEY_FILE",
	"max-body-bytes":                   "GATEHOUSE_MAX_BODY_BYTES",
	"shutdown-timeout":                 "GATEHOUSE_SHUTDOWN_TIMEOUT",
	"log-format":                       "GATEHOUSE_LOG_FORMAT",
	"log-level":                        "GATEHOUSE_LOG_LEVEL",
	"insecure-http-upstreams":          "GATEHOUSE_INSECURE_HTTP_UPSTREAMS",
	"dev":                              "GATEHOUSE_DEV",
	"upstream-ca-file":                 "GATEHOUSE_UPSTREAM_CA_FILE",
	"proxy-max-body-bytes":             "GATEHOUSE_PROXY_MAX_BODY_BYTES",
	"upstream-max-header-bytes":        "GATEHOUSE_UPSTREAM_MAX_HEADER_BYTES",
	"upstream-connect-timeout":         "GATEHOUSE_UPSTREAM_CONNECT_TIMEOUT",
	"upstream-header-timeout":          "GATEHOUSE_UPSTREAM_HEADER_TIMEOUT",
	"upstream-idle-timeout":            "GATEHOUSE_UPSTREAM_IDLE_TIMEOUT",
	"upstream-total-timeout":           "GATEHOUSE_UPSTREAM_TOTAL_TIMEOUT",
	"egress-listen":                    "GATEHOUSE_EGRESS_LISTEN",
	"egress-max-tunnels":               "GATEHOUSE_EGRESS_MAX_TUNNELS",
	"egress-idle-timeout":              "GATEHOUSE_EGRESS_IDLE_TIMEOUT",
	"egress-total-timeout":             "GATEHOUSE_EGRESS_TOTAL_TIMEOUT",
	"oauth-login-ttl":                  "GATEHOUSE_OAUTH_LOGIN_TTL",
	"oauth-max-pending-logins":         "GATEHOUSE_OAUTH_MAX_PENDING_LOGINS",
	"audit-unauthenticated-rate":       "GATEHOUSE_AUDIT_UNAUTHENTICATED_RATE",
	"audit-anchor-legacy-chain":        "GATEHOUSE_AUDIT_ANCHOR_LEGACY_CHAIN",
	"request-body-timeout":             "GATEHOUSE_REQUEST_BODY_TIMEOUT",
	"max-connections":                  "GATEHOUSE_MAX_CONNECTIONS",
	"egress-max-tunnels-per-principal": "GATEHOUSE_EGRESS_MAX_TUNNELS_PER_PRINCIPAL",
	// issue 12: single sign-on
	"oidc-issuer":             "GATEHOUSE_OIDC_ISSUER",
	"oidc-client-id":          "GATEHOUSE_OIDC_CLIENT_ID",
	"oidc-client-secret-file": "GATEHOUSE_OIDC_CLIENT_SECRET_FILE",
	"oidc-username-claim":     "GATEHOUSE_OIDC_USERNAME_CLAIM",
	"oidc-auto-create-users":  "GATEHOUSE_OIDC_AUTO_CREATE_USERS",
	// issue 10: HTTP/2 from callers
	"http2-cleartext":              "GATEHOUSE_HTTP2_CLEARTEXT",
	"http2-max-concurrent-streams": "GATEHOUSE_HTTP2_MAX_CONCURRENT_STREAMS",
}

func serverCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Gatehouse server",
		Long: `Run the Gatehouse server on the embedded SQLite store, or on a PostgreSQL database
shared by several replicas (--store postgres://...).

Every flag can also be set with the GATEHOUSE_* variable named in its help; a flag on the
command line wins. The master key comes from GATEHOUSE_MASTER_KEY (base64 of 32 bytes) or
--master-key-file; with neither, a development key is generated in the data folder.
On an empty store the first start binds its listeners, then creates the user "admin" and
prints its token once (or uses GATEHOUSE_BOOTSTRAP_TOKEN, which later starts ignore with a
warning). A lost admin token is replaced with "gatehouse admin recover" (server stopped).
--dev is the laptop mode; each of its relaxations is announced at start.`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("listen", "127.0.0.1:8080", "address to serve the API on (GATEHOUSE_LISTEN)")
	f.String("data-dir", "./gatehouse-data", "folder for the store and the development key (GATEHOUSE_DATA_DIR)")
	f.String("store", storeSQLite, `where the state lives: "sqlite" (the file in --data-dir) or a postgres:// or postgresql:// URL shared by every replica (GATEHOUSE_STORE)`)
	f.String("public-url", "", "URL at which users reach this server, e.g. https://gatehouse.example.com; default http://LISTEN (GATEHOUSE_PUBLIC_URL)")
	f.String("master-key-file", "", "file holding the base64 master key (GATEHOUSE_MASTER_KEY_FILE)")
	f.Int64("max-body-bytes", httpapi.DefaultMaxBodyBytes, "largest API request body accepted (GATEHOUSE_MAX_BODY_BYTES)")
	f.Duration("request-body-timeout", httpapi.DefaultBodyTimeout, "longest time an API request body (or the sign-in form) may take to arrive; past it 408 and the connection closes. Proxied uploads are bounded per read by --upstream-idle-timeout instead (GATEHOUSE_REQUEST_BODY_TIMEOUT)")
	f.Int("max-connections", 4096, "most connections open at once on each listener (API, egress); past it a new connection waits in the listen backlog until one closes; established egress tunnels count under --egress-max-tunnels instead (GATEHOUSE_MAX_CONNECTIONS)")
	f.Duration("shutdown-timeout", 30*time.Second, "how long in-flight requests may finish after SIGTERM (GATEHOUSE_SHUTDOWN_TIMEOUT)")
	f.String("log-format", "text", "log format: text or json (GATEHOUSE_LOG_FORMAT)")
	f.String("log-level", "info", "log level: debug, info, warn, error (GATEHOUSE_LOG_LEVEL)")
	f.Bool("insecure-http-upstreams", false, "accept http:// hosts and endpoints; for development only (GATEHOUSE_INSECURE_HTTP_UPSTREAMS)")
	f.Bool("dev", false, "laptop mode, never for production: the development master key unless one is set, loopback and private ranges ("+strings.Join(egress.DevIPRanges, ", ")+") open in the network policy as the server applies it (the stored policy is unchanged), and http:// upstreams accepted; each is announced at start (GATEHOUSE_DEV)")
	f.String("upstream-ca-file", "", "PEM file of extra CA certificates trusted for upstreams, e.g. a private CA (GATEHOUSE_UPSTREAM_CA_FILE)")
	f.Int64("proxy-max-body-bytes", 10<<20, "largest request body forwarded to an upstream (GATEHOUSE_PROXY_MAX_BODY_BYTES)")
	f.Int64("upstream-max-header-bytes", 1<<20, "largest upstream response header accepted (GATEHOUSE_UPSTREAM_MAX_HEADER_BYTES)")
	f.Duration("upstream-connect-timeout", 10*time.Second, "time to connect to an upstream, TLS included (GATEHOUSE_UPSTREAM_CONNECT_TIMEOUT)")
	f.Duration("upstream-header-timeout", 60*time.Second, "time for an upstream to send its response headers (GATEHOUSE_UPSTREAM_HEADER_TIMEOUT)")
	f.Duration("upstream-idle-timeout", 60*time.Second, "longest pause in a streamed body before the call is cut (GATEHOUSE_UPSTREAM_IDLE_TIMEOUT)")
	f.Duration("upstream-total-timeout", 10*time.Minute, "longest call through a connection, body included (GATEHOUSE_UPSTREAM_TOTAL_TIMEOUT)")
	f.String("egress-listen", "", "serve the egress proxy (HTTP CONNECT and absolute-form HTTP, for agents' HTTPS_PROXY) on this address (GATEHOUSE_EGRESS_LISTEN)")
	f.Int("egress-max-tunnels", tunnel.DefaultMaxTunnels, "most egress tunnels open at once; past it 429 (GATEHOUSE_EGRESS_MAX_TUNNELS)")
	f.Int("egress-max-tunnels-per-principal", tunnel.DefaultMaxTunnelsPerPrincipal, "most egress tunnels one principal may hold at once; past it 429 for that principal only (GATEHOUSE_EGRESS_MAX_TUNNELS_PER_PRINCIPAL)")
	f.Duration("egress-idle-timeout", 5*time.Minute, "an egress tunnel, or an egress connection between requests, with no bytes moving for this long is closed (GATEHOUSE_EGRESS_IDLE_TIMEOUT)")
	f.Duration("egress-total-timeout", time.Hour, "longest life of an egress tunnel (GATEHOUSE_EGRESS_TOTAL_TIMEOUT)")
	f.Duration("oauth-login-ttl", 10*time.Minute, "how long a started OAuth login (its state) stays valid (GATEHOUSE_OAUTH_LOGIN_TTL)")
	f.Float64("audit-unauthenticated-rate", audit.DefaultUnauthenticatedRate, "audit events per second per source address written one by one for callers without a valid token (burst twice that); past it they are counted in one summary event per minute (GATEHOUSE_AUDIT_UNAUTHENTICATED_RATE)")
	f.Int("oauth-max-pending-logins", credential.DefaultMaxPendingLogins, "most started OAuth logins held at once; past it the oldest is dropped (GATEHOUSE_OAUTH_MAX_PENDING_LOGINS)")
	f.Bool("audit-anchor-legacy-chain", false, "accept an audit log whose newest event has an unkeyed hash (written before keyed chains) as the legacy start of the keyed chain; set once when upgrading (GATEHOUSE_AUDIT_ANCHOR_LEGACY_CHAIN)")
	// issue 12: single sign-on
	f.String("oidc-issuer", "", "issuer URL of the OpenID Connect provider people sign in with at /login (https; http://localhost only with --dev); register the redirect URI {public-url}/login/oidc/callback there (GATEHOUSE_OIDC_ISSUER)")
	f.String("oidc-client-id", "", "Gatehouse's client id at the OpenID Connect provider (GATEHOUSE_OIDC_CLIENT_ID)")
	f.String("oidc-client-secret-file", "", "file holding Gatehouse's client secret at the OpenID Connect provider (GATEHOUSE_OIDC_CLIENT_SECRET_FILE)")
	f.String("oidc-username-claim", "email", "ID-token claim that names the Gatehouse user; with email, email_verified: false is refused (GATEHOUSE_OIDC_USERNAME_CLAIM)")
	f.Bool("oidc-auto-create-users", false, "create an active user (in users only) for a sign-in whose name Gatehouse does not know, instead of refusing it (GATEHOUSE_OIDC_AUTO_CREATE_USERS)")
	// issue 10: HTTP/2 from callers
	f.Bool("http2-cleartext", false, "also serve HTTP/2 without TLS on --listen, with prior knowledge only (h2c, no Upgrade), for a TLS-terminating load balancer that speaks HTTP/2 to its targets; HTTP/1.1 is still served. Requests in flight over HTTP/2 are bounded by --max-connections across all connections; past it 503 (GATEHOUSE_HTTP2_CLEARTEXT)")
	f.Int("http2-max-concurrent-streams", defaultHTTP2MaxStreams, "with --http2-cleartext, most requests one HTTP/2 connection may carry at once; a client past it waits or opens another connection (GATEHOUSE_HTTP2_MAX_CONCURRENT_STREAMS)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadServerConfig(cmd.Flags(), e.getenv)
		if err != nil {
			return err
		}
		return serve(cmd.Context(), cfg, e)
	}
	return cmd
}

// loadServerConfig reads and validates every setting, reporting all problems at once.
func loadServerConfig(fs *pflag.FlagSet, getenv func(string) string) (*serverConfig, error) {
	var problems []error
	val := func(name string) string {
		fl := fs.Lookup(name)
		if fl.Changed {
			return fl.Value.String()
		}
		if v := getenv(flagEnv[name]); v != "" {
			return v
		}
		return fl.DefValue
	}
	cfg := &serverConfig{
		Listen:         val("listen"),
		DataDir:        val("data-dir"),
		Store:          val("store"),
		PublicURL:      val("public-url"),
		MasterKeyFile:  val("master-key-file"),
		MasterKey:      getenv("GATEHOUSE_MASTER_KEY"),
		BootstrapToken: getenv("GATEHOUSE_BOOTSTRAP_TOKEN"),
		LogFormat:      val("log-format"),
		LogLevel:       val("log-level"),
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		problems = append(problems, fmt.Errorf("listen: %q is not host:port", cfg.Listen))
	}
	if cfg.DataDir == "" {
		problems = append(problems, errors.New("data-dir: must not be empty"))
	}
	if err := checkStore(cfg.Store); err != nil {
		problems = append(problems, err)
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			problems = append(problems, fmt.Errorf("public-url: %q must be an http(s) URL with a host and nothing after the path", cfg.PublicURL))
		} else {
			cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
		}
	}
	if n, err := strconv.ParseInt(val("max-body-bytes"), 10, 64); err != nil || n < 1024 {
		problems = append(problems, fmt.Errorf("max-body-bytes: %q must be a number of at least 1024", val("max-body-bytes")))
	} else {
		cfg.MaxBodyBytes = n
	}
	if d, err := time.ParseDuration(val("shutdown-timeout")); err != nil || d < 0 {
		problems = append(problems, fmt.Errorf("shutdown-timeout: %q must be a duration like 30s", val("shutdown-timeout")))
	} else {
		cfg.ShutdownTimeout = d
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		problems = append(problems, fmt.Errorf("log-format: %q must be text or json", cfg.LogFormat))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		problems = append(problems, fmt.Errorf("log-level: %q must be debug, info, warn or error", cfg.LogLevel))
	}
	if b, err := strconv.ParseBool(val("insecure-http-upstreams")); err != nil {
		problems = append(problems, fmt.Errorf("insecure-http-upstreams: %q must be true or false", val("insecure-http-upstreams")))
	} else {
		cfg.InsecureHTTP = b
		cfg.Proxy.AllowHTTP = b
	}
	if b, err := strconv.ParseBool(val("dev")); err != nil {
		problems = append(problems, fmt.Errorf("dev: %q must be true or false", val("dev")))
	} else if b {
		cfg.Dev = true
		cfg.InsecureHTTP = true
		cfg.Proxy.AllowHTTP = true
	}
	if b, err := strconv.ParseBool(val("audit-anchor-legacy-chain")); err != nil {
		problems = append(problems, fmt.Errorf("audit-anchor-legacy-chain: %q must be true or false", val("audit-anchor-legacy-chain")))
	} else {
		cfg.AuditAnchorLegacy = b
	}
	cfg.UpstreamCAFile = val("upstream-ca-file")
	if cfg.UpstreamCAFile != "" {
		pem, err := os.ReadFile(cfg.UpstreamCAFile)
		pool, perr := x509.SystemCertPool()
		if perr != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		switch {
		case err != nil:
			problems = append(problems, fmt.Errorf("upstream-ca-file: %w", err))
		case !pool.AppendCertsFromPEM(pem):
			problems = append(problems, fmt.Errorf("upstream-ca-file: %s holds no PEM certificate", cfg.UpstreamCAFile))
		default:
			cfg.Proxy.RootCAs = pool
		}
	}
	for name, dst := range map[string]*int64{"proxy-max-body-bytes": &cfg.Proxy.MaxRequestBytes, "upstream-max-header-bytes": &cfg.Proxy.MaxResponseHeaderBytes} {
		if n, err := strconv.ParseInt(val(name), 10, 64); err != nil || n < 1 {
			problems = append(problems, fmt.Errorf("%s: %q must be a positive number", name, val(name)))
		} else {
			*dst = n
		}
	}
	for name, dst := range map[string]*time.Duration{"upstream-connect-timeout": &cfg.Proxy.ConnectTimeout, "upstream-header-timeout": &cfg.Proxy.HeaderTimeout,
		"upstream-idle-timeout": &cfg.Proxy.IdleTimeout, "upstream-total-timeout": &cfg.Proxy.TotalTimeout, "oauth-login-ttl": &cfg.LoginTTL,
		"egress-idle-timeout": &cfg.Egress.IdleTimeout, "egress-total-timeout": &cfg.Egress.TotalTimeout,
		"request-body-timeout": &cfg.BodyTimeout} {
		if d, err := time.ParseDuration(val(name)); err != nil || d <= 0 {
			problems = append(problems, fmt.Errorf("%s: %q must be a positive duration like 30s", name, val(name)))
		} else {
			*dst = d
		}
	}
	cfg.EgressListen = val("egress-listen")
	if cfg.EgressListen != "" {
		if _, _, err := net.SplitHostPort(cfg.EgressListen); err != nil {
			problems = append(problems, fmt.Errorf("egress-listen: %q is not host:port", cfg.EgressListen))
		}
	}
	for name, dst := range map[string]*int{"egress-max-tunnels": &cfg.Egress.MaxTunnels,
		"egress-max-tunnels-per-principal": &cfg.Egress.MaxTunnelsPerPrincipal, "max-connections": &cfg.MaxConnections} {
		if n, err := strconv.Atoi(val(name)); err != nil || n < 1 {
			problems = append(problems, fmt.Errorf("%s: %q must be a positive number", name, val(name)))
		} else {
			*dst = n
		}
	}
	if r, err := strconv.ParseFloat(val("audit-unauthenticated-rate"), 64); err != nil || !(r > 0) || math.IsInf(r, 0) {
		problems = append(problems, fmt.Errorf("audit-unauthenticated-rate: %q must be a positive number of events per second", val("audit-unauthenticated-rate")))
	} else {
		cfg.AuditUnauthRate = r
	}
	if n, err := strconv.Atoi(val("oauth-max-pending-logins")); err != nil || n < 1 {
		problems = append(problems, fmt.Errorf("oauth-max-pending-logins: %q must be a positive number", val("oauth-max-pending-logins")))
	} else {
		cfg.MaxPending = n
	}
	if cfg.MasterKey != "" && cfg.MasterKeyFile != "" {
		problems = append(problems, errors.New("master key: set GATEHOUSE_MASTER_KEY or --master-key-file, not both"))
	}
	if cfg.MasterKey != "" {
		if _, err := seal.ParseMasterKey(cfg.MasterKey); err != nil {
			problems = append(problems, fmt.Errorf("GATEHOUSE_MASTER_KEY: %w", err))
		}
	}
	problems = append(problems, loadOIDCConfig(cfg, val)...) // issue 12: single sign-on
	// issue 10: HTTP/2 from callers
	if b, err := strconv.ParseBool(val("http2-cleartext")); err != nil {
		problems = append(problems, fmt.Errorf("http2-cleartext: %q must be true or false", val("http2-cleartext")))
	} else {
		cfg.HTTP2Cleartext = b
	}
	if n, err := strconv.Atoi(val("http2-max-concurrent-streams")); err != nil || n < 1 || n > maxHTTP2MaxStreams {
		problems = append(problems, fmt.Errorf("http2-max-concurrent-streams: %q must be a number from 1 to %d", val("http2-max-concurrent-streams"), maxHTTP2MaxStreams))
	} else {
		cfg.HTTP2MaxStreams = n
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("invalid configuration:\n  %w", joinIndented(problems))
	}
	return cfg, nil
}

type indentedErrors []error

func (es indentedErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n  ")
}

func (es indentedErrors) Unwrap() []error { return es }

func joinIndented(es []error) error { return indentedErrors(es) }

func newLogger(cfg *serverConfig, e *env) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(e.stderr, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(e.stderr, opts)
	}
	// Log lines carry request-supplied strings (paths, names, header values): each is
	// bounded and its control characters escaped, so no client can make a line large.
	return slog.New(bound.NewHandler(h, bound.Limit))
}

// openKeyring loads the master key and, with it, the keyring of data keys kept in the
// store (on a new store it creates the keyring), and derives the audit chain's key.
func openKeyring(ctx context.Context, cfg *serverConfig, st catalog.MetaStore, log *slog.Logger) (kr *seal.Keyring, chainKey []byte, err error) {
	master, source, generated, err := seal.LoadMasterKey(cfg.MasterKey, cfg.MasterKeyFile, cfg.DataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("master key: %w", err)
	}
	// The audit chain's key comes from the master key, which lives outside the store,
	// so that someone who can write the store cannot rehash the chain.
	if chainKey, err = audit.ChainKey(master); err != nil {
		return nil, nil, err
	}
	if cfg.MasterKey == "" && cfg.MasterKeyFile == "" {
		// Loud on purpose: a key kept beside the data it protects protects little.
		log.Warn("DEVELOPMENT MASTER KEY: secrets are sealed with a key stored next to the data; set GATEHOUSE_MASTER_KEY or --master-key-file in production", "source", source, "generated_now", generated)
	} else {
		log.Info("master key loaded", "source", source, "fingerprint", seal.Fingerprint(master))
	}
	const metaKey = "keyring"
	blob, err := st.GetMeta(ctx, metaKey)
	if catalog.IsNotFound(err) {
		kr, err := seal.NewKeyring()
		if err != nil {
			return nil, nil, err
		}
		blob, err := kr.Export(master)
		if err != nil {
			return nil, nil, err
		}
		if err := st.SetMeta(ctx, metaKey, blob); err != nil {
			return nil, nil, fmt.Errorf("store keyring: %w", err)
		}
		return kr, chainKey, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read keyring: %w", err)
	}
	if kr, err = seal.ImportKeyring(master, blob); err != nil {
		return nil, nil, fmt.Errorf("open keyring with the master key from %s: %w", source, err)
	}
	return kr, chainKey, nil
}

// Bounds of both listeners' request headers: a client has readHeaderTimeout to send
// its request header, which may hold at most maxHeaderBytes (net/http's default is 1
// MiB: times --max-connections slow clients that is gigabytes).
const (
	readHeaderTimeout = 10 * time.Second
	maxHeaderBytes    = 64 << 10

	// issue 10: the default and the largest --http2-max-concurrent-streams.
	defaultHTTP2MaxStreams = 250
	maxHTTP2MaxStreams     = 1 << 16
)

// serve runs the server until ctx ends, then drains in-flight requests.
func serve(ctx context.Context, cfg *serverConfig, e *env) error {
	log := newLogger(cfg, e)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	// SQLite: a shared hold on the data folder while the server runs (`gatehouse admin
	// recover` takes it exclusively, so it cannot write under a running server).
	// PostgreSQL: no hold, the replicas share the database by design.
	st, closeStore, err := openServerStore(ctx, cfg.Store, cfg.DataDir)
	if err != nil {
		return err
	}
	defer closeStore()
	kr, chainKey, err := openKeyring(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	// Bind every listener before the first admin is created: a start that cannot bind
	// (port in use) must fail before it makes a token that it could never print.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close() // after Serve has closed it, a no-op; before, on an early return
	var eln net.Listener
	if cfg.EgressListen != "" {
		if eln, err = net.Listen("tcp", cfg.EgressListen); err != nil {
			return fmt.Errorf("egress-listen: %w", err)
		}
		defer eln.Close()
	}
	token, err := identity.Bootstrap(ctx, st, cfg.BootstrapToken, time.Now())
	if err != nil {
		return err
	}
	if token == "" && cfg.BootstrapToken != "" {
		log.Warn("GATEHOUSE_BOOTSTRAP_TOKEN ignored: the store already has an admin; use gatehouse admin recover")
	}
	apiLimit := limitConns(ln, cfg.MaxConnections)
	ln = apiLimit
	addr := ln.Addr().String()
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + addr
	}
	// Each relaxation is said loudly: one WARN line each, and on stdout by the
	// listening line.
	var notices []string
	if cfg.MasterKey == "" && cfg.MasterKeyFile == "" {
		notices = append(notices, "DEVELOPMENT MASTER KEY: secrets are sealed with a key stored in the data folder; set GATEHOUSE_MASTER_KEY or --master-key-file in production")
	}
	var devRanges []string
	if cfg.Dev {
		devRanges = egress.DevIPRanges
		msg := "DEV: loopback and private ranges (" + strings.Join(devRanges, ", ") + ") are open in the network policy while --dev is on (the stored policy is unchanged); outbound calls may reach this machine and its network"
		log.Warn(msg)
		notices = append(notices, msg)
	}
	if cfg.InsecureHTTP {
		flag := "--insecure-http-upstreams"
		if cfg.Dev {
			flag = "--dev"
		}
		msg := "INSECURE: http:// upstreams are accepted (" + flag + "); credentials may cross the network in clear text. Development only."
		log.Warn(msg)
		notices = append(notices, msg)
	}
	auth := identity.NewAuthenticator(st, nil, log) // nil: the coarse clock for its cache
	rec, err := audit.New(st, log, audit.Options{UnauthenticatedRate: cfg.AuditUnauthRate, ChainKey: chainKey, AnchorLegacy: cfg.AuditAnchorLegacy})
	if err != nil {
		return fmt.Errorf("start audit recorder: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := rec.Close(cctx); err != nil {
			log.Error("audit: records not written at shutdown", "err", err)
		}
	}()
	az := access.New(st)
	// What is already open ends when a revoke undoes what it was opened under. Created
	// after the authenticator and the access index, so its store callback runs after
	// theirs have dropped what the change made stale.
	revokes := revoke.New(st, revoke.Options{Log: log})
	defer revokes.Close()

	// The perimeter: every outbound connection — proxied calls, OAuth token calls and
	// egress tunnels — goes through one safe dialer that reads the current policy.
	ns, err := newNetState(ctx, st, log, devRanges)
	if err != nil {
		return fmt.Errorf("load network policy: %w", err)
	}
	ns.addOwn(ln.Addr())
	events := newNetEvents(st, rec, log)
	defer events.Close()
	dialer := egress.NewDialer(egress.DialerOptions{Policy: ns.Policy, ConnectionDestinations: ns.ConnectionDestinations, OwnAddrs: ns.OwnAddrs,
		Recorder: events, Timeout: cfg.Proxy.ConnectTimeout})
	cfg.Proxy.DialContext = dialer.DialContext
	px := proxy.New(cfg.Proxy)
	oc := oauth.NewClient(oauth.ClientOptions{RootCAs: cfg.Proxy.RootCAs, AllowHTTP: cfg.InsecureHTTP, DialContext: oauthDial(dialer), Log: log})
	// Pooled keep-alive connections were decided under the old policy: drop the idle
	// ones so the next request dials, and is decided, again.
	ns.OnPolicyChange(px.CloseIdleConnections)
	ns.OnPolicyChange(oc.CloseIdleConnections)
	// Open connections too: those the new policy (or the new set of connection hosts it
	// may open) refuses are closed, tunnels and streams alike.
	st.Watch(func(c catalog.Change) {
		if c.Kind == catalog.ChangeNetworkPolicy || c.Kind == catalog.ChangeConnection || c.Kind == catalog.ChangeAll { // ChangeAll: scale-out
			dialer.CloseDenied()
		}
	})
	broker := credential.New(kr, st, oc, credential.Options{PublicURL: cfg.PublicURL, Log: log, Audit: rec, LoginTTL: cfg.LoginTTL, MaxPendingLogins: cfg.MaxPending,
		PendingLogins: pendingLogins(st, kr, cfg, log)}) // sessions: started logins in the store
	// MCP client sign-in (issue 12): codes, consent and the code and refresh grants.
	fedClient := federationHTTPClient(cfg.Proxy.RootCAs, oauthDial(dialer))
	mcpAuthz := authserver.NewAuthorizer(st, authserver.AuthorizerOptions{PublicURL: cfg.PublicURL, HTTPClient: fedClient, Log: log})
	web := webui.New(webui.Deps{Authorize: mcpAuthz, Auth: auth, Principals: st, Logins: loginService{b: broker, az: loginAuthorizer{az}}, PublicURL: cfg.PublicURL, Log: log,
		FormTimeout: cfg.BodyTimeout, Sessions: st, // sessions: browser sessions in the store
		SSO: ssoConfig(cfg, oc, st, log), Audit: rec}) // issue 12: single sign-on
	gov := governance.New(governance.Deps{Store: st, Keyring: kr, Access: az, Broker: broker, OAuth: oc, // shared by the API and the console
		Validation: catalog.ValidationPolicy{AllowHTTP: cfg.InsecureHTTP}, Log: log, Audit: rec,
		AuditChainKey: chainKey, NormalizePolicy: egress.NormalizePolicy, DevIPRanges: devRanges}) // audit verify and the network policy (issue 13)
	tokenEndpoint := newTokenEndpoint(st, rec, log, fedClient, cfg.BodyTimeout, time.Now, mcpAuthz.Grants()...) // issue 12
	api := httpapi.NewServer(httpapi.Deps{
		Store: st, Keyring: kr, Auth: auth, Access: az, Log: log,
		PublicURL: cfg.PublicURL, MaxBodyBytes: cfg.MaxBodyBytes, BodyTimeout: cfg.BodyTimeout,
		Validation:      catalog.ValidationPolicy{AllowHTTP: cfg.InsecureHTTP},
		Broker:          broker,
		Proxy:           px,
		Audit:           rec,
		AuditChainKey:   chainKey,
		OAuth:           oc,
		Web:             web,
		NormalizePolicy: egress.NormalizePolicy,
		NetworkCounts:   dialer.Counts,
		DevIPRanges:     devRanges,
		Revoke:          revokes,

		// The web console (issue 13): pages over the same governance operations.
		Console:         console.New(console.Deps{Gov: gov, Sessions: web, Audit: rec, Log: log, PublicURL: cfg.PublicURL, FormTimeout: cfg.BodyTimeout}),
		ConsolePatterns: console.Patterns,
		Governance:      gov,

		// Workload identity federation (issue 12): POST /oidc/v1/token.
		TokenEndpoint: tokenEndpoint,
		// MCP client sign-in (issue 12): the authorization server's metadata.
		AuthorizationServer: newAuthorizationServer(cfg.PublicURL, tokenEndpoint),
	})
	var esrv *http.Server
	var etun *tunnel.Server
	if eln != nil {
		egressLimit := limitConns(eln, cfg.MaxConnections)
		eln = egressLimit
		ns.addOwn(eln.Addr())
		ecfg := cfg.Egress
		ecfg.Log = log
		ecfg.ConnectTimeout = cfg.Proxy.ConnectTimeout
		ecfg.Annotate = func(ctx context.Context, principal string) context.Context {
			return egress.WithSource(ctx, egress.Source{Kind: catalog.SourceEgress, Principal: principal})
		}
		ecfg.Revoke, ecfg.Recheck = revokes, auth.Recheck
		etun = tunnel.New(ecfg, dialer, auth, rec)
		// A connection between requests (one that only ever got a 407, say) is idle
		// like a tunnel with no bytes moving, and closed after the same time.
		esrv = &http.Server{Handler: etun, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: cfg.Egress.IdleTimeout,
			MaxHeaderBytes: maxHeaderBytes, ConnState: egressLimit.ConnState, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: maxHeaderBytes, ConnState: apiLimit.ConnState, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	if cfg.HTTP2Cleartext { // issue 10: HTTP/2 from callers (see serveCleartextHTTP2)
		serveCleartextHTTP2(srv, cfg.HTTP2MaxStreams, cfg.MaxConnections)
		log.Info("serving HTTP/2 with prior knowledge (h2c) beside HTTP/1.1", "max_concurrent_streams", cfg.HTTP2MaxStreams)
	}

	flushCtx, stopFlush := context.WithCancel(context.WithoutCancel(ctx))
	flushed := make(chan struct{})
	var flushers sync.WaitGroup
	flushers.Go(func() { auth.RunFlusher(flushCtx, 5*time.Second) })
	flushers.Go(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-flushCtx.Done():
				_ = broker.FlushUsage(context.WithoutCancel(flushCtx))
				return
			case <-t.C:
				if err := broker.FlushUsage(flushCtx); err != nil {
					log.Error("flush credential last-used times", "err", err)
				}
			}
		}
	})
	go func() { flushers.Wait(); close(flushed) }()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if esrv != nil {
		go func() {
			if err := esrv.Serve(eln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("egress proxy stopped", "err", err)
			}
		}()
		fmt.Fprintf(e.stdout, "Egress proxy is listening on http://%s\n", eln.Addr())
	}
	switch {
	case token != "" && cfg.BootstrapToken != "":
		// The operator chose the token and holds it: echoing it would only copy a
		// secret into wherever stdout goes (a journal, a CI log).
		fmt.Fprintf(e.stdout, "Created user admin with the token in GATEHOUSE_BOOTSTRAP_TOKEN.\n")
		fmt.Fprintf(e.stdout, "Try:  GATEHOUSE_HOST=%s GATEHOUSE_TOKEN=<token> gatehouse whoami\n", cfg.PublicURL)
	case token != "":
		fmt.Fprintf(e.stdout, "Created user admin. Admin token (shown once, keep it safe):\n\n    %s\n\n", token)
		fmt.Fprintf(e.stdout, "Try:  GATEHOUSE_HOST=%s GATEHOUSE_TOKEN=<token> gatehouse whoami\n", cfg.PublicURL)
	}
	for _, n := range notices {
		fmt.Fprintf(e.stdout, "WARNING: %s\n", n)
	}
	if isPostgresURL(cfg.Store) {
		fmt.Fprintf(e.stdout, "Store: %s (shared by every replica on it)\n", storeLabel(cfg.Store, cfg.DataDir))
	}
	fmt.Fprintf(e.stdout, "Gatehouse is listening on http://%s\n", addr)
	log.Info("gatehouse listening", "addr", addr, "public_url", cfg.PublicURL, "data_dir", cfg.DataDir, "store", storeLabel(cfg.Store, cfg.DataDir))

	select {
	case err := <-served:
		stopFlush()
		<-flushed
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for in-flight requests", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if esrv != nil {
		_ = esrv.Shutdown(sctx)
		_ = etun.Close() // tunnels hijacked their connections: Shutdown cannot see them
	}
	err = srv.Shutdown(sctx)
	stopFlush()
	<-flushed
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
