package httpapi

import (
	"context"
	"net/http"
)

const clientSQLPath = "/api/2.0/sql/statements"

// ExecuteStatement sends one statement (or, with req.Plan, a script to plan) to POST
// /api/2.0/sql/statements. A statement that failed is an answer, not an error: its
// Status.State is FAILED with the error; the error return is for a request the server
// refused (authentication, a malformed body) or could not be reached.
func (c *Client) ExecuteStatement(ctx context.Context, req StatementRequest) (*StatementResponse, error) {
	var out StatementResponse
	if err := c.do(ctx, http.MethodPost, clientSQLPath, nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
