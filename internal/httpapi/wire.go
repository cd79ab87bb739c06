package httpapi

import (
	"encoding/json"

	"github.com/gatehouse/gatehouse/internal/governance"
)

// The JSON bodies of the HTTP API (docs/api.md). The server encodes them and the client
// that the CLI uses decodes them, so both sides share these types. Times are epoch
// milliseconds, as in Unity Catalog.

// ErrorBody is every error response.
type ErrorBody struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
	LoginURL  string `json:"login_url,omitempty"`
}

// CreateConnectionRequest is the body of POST /api/2.1/unity-catalog/connections.
type CreateConnectionRequest struct {
	Name           string            `json:"name"`
	ConnectionType string            `json:"connection_type"`
	CredentialType string            `json:"credential_type,omitempty"`
	Options        map[string]string `json:"options"`
	Comment        string            `json:"comment,omitempty"`
}

// UpdateConnectionRequest is the body of PATCH /api/2.1/unity-catalog/connections/{name}.
// Absent fields are left alone. Options replace the whole set, except that a secret
// option left out keeps its stored value — unless the destination changes, which needs
// every secret again (governance.UpdateConnection).
type UpdateConnectionRequest struct {
	Options map[string]string `json:"options,omitempty"`
	NewName *string           `json:"new_name,omitempty"`
	Owner   *string           `json:"owner,omitempty"`
	Comment *string           `json:"comment,omitempty"`
	Enabled *bool             `json:"enabled,omitempty"`
}

// ConnectionInfo is a connection as the API shows it. Secret options never appear.
type ConnectionInfo struct {
	Name             string            `json:"name"`
	ConnectionID     string            `json:"connection_id"`
	ConnectionType   string            `json:"connection_type"`
	CredentialType   string            `json:"credential_type"`
	Owner            string            `json:"owner"`
	Comment          string            `json:"comment,omitempty"`
	Options          map[string]string `json:"options"`
	URL              string            `json:"url"`
	SecurableType    string            `json:"securable_type"`
	Enabled          bool              `json:"enabled"`
	CreatedAt        int64             `json:"created_at"`
	CreatedBy        string            `json:"created_by"`
	UpdatedAt        int64             `json:"updated_at"`
	UpdatedBy        string            `json:"updated_by"`
	ProvisioningInfo ProvisioningInfo  `json:"provisioning_info"`
	CredentialStatus CredentialStatus  `json:"credential_status"`
}

// ProvisioningInfo is the provisioning state of a securable.
type ProvisioningInfo struct {
	State string `json:"state"`
}

// CredentialStatus is the state of the credential for the caller's view.
type CredentialStatus struct {
	State                  string `json:"state"`
	Reason                 string `json:"reason,omitempty"`
	AccessTokenExpiration  int64  `json:"access_token_expiration,omitempty"`
	RefreshTokenExpiration int64  `json:"refresh_token_expiration,omitempty"`
	AuthorizedBy           string `json:"authorized_by,omitempty"`
	LastRefreshedAt        int64  `json:"last_refreshed_at,omitempty"`
	LastUsedAt             int64  `json:"last_used_at,omitempty"`
}

// ListConnectionsResponse is one page of connections.
type ListConnectionsResponse struct {
	Connections   []ConnectionInfo `json:"connections"`
	NextPageToken string           `json:"next_page_token,omitempty"`
}

// PrivilegeAssignment is one principal's privileges on a securable.
type PrivilegeAssignment struct {
	Principal  string   `json:"principal"`
	Privileges []string `json:"privileges"`
}

// PermissionsList is the body of GET/PATCH .../permissions/{type}/{name}.
type PermissionsList struct {
	PrivilegeAssignments []PrivilegeAssignment `json:"privilege_assignments"`
}

// PermissionsChange is one principal's change in UpdatePermissions.
type PermissionsChange struct {
	Principal string   `json:"principal"`
	Add       []string `json:"add,omitempty"`
	Remove    []string `json:"remove,omitempty"`
}

// UpdatePermissions is the body of PATCH .../permissions/{type}/{name}.
type UpdatePermissions struct {
	Changes []PermissionsChange `json:"changes"`
}

// EffectivePrivilege is a privilege and where it comes from.
type EffectivePrivilege struct {
	Privilege         string `json:"privilege"`
	InheritedFromType string `json:"inherited_from_type,omitempty"` // GROUP, OWNER, ADMINS; empty when direct
	InheritedFromName string `json:"inherited_from_name,omitempty"`
}

// EffectivePrivilegeAssignment lists a principal's effective privileges.
type EffectivePrivilegeAssignment struct {
	Principal  string               `json:"principal"`
	Privileges []EffectivePrivilege `json:"privileges"`
}

// EffectivePermissionsList is the body of GET .../effective-permissions/{type}/{name}.
type EffectivePermissionsList struct {
	PrivilegeAssignments []EffectivePrivilegeAssignment `json:"privilege_assignments"`
}

