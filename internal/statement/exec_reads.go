package statement

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
)

// The statements that read, and GRANT/REVOKE: each the governance operation of the
// API's call (get connection, list connections, get and update permissions).

// securableArgs is how the permissions operations name a securable.
func securableArgs(s Securable) (typ, name string) {
	if s.Type == catalog.SecurableMetastore {
		return "metastore", catalog.MetastoreID
	}
	return "connection", s.Name.Value
}

func (e *Executor) describe(ctx context.Context, who *catalog.Principal, s *DescribeConnection) (*Result, error) {
	v, err := e.Gov.GetConnection(ctx, who, s.Name.Value)
	if err != nil {
		return nil, err
	}
	c := v.Connection
	rows := [][]string{
		{"name", c.Name},
		{"connection_type", c.ConnectionType},
		{"credential_type", string(c.CredentialType)},
		{"owner", v.Owner},
		{"comment", c.Comment},
		{"url", connectionURL(v.Options)},
		{"enabled", strconv.FormatBool(c.Enabled)},
		{"credential_state", string(v.Status.State)},
	}
	if s.Extended {
		rows = append(rows,
			[]string{"connection_id", c.ID},
			[]string{"credential_reason", v.Status.Reason},
			[]string{"authorized_by", v.Status.AuthorizedByName},
			[]string{"access_token_expiration", timeText(v.Status.AccessExpiresAt)},
			[]string{"refresh_token_expiration", timeText(v.Status.RefreshExpiresAt)},
			[]string{"last_refreshed_at", timeText(v.Status.LastRefreshedAt)},
			[]string{"last_used_at", timeText(v.Status.LastUsedAt)},
			[]string{"created_at", timeText(c.CreatedAt)},
			[]string{"created_by", v.CreatedBy},
			[]string{"updated_at", timeText(c.UpdatedAt)},
			[]string{"updated_by", v.UpdatedBy},
		)
		// The non-secret options, one row each: secrets are never shown.
		keys := make([]string, 0, len(v.Options))
		for k := range v.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			rows = append(rows, []string{"option." + k, v.Options[k]})
		}
	}
	return &Result{Columns: []Column{{Name: "info_name", Type: "STRING"}, {Name: "info_value", Type: "STRING"}}, Rows: rows}, nil
}

// connectionURL is where calls through a connection go: host, port, base path.
func connectionURL(opts map[string]string) string {
	u := opts[catalog.OptHost]
	if p := opts[catalog.OptPort]; p != "" {
		u += ":" + p
	}
	return u + opts[catalog.OptBasePath]
}

// maxShowPages bounds SHOW CONNECTIONS at MaxPageSize × maxShowPages connections.
const maxShowPages = 100

func (e *Executor) showConnections(ctx context.Context, who *catalog.Principal, s *ShowConnections) (*Result, error) {
	var match func(string) bool
	if s.Like != nil {
		match = likeMatcher(*s.Like)
	}
	res := &Result{Columns: []Column{{Name: "name", Type: "STRING"}, {Name: "connection_type", Type: "STRING"}, {Name: "credential_type", Type: "STRING"},
		{Name: "owner", Type: "STRING"}, {Name: "enabled", Type: "STRING"}, {Name: "credential_state", Type: "STRING"}, {Name: "comment", Type: "STRING"}}, Rows: [][]string{}}
	req := governance.ListConnectionsRequest{MaxResults: governance.MaxPageSize}
	if match != nil {
		req.Keep = func(v *governance.ConnectionView) bool { return match(v.Connection.Name) }
	}
	for range maxShowPages {
		page, err := e.Gov.ListConnections(ctx, who, req)
		if err != nil {
			return nil, err
		}
		for _, v := range page.Connections {
			c := v.Connection
			res.Rows = append(res.Rows, []string{c.Name, c.ConnectionType, string(c.CredentialType), v.Owner, strconv.FormatBool(c.Enabled), string(v.Status.State), c.Comment})
		}
		if page.NextPageToken == "" {
			return res, nil
		}
		req.PageToken = page.NextPageToken
	}
	return nil, catalog.Errorf(catalog.InvalidParameterValue, "SHOW CONNECTIONS lists at most %d connections; narrow it with LIKE", governance.MaxPageSize*maxShowPages)
}

// likeMatcher matches a name against a LIKE pattern, without regard to case: '%' is
// any run of characters, '_' any one character, and a backslash escapes the next.
func likeMatcher(pattern string) func(string) bool {
	p := []rune(strings.ToLower(pattern))
	return func(name string) bool {
		return likeMatch(p, []rune(strings.ToLower(name)))
	}
}

// likeMatch is iterative with one backtrack point, so a pattern of many '%' costs
// O(len(p)·len(s)), never exponential time.
func likeMatch(p, s []rune) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '%':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == '\\' && pi+1 < len(p) && p[pi+1] == s[si]:
			pi += 2
			si++
		case pi < len(p) && p[pi] != '\\' && (p[pi] == '_' || p[pi] == s[si]):
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

func (e *Executor) changeGrants(ctx context.Context, who *catalog.Principal, sec Securable, principal Ident, add, remove []string, rec *governance.Record) (*Result, error) {
	typ, name := securableArgs(sec)
	if _, err := e.Gov.UpdatePermissions(ctx, who, typ, name, []governance.PermissionChange{{Principal: principal.Value, Add: add, Remove: remove}}, rec); err != nil {
		return nil, err
	}
	on := "metastore"
	if sec.Type == catalog.SecurableConnection {
		on = "connection " + sec.Name.Value
	}
	if len(add) > 0 {
		return statusRow("granted %s on %s to %s", strings.Join(add, ", "), on, principal.Value), nil
	}
	return statusRow("revoked %s on %s from %s", strings.Join(remove, ", "), on, principal.Value), nil
}

func (e *Executor) showGrants(ctx context.Context, who *catalog.Principal, s *ShowGrants) (*Result, error) {
	principal := ""
	if s.Principal != nil {
		principal = s.Principal.Value
	}
	list, err := e.Gov.Permissions(ctx, who, "connection", s.Connection.Value, principal)
	if err != nil {
		return nil, err
	}
	res := &Result{Columns: []Column{{Name: "principal", Type: "STRING"}, {Name: "privilege", Type: "STRING"}, {Name: "object_type", Type: "STRING"}, {Name: "object_key", Type: "STRING"}}, Rows: [][]string{}}
	name := s.Connection.Value
	if n, err := catalog.NormalizeConnectionName(name); err == nil {
		name = n
	}
	for _, a := range list {
		for _, p := range a.Privileges {
			res.Rows = append(res.Rows, []string{a.Principal, p, string(catalog.SecurableConnection), name})
		}
	}
	return res, nil
}
