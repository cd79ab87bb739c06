package main

// `gatehouse store copy`: move a deployment from one store to another (SQLite to
// PostgreSQL), verified after; the copy itself is internal/store/storecopy.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/gatehouse/gatehouse/internal/store/storecopy"
)

func storeCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Offline operations between stores (servers stopped)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(storeCopyCommand(e))
	return cmd
}

func storeCopyCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "copy",
		Short: "Copy a whole deployment into an empty store (SQLite to PostgreSQL), verified after",
		Long: `Copy everything a deployment keeps from one store into another, then read it all
back and compare: the way from SQLite to PostgreSQL.

  gatehouse store copy --from sqlite:/var/lib/gatehouse --to postgres://gatehouse@db/gatehouse

It copies principals, memberships, tokens (their hashes), connections with their sealed
secrets as they are, grants (connections and metastore), meta values (the keyring, the
key check), OAuth credentials (sealed, with their versions), the network policy and
network events, MCP tool pins, the authorization server's live refresh-token families
(MCP clients and CLI sessions keep refreshing), and the audit log with its hashes, in
order. IDs are kept, so every sealed value stays bound to what it belongs to; no master
key is needed or read. Browser sessions, pending logins and authorization codes are not
copied: users sign in to the console again.

It refuses unless the destination is empty and the source is not in use (an SQLite
source's data folder is locked: stop the server first; stop every replica of a
PostgreSQL source). Then it verifies: the counts of every kind and every record read
back equal to the source's, the audit log's hashes equal and linking, and prints a
table of what was copied and verified. Bad input writes nothing. A write that fails
part way says what was written: the destination was empty, so drop it (the database,
or the SQLite file), create it empty and run again.`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("from", "", "the source store: sqlite:DIR (the data folder) or a postgres:// URL")
	f.String("to", "", "the destination store, empty: a postgres:// URL or sqlite:DIR")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fromV, _ := cmd.Flags().GetString("from")
		toV, _ := cmd.Flags().GetString("to")
		from, err := parseOfflineStore(fromV, "")
		if err != nil {
			return fmt.Errorf("--from: %w", err)
		}
		to, err := parseOfflineStore(toV, "")
		if err != nil {
			return fmt.Errorf("--to: %w", err)
		}
		return runStoreCopy(cmd.Context(), e, from, to)
	}
	return cmd
}

// openOffline opens a store for store copy: an SQLite one with its data folder locked
// (the returned function releases both), a PostgreSQL one with its schema brought up
// to date. An SQLite source must exist; a destination folder is created.
func openOffline(ctx context.Context, st offlineStore, source bool) (catalog.Store, func(), error) {
	if st.isPostgres() {
		db, err := postgres.Open(ctx, st.dsn, postgres.Options{MaxConns: 4})
		if err != nil {
			return nil, nil, st.scrub(err)
		}
		return db, func() { _ = db.Close() }, nil
	}
	if source {
		if _, err := os.Stat(st.dbPath()); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil, fmt.Errorf("no store at %s: is it the server's data folder?", st.dbPath())
			}
			return nil, nil, err
		}
	} else if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create %s: %w", st.dir, err)
	}
	unlock, err := lockDataDir(st.dir, true)
	if err != nil {
		return nil, nil, err
	}
	db, err := sqlite.Open(ctx, st.dbPath())
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return db, func() { _ = db.Close(); unlock() }, nil
}

func runStoreCopy(ctx context.Context, e *env, from, to offlineStore) error {
	if from.isPostgres() == to.isPostgres() && from.dsn == to.dsn &&
		(from.isPostgres() || filepath.Clean(from.dir) == filepath.Clean(to.dir)) {
		return errors.New("--from and --to name the same store")
	}
	src, closeSrc, err := openOffline(ctx, from, true)
	if err != nil {
		return fmt.Errorf("source %s: %w", from, err)
	}
	defer closeSrc()
	dst, closeDst, err := openOffline(ctx, to, false)
	if err != nil {
		return fmt.Errorf("destination %s: %w", to, err)
	}
	defer closeDst()
	if err := storecopy.CheckEmpty(ctx, dst); err != nil {
		return fmt.Errorf("destination %s: %w", to, to.scrub(err))
	}
	fmt.Fprintf(e.stdout, "Copying %s to %s ...\n", from, to)
	r, err := storecopy.Copy(ctx, src, dst)
	if err != nil {
		return fmt.Errorf("store copy: %w", to.scrub(from.scrub(err)))
	}
	r, err = storecopy.Verify(ctx, src, dst, r)
	if werr := r.WriteTable(e.stdout); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("store copy: verify: %w (the destination holds the copy that did not verify: drop it and run again)", to.scrub(from.scrub(err)))
	}
	fmt.Fprintf(e.stdout, "Copied and verified: %s holds the deployment.\n", to)
	if !from.isPostgres() {
		if _, err := os.Stat(filepath.Join(from.dir, "master.key")); err == nil {
			fmt.Fprintf(e.stdout, "A development master key is in %s: if the old server ran on it, the servers on the new store need that same key: --master-key-file %s (or its value in GATEHOUSE_MASTER_KEY).\n", filepath.Join(from.dir, "master.key"), filepath.Join(from.dir, "master.key"))
		}
	}
	fmt.Fprintln(e.stdout, "Every server on the new store needs the master key the old one ran with. Keep the old store until the new one serves.")
	return nil
}
