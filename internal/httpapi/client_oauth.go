package httpapi

import (
	"context"
	"net/http"
)

// Inventory lists every credential Gatehouse holds (admins).
func (c *Client) Inventory(ctx context.Context) (*InventoryResponse, error) {
	var out InventoryResponse
	if err := c.do(ctx, http.MethodGet, "/api/2.0/gatehouse/inventory", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CheckProvider runs the provider prerequisite checks of an OAuth connection.
func (c *Client) CheckProvider(ctx context.Context, connection string) (*ProviderCheckResponse, error) {
	p, err := clientPath("/api/2.0/gatehouse/connections", connection, "check")
	if err != nil {
		return nil, err
	}
	var out ProviderCheckResponse
	if err := c.do(ctx, http.MethodGet, p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetUserCredential shows a user's token status of a per-user connection.
func (c *Client) GetUserCredential(ctx context.Context, connection, principal string) (*UserCredentialInfo, error) {
	p, err := clientPath(clientConnectionsPath, connection, "user-credentials", principal)
	if err != nil {
		return nil, err
	}
	var out UserCredentialInfo
	if err := c.do(ctx, http.MethodGet, p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteUserCredential disconnects a user from a per-user connection.
func (c *Client) DeleteUserCredential(ctx context.Context, connection, principal string) error {
	p, err := clientPath(clientConnectionsPath, connection, "user-credentials", principal)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, p, nil, nil, nil)
}

// BaseURL is the server's URL as the client was given it.
func (c *Client) BaseURL() string { return c.baseURL }
