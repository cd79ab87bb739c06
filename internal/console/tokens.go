package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
)

func init() {
	addRoutes(
		route{"GET /tokens", (*Console).tokens},
		route{"POST /tokens/create", (*Console).tokenCreate},
		route{"POST /tokens/{id}/revoke", (*Console).tokenRevoke},
	)
}

type tokenRow struct {
	governance.TokenInfo
	Created, Expires, LastUsed when
}

type tokensData struct {
	Own, All []tokenRow
	Admin    bool
	// Created is set on the response page of a create, the one time its value is shown.
	Created *tokenRow
	Value   string
	// DefaultDays is the default lifetime in days.
	DefaultDays int
}

func (c *Console) tokenRows(ts []governance.TokenInfo) []tokenRow {
	out := make([]tokenRow, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenRow{TokenInfo: t, Created: c.when(t.Token.CreatedAt), Expires: c.when(t.Token.ExpiresAt), LastUsed: c.when(t.Token.LastUsedAt)})
	}
	return out
}

// tokens lists the viewer's own tokens and, for admins, everyone's.
func (c *Console) tokens(w http.ResponseWriter, r *http.Request, v *viewer) {
	p := &page{Title: "Tokens", Nav: "tokens"}
	if r.URL.Query().Get("done") == "revoked" {
		p.Flash = "The token was revoked; it stops working at once."
	}
	c.tokensPage(w, r, v, http.StatusOK, p, &tokensData{})
}

func (c *Console) tokensPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, p *page, d *tokensData) {
	ctx := r.Context()
	own, err := c.d.Gov.ListTokens(ctx, v.P)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	d.Own, d.DefaultDays = c.tokenRows(own), int(governance.DefaultTokenLifetime.Hours()/24)
	if d.Admin, err = c.d.Gov.IsAdmin(ctx, v.P); err != nil {
		c.fail(w, r, v, err)
		return
	}
	if d.Admin {
		all, err := c.d.Gov.ListAllTokens(ctx, v.P)
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		d.All = c.tokenRows(all)
	}
	p.Data = d
	c.render(w, r, status, v, "tokens.html", p)
}

// tokenCreate mints a token — the viewer's own, or (admins) one for a user or service
// principal — and shows its value on this response only: it is not stored, and no
// other page can show it again.
func (c *Console) tokenCreate(w http.ResponseWriter, r *http.Request, v *viewer) {
	var rec governance.Record
	req := governance.NewToken{Comment: r.PostFormValue("comment")}
	var err error
	if days := strings.TrimSpace(r.PostFormValue("lifetime_days")); days != "" {
		n, perr := strconv.ParseInt(days, 10, 64)
		if perr != nil || n < 1 || n > 3650 {
			err = catalog.Errorf(catalog.InvalidParameterValue, "the lifetime must be a whole number of days between 1 and 3650")
		}
		req.LifetimeSeconds = n * 24 * 3600
	}
	var value string
	var info governance.TokenInfo
	if err == nil {
		switch user, app := strings.TrimSpace(r.PostFormValue("user_name")), strings.TrimSpace(r.PostFormValue("application_id")); {
		case user == "" && app == "":
			value, info, err = c.d.Gov.CreateToken(r.Context(), v.P, req, &rec)
		default:
			value, info, err = c.d.Gov.CreateTokenFor(r.Context(), v.P, governance.TokenFor{UserName: user, ApplicationID: app}, req, &rec)
		}
	}
	c.audit(r, v, catalog.ActionTokenCreate, &rec, err)
	p := &page{Title: "Tokens", Nav: "tokens"}
	d := &tokensData{}
	if err != nil {
		p.Error = c.errMessage(r, err)
		c.tokensPage(w, r, v, http.StatusBadRequest, p, d)
		return
	}
	row := c.tokenRows([]governance.TokenInfo{info})[0]
	d.Created, d.Value = &row, value
	p.Flash = "Token created. Copy its value now: Gatehouse keeps only a hash and will not show it again."
	c.tokensPage(w, r, v, http.StatusOK, p, d)
}

// tokenRevoke revokes a token: the viewer's own, or (admins, with scope=any) anyone's.
func (c *Console) tokenRevoke(w http.ResponseWriter, r *http.Request, v *viewer) {
	var rec governance.Record
	var err error
	if r.PostFormValue("scope") == "any" {
		err = c.d.Gov.DeleteAnyToken(r.Context(), v.P, r.PathValue("id"), &rec)
	} else {
		err = c.d.Gov.DeleteToken(r.Context(), v.P, r.PathValue("id"), &rec)
	}
	c.audit(r, v, catalog.ActionTokenDelete, &rec, err)
	if err != nil {
		c.tokensPage(w, r, v, http.StatusBadRequest, &page{Title: "Tokens", Nav: "tokens", Error: c.errMessage(r, err)}, &tokensData{})
		return
	}
	redirect(w, "/tokens?done=revoked")
}