// CreateTokenRequest is the body of POST /api/2.0/token/create.
type CreateTokenRequest struct {
	LifetimeSeconds int64  `json:"lifetime_seconds,omitempty"`
	Comment         string `json:"comment,omitempty"`
}

// CreateOBOTokenRequest is the body of POST /api/2.0/token-management/on-behalf-of/tokens.
type CreateOBOTokenRequest struct {
	ApplicationID   string `json:"application_id,omitempty"`
	UserName        string `json:"user_name,omitempty"`
	LifetimeSeconds int64  `json:"lifetime_seconds,omitempty"`
	Comment         string `json:"comment,omitempty"`
}

// TokenInfo describes a token; the secret is only ever in CreateTokenResponse.
type TokenInfo struct {
	TokenID           string `json:"token_id"`
	CreationTime      int64  `json:"creation_time"`
	ExpiryTime        int64  `json:"expiry_time"` // -1: never
	Comment           string `json:"comment,omitempty"`
	OwnerID           string `json:"owner_id,omitempty"`
	OwnerName         string `json:"owner_name,omitempty"`
	CreatedByUsername string `json:"created_by_username,omitempty"`
	LastUsedTime      int64  `json:"last_used_time,omitempty"`
}

// CreateTokenResponse carries the token value, shown once.
type CreateTokenResponse struct {
	TokenValue string    `json:"token_value"`
	TokenInfo  TokenInfo `json:"token_info"`
}

// ListTokensResponse is the body of GET /api/2.0/token/list.
type ListTokensResponse struct {
	TokenInfos []TokenInfo `json:"token_infos"`
}

// DeleteTokenRequest is the body of POST /api/2.0/token/delete.
type DeleteTokenRequest struct {
	TokenID string `json:"token_id"`
}

// SCIM schema URNs.
const (
	SchemaUser             = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup            = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaServicePrincipal = "urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"
	SchemaListResponse     = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp          = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaError            = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// SCIMRef is a reference to another principal (a member or a group).
type SCIMRef struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"` // User, ServicePrincipal, Group
	Ref     string `json:"$ref,omitempty"`
}

// SCIMEmail is an email of a user.
type SCIMEmail struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// SCIMUser is a user resource.
type SCIMUser struct {
	Schemas     []string    `json:"schemas"`
	ID          string      `json:"id,omitempty"`
	UserName    string      `json:"userName"`
	DisplayName string      `json:"displayName,omitempty"`
	Active      *bool       `json:"active,omitempty"`
	ExternalID  string      `json:"externalId,omitempty"`
	Emails      []SCIMEmail `json:"emails,omitempty"`
	Groups      []SCIMRef   `json:"groups,omitempty"`
}

// SCIMServicePrincipal is a service principal resource.
type SCIMServicePrincipal struct {
	Schemas       []string  `json:"schemas"`
	ID            string    `json:"id,omitempty"`
	ApplicationID string    `json:"applicationId,omitempty"`
	DisplayName   string    `json:"displayName,omitempty"`
	Active        *bool     `json:"active,omitempty"`
	ExternalID    string    `json:"externalId,omitempty"`
	Groups        []SCIMRef `json:"groups,omitempty"`
}

// SCIMGroup is a group resource.
type SCIMGroup struct {
	Schemas     []string  `json:"schemas"`
	ID          string    `json:"id,omitempty"`
	DisplayName string    `json:"displayName"`
	ExternalID  string    `json:"externalId,omitempty"`
	Members     []SCIMRef `json:"members,omitempty"`
	Groups      []SCIMRef `json:"groups,omitempty"`
}

// SCIMMe is the body of GET /api/2.0/preview/scim/v2/Me: the current principal of any
// kind, with its groups (direct and inherited).
type SCIMMe struct {
	Schemas       []string  `json:"schemas"`
	ID            string    `json:"id"`
	UserName      string    `json:"userName,omitempty"`
	ApplicationID string    `json:"applicationId,omitempty"`
	DisplayName   string    `json:"displayName,omitempty"`
	Active        bool      `json:"active"`
	Groups        []SCIMRef `json:"groups"`
}

// SCIMList is a SCIM ListResponse; Resources holds SCIMUser, SCIMGroup or
// SCIMServicePrincipal values.
type SCIMList[T any] struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []T      `json:"Resources"`
}

// SCIMPatch is a SCIM PatchOp request.
type SCIMPatch struct {
	Schemas    []string      `json:"schemas"`
	Operations []SCIMPatchOp `json:"Operations"`
}

// SCIMPatchOp is one PATCH operation: op add|remove|replace; path such as "members",
// `members[value eq "ID"]`, "active", "displayName"; value a JSON value.
type SCIMPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

// AuditEventInfo is an audit record as the API shows it (GET /api/2.0/gatehouse/audit).
type AuditEventInfo struct {
	EventID       string            `json:"event_id"`
	EventTime     int64             `json:"event_time"` // epoch ms
	ActionName    string            `json:"action_name"`
	Principal     string            `json:"principal"`
	SourceIP      string            `json:"source_ip"`
	RequestID     string            `json:"request_id"`
	Connection    string            `json:"connection,omitempty"`
	RequestParams map[string]string `json:"request_params,omitempty"`
	Response      AuditResponse     `json:"response"`
	Decision      string            `json:"decision"`
	PrevHash      string            `json:"prev_hash"`
	Hash          string            `json:"hash"`
}

