// Command gatehouse is both the Gatehouse server (`gatehouse server`) and its CLI, which
// is a client of the HTTP API. This package only wires: it reads configuration, builds
// the components and starts them, or runs one CLI command.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		// A command may end with its own exit code (`sql --plan --detailed-exitcode`).
		code := 1
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			code = ec.ExitCode()
		}
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "gatehouse:", msg)
		}
		os.Exit(code)
	}
}

// env is what a command may touch of the outside world; tests pass their own.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// run executes one gatehouse command line.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "Gatehouse governs how people, services and agents reach external HTTP APIs and MCP servers",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(serverCommand(e))
	root.AddCommand(adminCommand(e))
	// Issue 11: schema migrations and moving a deployment between stores.
	root.AddCommand(migrateCommand(e), storeCommand(e))
	addClientCommands(root, e)
	addVersion(root, e)
	return root.ExecuteContext(ctx)
}
