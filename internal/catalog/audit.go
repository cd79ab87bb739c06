package catalog

import (
	"context"
	"time"
)

// Audit action names (docs/api.md, "Audit").
const (
	ActionCreateConnection  = "createConnection"
	ActionUpdateConnection  = "updateConnection"
	ActionDeleteConnection  = "deleteConnection"
	ActionUpdatePermissions = "updatePermissions"
	ActionUseConnection     = "useConnection"
	ActionOAuthLogin        = "oauthLogin"
	ActionOAuthRefresh      = "oauthRefresh"
	ActionCredentialState   = "credentialState"
	ActionNetworkDenied     = "networkDenied"
	ActionTokenCreate       = "tokenCreate"
	ActionTokenDelete       = "tokenDelete"
	ActionPrincipalChange   = "principalChange"
	// ActionEgressTunnel is a connection through the egress proxy (egress/tunnel).
	ActionEgressTunnel = "egressTunnel"
	// ActionUpdateNetworkPolicy is a change of the network policy.
	ActionUpdateNetworkPolicy = "updateNetworkPolicy"
	// ActionAuditChainKeyed anchors a legacy (unkeyed) audit chain to the keyed one.
	ActionAuditChainKeyed = "auditChainKeyed"
	// ActionMCPToolCall is one tools/call through the MCP proxy (never its arguments or
	// result), recorded beside the request's useConnection.
	ActionMCPToolCall = "mcpToolCall"
	// ActionMCPToolChange is a tool of a pinning MCP connection entering CHANGED or NEW
	// (once per definition seen, hashes only), written when a tools/list shows it.
	ActionMCPToolChange = "mcpToolChange"
	// ActionMCPToolApprove is an approval of MCP tools' definitions (new pins).
	ActionMCPToolApprove = "mcpToolApprove"
	// ActionSignIn is a browser sign-in by single sign-on (issue 12): allowed, or
	// refused with the reason's error code. It names the principal, never a code or
	// an ID token.
	ActionSignIn = "signIn"
)

// Every action above must be in AuditActions (enum.go), which the filters check.

// Audit decisions. DecisionDryRunDeny is a connection the network policy would have
// refused but let through because the policy is in DRY_RUN mode.
const (
	DecisionAllow      = "ALLOW"
	DecisionDeny       = "DENY"
	DecisionDryRunDeny = "DRY_RUN_DENY"
)

// AuditEvent is one audit record. Secret values never appear in it; where a secret must
// be matched it appears as "hmac-sha256:<hex>". Seq orders the records of one store and
// PrevHash/Hash chain each record to the one before it, so that removing or changing a
// record is detectable (`gatehouse audit verify`).
type AuditEvent struct {
	Seq        int64
	EventID    string
	EventTime  time.Time
	ActionName string
	Principal  string
	SourceIP   string
	RequestID  string
	Connection string
	Params     map[string]string
	StatusCode int
	ErrorCode  string
	Decision   string
	PrevHash   string
	Hash       string
}

// AuditFilter selects audit events. Zero fields do not filter. Events come in Seq
// order, oldest first, starting after AfterSeq. Since is inclusive and Until exclusive;
// Principal, Connection, Action and Decision match exactly. Limit bounds the number of events:
// 100 when it is zero or negative, and never more than 1000.
//
// Descending turns the order around: newest first, starting before BeforeSeq (0: from
// the newest event); AfterSeq still bounds the other end.
type AuditFilter struct {
	Since, Until time.Time
	Principal    string
	Connection   string
	Action       string
	AfterSeq     int64
	Limit        int
	Descending   bool
	BeforeSeq    int64
	Decision     string // ALLOW or DENY (the console's audit filter, issue 13)
}

// AuditStore keeps audit events. Appends come in batches (group commit), from one
// writer per replica; the store keeps them in the order given, and AppendAuditChained
// makes the batches of several writers (replicas) one chain.
type AuditStore interface {
	// AppendAudit stores the events in one transaction, in the order given, exactly as
	// given (prev_hash and hash included: it copies a log), assigning Seq (increasing,
	// never reused) once it has committed; on an error none is stored.
	// An event ID already stored is RESOURCE_ALREADY_EXISTS.
	AppendAudit(ctx context.Context, events []*AuditEvent) error
	// AppendAuditChained stores the events as the next ones of the log's chain, in one
	// transaction that holds the log's append lock (so that the batches of several
	// writers, in one process or several, never interleave or fork the chain). Inside
	// it, it reads the hash of the newest stored event ("" when the log is empty) and
	// calls link for each event in order with the hash of the event before it: the
	// newest stored one's for the first event, then the Hash that link set on the
	// previous event. link sets e.PrevHash and e.Hash (it must not block: it runs
	// under the lock). The events are stored with Seq increasing in chain order, and
	// Seq is assigned once the transaction has committed, as AppendAudit. An error of
	// link ends the transaction with nothing stored and is returned as it is; on any
	// error none is stored, and the batch may be appended again (link is then called
	// afresh: its links may differ).
	AppendAuditChained(ctx context.Context, events []*AuditEvent, link func(prevHash string, e *AuditEvent) error) error
	// LastAudit returns the newest event, or RESOURCE_DOES_NOT_EXIST when there is none.
	LastAudit(ctx context.Context) (*AuditEvent, error)
	// ListAudit returns events matching f in Seq order (descending when f.Descending).
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
}
