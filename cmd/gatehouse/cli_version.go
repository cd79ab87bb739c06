package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/buildinfo"
)

// addVersion gives root `gatehouse version` and `gatehouse --version`: the version, the
// commit and the Go version of this binary, as /metrics shows them in gatehouse_build_info.
func addVersion(root *cobra.Command, e *env) {
	info := buildinfo.Get()
	root.Version = info.Version
	root.SetVersionTemplate(versionText(info))
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this gatehouse binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch output {
			case "json":
				return writeVersionJSON(e.stdout, info)
			case "table", "":
				_, err := io.WriteString(e.stdout, versionText(info))
				return err
			}
			return fmt.Errorf("--output %q: want table or json", output)
		},
	}
	// The client commands' persistent -o flag is on root; version reads it from there so
	// that `gatehouse version -o json` works without a server.
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if f := cmd.Flags().Lookup("output"); f != nil {
			output = f.Value.String()
		}
		return nil
	}
	root.AddCommand(cmd)
}

func versionText(info buildinfo.Info) string {
	return fmt.Sprintf("gatehouse %s\ncommit: %s\ngo: %s\n", info.Version, info.Commit, info.GoVersion)
}

func writeVersionJSON(w io.Writer, info buildinfo.Info) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(info)
}
