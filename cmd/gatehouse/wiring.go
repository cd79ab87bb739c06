package main

import (
	"context"
	"errors"
	"log/slog"
	"net/url"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/seal"
	"github.com/gatehouse/gatehouse/internal/webui"
)

// loginAuthorizer answers the broker's login questions with the access index.
type loginAuthorizer struct{ a *access.Authorizer }

func (l loginAuthorizer) CanUse(ctx context.Context, p *catalog.Principal, c *catalog.Connection) (bool, error) {
	privs, err := l.a.Connection(ctx, p, c)
	return privs.Has(catalog.UseConnection), err
}

func (l loginAuthorizer) CanManage(ctx context.Context, p *catalog.Principal, c *catalog.Connection) (bool, error) {
	privs, err := l.a.Connection(ctx, p, c)
	return privs.Has(catalog.Manage), err
}

// loginService lets the browser pages drive the broker's authorization code login.
type loginService struct {
	b  *credential.Broker
	az credential.Authorizer
}

func (l loginService) StartLogin(ctx context.Context, p *catalog.Principal, sessionID, connection string) (string, error) {
	return l.b.StartLogin(ctx, l.az, p, sessionID, connection)
}

func (l loginService) FinishLogin(ctx context.Context, p *catalog.Principal, sessionID string, q url.Values) (*webui.LoginResult, error) {
	res, err := l.b.FinishLogin(ctx, p, sessionID, q)
	var pe *credential.ProviderError
	if errors.As(err, &pe) {
		return nil, &webui.ProviderError{Code: pe.Code, Description: pe.Description, RedirectURI: pe.RedirectURI, Connection: pe.Connection}
	}
	if err != nil {
		return nil, err
	}
	return &webui.LoginResult{Connection: res.Connection, Shared: res.Shared, Warning: res.Warning}, nil
}

// pendingLogins keeps the broker's started OAuth logins in the store, so that a login
// started on one replica finishes on any other (issue 11); the PKCE verifiers are sealed
// with the keyring before they reach it.
func pendingLogins(st catalog.PendingLoginStore, kr *seal.Keyring, cfg *serverConfig, log *slog.Logger) credential.PendingLogins {
	return credential.NewStorePendingLogins(st, kr, credential.PendingOptions{MaxTotal: cfg.MaxPending, Log: log})
}
