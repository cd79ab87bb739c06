package credential

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// Authorizer answers whether a principal may log in to a connection.
type Authorizer interface {
	// CanUse reports USE_CONNECTION; CanManage reports owner, MANAGE or admin.
	CanUse(ctx context.Context, p *catalog.Principal, c *catalog.Connection) (bool, error)
	CanManage(ctx context.Context, p *catalog.Principal, c *catalog.Connection) (bool, error)
}

// LoginResult is the outcome of a finished login.
type LoginResult struct {
	Connection string
	Shared     bool
	Warning    string
}

// ProviderError is an error the provider sent to the redirect URI.
type ProviderError struct {
	Code, Description, RedirectURI, Connection string
}

func (e *ProviderError) Error() string {
	return "the provider answered " + e.Code + ": " + e.Description
}

var errBadState = catalog.Errorf(catalog.InvalidParameterValue, "this login link is not valid: its state is missing, unknown, already used or expired; start the login again from Gatehouse")

// StartLogin checks that p may authorize the connection and returns the provider URL
// to send the browser to, with a fresh single-use state bound to the browser session
// and a PKCE S256 challenge.
func (b *Broker) StartLogin(ctx context.Context, az Authorizer, p *catalog.Principal, sessionID, connection string) (string, error) {
	c, err := b.store.GetConnection(ctx, connection)
	if catalog.IsNotFound(err) {
		return "", catalog.Errorf(catalog.ResourceDoesNotExist, "Connection '%s' does not exist.", connection)
	}
	if err != nil {
		return "", err
	}
	switch c.CredentialType {
	case catalog.OAuthU2MPerUser:
		ok, err := az.CanUse(ctx, p, c)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", catalog.Errorf(catalog.PermissionDenied, "User %s does not have USE_CONNECTION on connection %s", p.Name, c.Name)
		}
	case catalog.OAuthU2M:
		ok, err := az.CanManage(ctx, p, c)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", catalog.Errorf(catalog.PermissionDenied, "only the owner or a MANAGE holder may authorize the shared credential of connection %s", c.Name)
		}
	default:
		return "", catalog.Errorf(catalog.InvalidParameterValue, "connection %s uses %s; only OAUTH_U2M and OAUTH_U2M_PER_USER connections have a login", c.Name, c.CredentialType)
	}
	if !c.Enabled {
		return "", catalog.Errorf(catalog.PermissionDenied, "connection %s is disabled", c.Name)
	}
	cfg, err := b.oauthConfig(c)
	if err != nil {
		return "", err
	}
	state := oauth.NewState()
	verifier, challenge := oauth.NewPKCE()
	pl := PendingLogin{SessionHash: sha256.Sum256([]byte(sessionID)), ConnectionID: c.ID, Connection: c.Name,
		PrincipalID: p.ID, Verifier: verifier, Expires: b.opts.Now().Add(b.opts.LoginTTL), TokenURL: cfg.TokenURL}
	if err := b.logins.Put(ctx, state, pl); err != nil {
		return "", fmt.Errorf("record pending login to %s: %w", c.Name, err)
	}
	return oauth.AuthCodeURL(cfg, state, challenge, b.RedirectURI()), nil
}

// FinishLogin handles the redirect URI: it checks the state (known, unused, unexpired,
// this browser session's, this user's) before anything else, then the provider's
// error or the issuer, then redeems the code and stores the token.
func (b *Broker) FinishLogin(ctx context.Context, p *catalog.Principal, sessionID string, q url.Values) (*LoginResult, error) {
	state := q.Get("state")
	if state == "" || len(state) > 512 {
		return nil, errBadState
	}
	// Take removes the state whatever follows: a state works once.
	pl, ok, err := b.logins.Take(ctx, state)
	if err != nil {
		return nil, fmt.Errorf("take pending login: %w", err)
	}
	now := b.opts.Now()
	if !ok || now.After(pl.Expires) {
		return nil, errBadState
	}
	sh := sha256.Sum256([]byte(sessionID))
	if subtle.ConstantTimeCompare(sh[:], pl.SessionHash[:]) != 1 || pl.PrincipalID != p.ID {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "this login was started in another browser session; start it again from this browser")
	}
	if code := q.Get("error"); code != "" {
		return nil, &ProviderError{Code: trim(code, 100), Description: trim(q.Get("error_description"), 300), RedirectURI: b.RedirectURI(), Connection: pl.Connection}
	}
	c, err := b.store.GetConnection(ctx, pl.Connection)
	if err != nil || c.ID != pl.ConnectionID {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "connection %s was changed or removed during the login; start again", pl.Connection)
	}
	cfg, err := b.oauthConfig(c)
	if err != nil {
		return nil, err
	}
	if cfg.TokenURL != pl.TokenURL {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "the token endpoint of connection %s was changed during the login; start again", pl.Connection)
	}
	// RFC 9207: when the provider names itself, it must be the one we sent the user to.
	if iss := q.Get("iss"); iss != "" {
		md, _ := b.oauth.Discover(ctx, cfg.TokenURL)
		if md != nil && md.Issuer != "" && md.Issuer != iss {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "the authorization response came from issuer %q, not %q; the login was stopped (possible mix-up attack)", trim(iss, 200), md.Issuer)
		}
	}
	code := q.Get("code")
	if code == "" {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "the provider sent neither a code nor an error")
	}
	exchange := func(cfg oauth.Config) (*oauth.Token, error) {
		return b.oauth.Exchange(ctx, cfg, code, b.RedirectURI(), pl.Verifier)
	}
	var (
		tok     *oauth.Token
		learned oauth.ExchangeMethod
	)
	if cfg.Method == "" {
		// The option is unset because the provider publishes no metadata: the first
		// redemption finds the method. Only a refusal about client authentication
		// retries, and such a refusal leaves the code unused.
		tok, learned, err = oauth.TryMethods(cfg, exchange)
	} else {
		tok, err = exchange(cfg)
	}
	if err != nil {
		var oe *oauth.Error
		if errors.As(err, &oe) {
			return nil, catalog.Errorf(catalog.UpstreamError, "the token endpoint refused the authorization code: %s", oe.Error())
		}
		return nil, err
	}
	params := map[string]string{}
	if learned != "" {
		if err := b.learnMethod(ctx, c, learned); err != nil {
			b.opts.Log.Error("store the exchange method learned at login", "connection", c.Name, "err", err)
		} else {
			params["options."+catalog.OptCredentialExchange+".new"] = string(learned)
		}
	}
	principalID := ""
	if c.CredentialType == catalog.OAuthU2MPerUser {
		principalID = p.ID
	}
	cred, err := b.store.GetCredential(ctx, c.ID, principalID)
	if catalog.IsNotFound(err) {
		cred, err = &catalog.OAuthCredential{ConnectionID: c.ID, PrincipalID: principalID}, nil
	}
	if err != nil {
		return nil, err
	}
	// A new login replaces the old token set whole, refresh token included.
	cred.RefreshToken, cred.RefreshExpiresAt, cred.State, cred.Reason = nil, time.Time{}, "", ""
	if err := b.storeToken(ctx, c, cred, principalID, tok, p.ID); err != nil {
		return nil, err
	}
	b.forget(credKey{conn: c.ID, principal: principalID})
	params["shared"], params["state"] = boolString(principalID == ""), string(cred.State)
	b.record(ctx, catalog.ActionOAuthLogin, c, p.ID, catalog.DecisionAllow, params)
	res := &LoginResult{Connection: c.Name, Shared: principalID == ""}
	if cred.State == catalog.StateExpiring {
		res.Warning = cred.Reason
	}
	return res, nil
}

