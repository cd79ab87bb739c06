package catalog

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// PrincipalKind says what a principal is.
type PrincipalKind string

// The kinds of principal.
const (
	KindUser             PrincipalKind = "USER"
	KindServicePrincipal PrincipalKind = "SERVICE_PRINCIPAL"
	KindGroup            PrincipalKind = "GROUP"
)

// Built-in group names. AdminsGroup members may do everything; UsersGroup contains every
// user and service principal implicitly (no membership rows are stored for it).
const (
	AdminsGroup = "admins"
	UsersGroup  = "users"
)

// Principal is a user, a service principal or a group. Name is unique across the three
// kinds: a user's userName, a service principal's applicationId, a group's displayName.
// Grants, owners and tokens refer to principals by ID; the API shows names.
type Principal struct {
	ID          string
	Kind        PrincipalKind
	Name        string
	DisplayName string
	// Active is false for a deactivated principal: its tokens stop working at once.
	// Groups are always active.
	Active     bool
	ExternalID string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Membership is one edge of the group graph: MemberID is a direct member of GroupID.
type Membership struct {
	GroupID  string
	MemberID string
}

// Token is a personal access token. Only the SHA-256 hash of the secret is stored.
type Token struct {
	ID          string
	PrincipalID string
	Hash        []byte `json:"-"`
	Comment     string
	CreatedBy   string // principal ID of who minted it
	CreatedAt   time.Time
	ExpiresAt   time.Time // zero: never
	LastUsedAt  time.Time // zero: never used
	// Audience is the one resource (RFC 8707) the token was issued for — an MCP
	// connection's URL, for a token Gatehouse's authorization server issued to an MCP
	// client — and is refused everywhere else; "" (personal access tokens) is every API.
	Audience string
}

// IsMCP reports whether the connection is an external MCP server (is_mcp_connection
// "true").
func (c *Connection) IsMCP() bool { return strings.EqualFold(c.Options[OptIsMCP], "true") }

// Expired reports whether the token has expired at now.
func (t *Token) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// Connection is a securable of type CONNECTION: an endpoint and a credential.
type Connection struct {
	ID             string
	Name           string
	ConnectionType string // always "HTTP"
	CredentialType CredentialType
	OwnerID        string
	Comment        string
	// Options holds the non-secret options, normalized.
	Options map[string]string
	// Secrets holds the sealed secret options (field name → ciphertext). The additional
	// data of each ciphertext binds it to (connection ID, field, no principal).
	Secrets   map[string][]byte `json:"-"`
	Enabled   bool
	CreatedAt time.Time
	CreatedBy string // principal ID
	UpdatedAt time.Time
	UpdatedBy string // principal ID
}

// SecurableType names a kind of securable.
type SecurableType string

// The securable types.
const (
	SecurableConnection SecurableType = "CONNECTION"
	SecurableMetastore  SecurableType = "METASTORE"
)

// MetastoreID is the ID of the one metastore securable.
const MetastoreID = "default"

// Privilege is a right on a securable.
type Privilege string

// The privileges.
const (
	UseConnection    Privilege = "USE_CONNECTION"
	Manage           Privilege = "MANAGE"
	AllPrivileges    Privilege = "ALL_PRIVILEGES"
	CreateConnection Privilege = "CREATE_CONNECTION"
)

// ValidPrivilege reports whether p may be granted on a securable of type t.
func ValidPrivilege(t SecurableType, p Privilege) bool {
	return slices.Contains(Privileges(t), p)
}

var (
	connectionPrivileges = []Privilege{UseConnection, Manage, AllPrivileges}
	metastorePrivileges  = []Privilege{CreateConnection}
)

// Privileges lists the privileges that may be granted on a securable of type t, for
// validation and for the messages that name them. The caller must not modify it.
func Privileges(t SecurableType) []Privilege {
	switch t {
	case SecurableConnection:
		return connectionPrivileges
	case SecurableMetastore:
		return metastorePrivileges
	}
	return nil
}

// PrivilegeList is Privileges(t) as text: "USE_CONNECTION, MANAGE, ALL_PRIVILEGES".
func PrivilegeList(t SecurableType) string {
	var b strings.Builder
	for i, p := range Privileges(t) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(p))
	}
	return b.String()
}

// Grant gives PrincipalID the privilege on one securable.
type Grant struct {
	SecurableType SecurableType
	SecurableID   string
	PrincipalID   string
	Privilege     Privilege
}

// NewID returns a random UUID (version 4) string.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // since Go 1.24 crypto/rand.Read never returns an error
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