// AuditResponse is the outcome part of an audit record.
type AuditResponse struct {
	StatusCode int    `json:"status_code"`
	ErrorCode  string `json:"error_code,omitempty"`
}

// VerifyAuditResponse is the answer of GET /api/2.0/gatehouse/audit/verify: the
// server's check of the keyed hash chain over the whole log.
type VerifyAuditResponse struct {
	// Intact is true when every event verified, legacy (unkeyed) events appear only as
	// a prefix followed by keyed ones, and the saved head, if one was given, is in the log.
	Intact bool `json:"intact"`
	// Events counts the events verified intact from the start of the log; KeyedEvents
	// and LegacyEvents split them.
	Events       int `json:"events"`
	KeyedEvents  int `json:"keyed_events"`
	LegacyEvents int `json:"legacy_events"`
	// HeadHash is the hash of the newest event verified intact (64 zeros for none):
	// save it and pass it later as head to prove that nothing was cut off the end.
	HeadHash string `json:"head_hash"`
	// SavedHead and SavedHeadFound echo the head parameter and whether the log has it.
	SavedHead      string `json:"saved_head,omitempty"`
	SavedHeadFound bool   `json:"saved_head_found,omitempty"`
	// Broken says where and why the chain is not intact.
	Broken *AuditChainBreak `json:"broken,omitempty"`
}

// AuditChainBreak is the first problem found in the chain.
type AuditChainBreak struct {
	// Index is the position of the broken event from the start of the log, or the
	// number of events for a problem after the last one.
	Index int `json:"index"`
	// EventID is the broken event's, "" for a problem after the last one.
	EventID string `json:"event_id,omitempty"`
	Reason  string `json:"reason"`
}

// ListAuditResponse is one page of audit events, oldest first unless the query asked
// for order=desc.
type ListAuditResponse struct {
	Events        []AuditEventInfo `json:"events"`
	NextPageToken string           `json:"next_page_token,omitempty"`
}

// ExternalFunctionRequest is the body of POST /api/2.0/external-function. Headers,
// Params and JSON may each be a JSON object or a JSON-encoded string of one; Body is
// base64 and excludes JSON.
type ExternalFunctionRequest struct {
	ConnectionName string          `json:"connection_name"`
	Method         string          `json:"method"`
	Path           string          `json:"path"`
	Headers        json.RawMessage `json:"headers,omitempty"`
	Params         json.RawMessage `json:"params,omitempty"`
	JSON           json.RawMessage `json:"json,omitempty"`
	Body           string          `json:"body,omitempty"`
}

// UserCredentialInfo is one user's token of a per-user connection
// (GET .../connections/{name}/user-credentials/{principal}); never the token itself.
type UserCredentialInfo struct {
	Connection       string           `json:"connection"`
	Principal        string           `json:"principal"`
	CredentialStatus CredentialStatus `json:"credential_status"`
}

// InventoryNoUserYet is the holder of the NEEDS_LOGIN row of a per-user connection no
// user has logged in to yet.
const InventoryNoUserYet = governance.InventoryNoUserYet

// InventoryItem is one credential Gatehouse holds, or the NEEDS_LOGIN row of a
// user-to-machine connection that holds none yet.
type InventoryItem struct {
	Connection             string `json:"connection"`
	CredentialType         string `json:"credential_type"`
	Holder                 string `json:"holder"` // "shared", the user's name, or InventoryNoUserYet
	State                  string `json:"state"`
	Reason                 string `json:"reason,omitempty"`
	AccessTokenExpiration  int64  `json:"access_token_expiration,omitempty"`
	RefreshTokenExpiration int64  `json:"refresh_token_expiration,omitempty"`
	LastUsedAt             int64  `json:"last_used_at,omitempty"`
	LastRefreshedAt        int64  `json:"last_refreshed_at,omitempty"`
	AuthorizedBy           string `json:"authorized_by,omitempty"`
	GranteeCount           int    `json:"grantee_count"`
}

// InventoryResponse is the body of GET /api/2.0/gatehouse/inventory.
type InventoryResponse struct {
	Credentials []InventoryItem `json:"credentials"`
}

// ProviderCheck is one prerequisite of an OAuth provider.
type ProviderCheck struct {
	Name     string `json:"name"`
	Result   string `json:"result"` // pass, fail, unknown
	Evidence string `json:"evidence,omitempty"`
	Fix      string `json:"fix,omitempty"`
}

// ProviderCheckResponse is the body of GET /api/2.0/gatehouse/connections/{name}/check.
type ProviderCheckResponse struct {
	Connection  string          `json:"connection"`
	RedirectURI string          `json:"redirect_uri"`
	Checks      []ProviderCheck `json:"checks"`
}