// learnMethod stores the exchange method the first code redemption found in the
// connection's options, in one store transaction and only while the connection still
// has this token endpoint and no method (an admin's update meanwhile wins). It changes
// nothing else: not the secrets, not the destination (the method is not a destination
// option), not UpdatedAt/By. The caller records it in the oauthLogin audit event.
func (b *Broker) learnMethod(ctx context.Context, c *catalog.Connection, m oauth.ExchangeMethod) error {
	ok, err := b.store.SetConnectionOption(ctx, c.ID, catalog.OptCredentialExchange, string(m),
		map[string]string{catalog.OptCredentialExchange: "", catalog.OptTokenEndpoint: c.Options[catalog.OptTokenEndpoint]})
	if err != nil {
		return fmt.Errorf("store the exchange method of connection %s: %w", c.Name, err)
	}
	if !ok {
		return fmt.Errorf("connection %s changed during the login; the exchange method was not stored", c.Name)
	}
	return nil
}

// Disconnect deletes a user's token of a per-user connection, revoking it at the
// provider first where the provider offers RFC 7009.
func (b *Broker) Disconnect(ctx context.Context, c *catalog.Connection, principalID string) error {
	cred, err := b.store.GetCredential(ctx, c.ID, principalID)
	if err != nil {
		return err
	}
	b.revokeAtProvider(ctx, c, cred)
	b.forget(credKey{conn: c.ID, principal: principalID})
	return b.store.DeleteCredential(ctx, c.ID, principalID)
}

// RevokeAll revokes every token of the connection at the provider (before the
// connection is deleted).
func (b *Broker) RevokeAll(ctx context.Context, c *catalog.Connection) {
	if !c.CredentialType.IsOAuth() {
		return
	}
	creds, err := b.store.ListCredentials(ctx, c.ID)
	if err != nil {
		b.opts.Log.Error("list credentials to revoke", "connection", c.Name, "err", err)
		return
	}
	for _, cred := range creds {
		b.revokeAtProvider(ctx, c, cred)
	}
}

func (b *Broker) revokeAtProvider(ctx context.Context, c *catalog.Connection, cred *catalog.OAuthCredential) {
	cfg, err := b.oauthConfig(c)
	if err != nil {
		return
	}
	md, _ := b.oauth.Discover(ctx, cfg.TokenURL)
	if md == nil || md.RevocationEndpoint == "" {
		return
	}
	for _, f := range []struct {
		field, hint string
		ct          []byte
	}{{catalog.FieldRefreshToken, "refresh_token", cred.RefreshToken}, {catalog.FieldAccessToken, "access_token", cred.AccessToken}} {
		if len(f.ct) == 0 {
			continue
		}
		tok, err := b.openCred(c, cred, f.field, f.ct)
		if err != nil {
			continue
		}
		if err := b.oauth.Revoke(ctx, cfg, md.RevocationEndpoint, tok, f.hint); err != nil {
			b.opts.Log.Warn("revoke token at the provider", "connection", c.Name, "err", err)
		}
	}
}

func boolString(v bool) string {
	if v {
		return "true"
	}
	return "false"
}

func trim(s string, n int) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			continue
		}
		out = append(out, r)
		if len(out) == n {
			break
		}
	}
	return string(out)
}
