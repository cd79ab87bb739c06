package mcp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// ToolDefinition is one tool as a tools/list answer defines it (catalog.MCPToolDefinition).
type ToolDefinition = catalog.MCPToolDefinition

// ToolDefinitionOf reduces one element of a tools/list result's tools array to what
// pinning compares: its name, its description, and a hash of the canonical JSON of
// name, description and inputSchema. Canonical means decoded and encoded again with
// object keys sorted and numbers kept as written, so a server that reorders the keys
// of a schema does not change the hash, and any change of meaning does. Other members
// (annotations, title, outputSchema) are not part of the pin.
func ToolDefinitionOf(raw json.RawMessage) (ToolDefinition, error) {
	var t struct {
		Name        *string         `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"inputSchema"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return ToolDefinition{}, fmt.Errorf("tool definition: %w", err)
	}
	if t.Name == nil || *t.Name == "" {
		return ToolDefinition{}, errors.New("tool definition: no name")
	}
	schema, err := canonicalJSON(t.InputSchema)
	if err != nil {
		return ToolDefinition{}, fmt.Errorf("tool %s: inputSchema: %w", *t.Name, err)
	}
	name, _ := json.Marshal(*t.Name)
	desc, _ := json.Marshal(t.Description)
	var b bytes.Buffer
	b.WriteString(`{"description":`)
	b.Write(desc)
	b.WriteString(`,"inputSchema":`)
	b.Write(schema)
	b.WriteString(`,"name":`)
	b.Write(name)
	b.WriteByte('}')
	sum := sha256.Sum256(b.Bytes())
	return ToolDefinition{Name: *t.Name, Description: t.Description, Hash: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

// canonicalJSON re-encodes a JSON value with sorted object keys and numbers as written;
// an absent value is null.
func canonicalJSON(raw json.RawMessage) ([]byte, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return []byte("null"), nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v) // encoding/json sorts map keys.
}
