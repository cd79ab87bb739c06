package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

// callCommand is `gatehouse call CONN METHOD PATH`: a request through a connection,
// with the credential added by the server, printing the upstream's answer.
func (c *clientCLI) callCommand() *cobra.Command {
	var (
		jsonBody, data string
		headers        []string
		include        bool
	)
	cmd := &cobra.Command{
		Use:   "call CONNECTION METHOD PATH",
		Short: "Call an external API through a connection; Gatehouse adds the credential",
		Example: `  gatehouse call github GET /user
  gatehouse call github GET '/search/repositories?q=gatehouse'
  gatehouse call slack POST /chat.postMessage --json '{"channel":"#ops","text":"hi"}'
  gatehouse call github POST /repos/o/r/issues --json @issue.json -H 'Accept: application/vnd.github+json'`,
		Args: cliExactArgs("CONNECTION", "METHOD", "PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			h := http.Header{}
			for _, kv := range headers {
				k, v, ok := strings.Cut(kv, ":")
				if !ok || strings.TrimSpace(k) == "" {
					return fmt.Errorf("-H %q: use 'Name: value'", kv)
				}
				h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
			var body io.Reader
			switch {
			case jsonBody != "" && data != "":
				return fmt.Errorf("--json and --data cannot be used together")
			case jsonBody != "":
				b, err := c.readArg(jsonBody)
				if err != nil {
					return fmt.Errorf("--json: %w", err)
				}
				if !json.Valid(b) {
					return fmt.Errorf("--json: not valid JSON")
				}
				body = bytes.NewReader(b)
				if h.Get("Content-Type") == "" {
					h.Set("Content-Type", "application/json")
				}
			case data != "":
				b, err := c.readArg(data)
				if err != nil {
					return fmt.Errorf("--data: %w", err)
				}
				body = bytes.NewReader(b)
			}
			resp, err := api.Call(cmd.Context(), args[0], strings.ToUpper(args[1]), args[2], h, body)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if c.output == "json" {
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					return err
				}
				hs := map[string]string{}
				for k := range resp.Header {
					hs[k] = resp.Header.Get(k)
				}
				out := map[string]any{"status_code": resp.StatusCode, "headers": hs, "text": string(b)}
				enc := json.NewEncoder(c.e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(out); err != nil {
					return err
				}
			} else {
				if include {
					fmt.Fprintf(c.e.stdout, "%s %s\n", resp.Proto, resp.Status)
					_ = resp.Header.Write(c.e.stdout)
					fmt.Fprintln(c.e.stdout)
				}
				if _, err := io.Copy(c.e.stdout, resp.Body); err != nil {
					return err
				}
			}
			if resp.StatusCode >= 400 {
				return fmt.Errorf("upstream answered %s", resp.Status)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&jsonBody, "json", "", "JSON request body; @FILE reads a file, @- stdin")
	f.StringVarP(&data, "data", "d", "", "raw request body; @FILE reads a file, @- stdin")
	f.StringArrayVarP(&headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	f.BoolVarP(&include, "include", "i", false, "print the status line and headers before the body")
	return cmd
}

// readArg reads a flag value that may be @FILE or @- (stdin).
func (c *clientCLI) readArg(v string) ([]byte, error) {
	switch {
	case v == "@-":
		return cliReadLimited(c.e.stdin)
	case strings.HasPrefix(v, "@"):
		return cliReadFile(v[1:])
	}
	return []byte(v), nil
}
