package main

// `gatehouse admin`: operations on the store itself, run on the server's host with the
// server stopped. `admin recover` is the one way back in when the admin token is lost.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/bound"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/seal"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// recoverParam marks the tokenCreate audit event that `admin recover` writes.
const recoverParam = "recovered"

func adminCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Offline operations on the store (run on the server's host, server stopped)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(adminRecoverCommand(e))
	return cmd
}

func adminRecoverCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Mint a new token for the user admin when no admin token is left",
		Long: `Mint a new token for the user "admin" and print it once: the way back in when the
admin token is lost (never printed, deleted, expired, or admin deactivated).

Run it on the server's host with the server stopped: it opens the SQLite store in
--data-dir directly and refuses while a server holds it ("stop the server first").
With --store postgres://... (GATEHOUSE_STORE) it opens that database instead; replicas
share it by design, so there is no hold to take and the new token reaches them at once.
It needs the master key the server runs with, from the same sources: GATEHOUSE_MASTER_KEY,
--master-key-file (GATEHOUSE_MASTER_KEY_FILE), or else the development key in the data
folder. The key is proven by opening the store's keyring; a wrong key is refused and
nothing changes.

It makes sure the user admin exists, is active and is a member of "admins" (creating or
reactivating it as needed), mints a token that expires after --lifetime, and writes a
tokenCreate audit event with recovered=true to the keyed audit chain.`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("data-dir", "./gatehouse-data", "the server's data folder (GATEHOUSE_DATA_DIR)")
	f.String("store", storeSQLite, `the server's store: "sqlite" (the file in --data-dir) or a postgres:// URL (GATEHOUSE_STORE)`)
	f.String("master-key-file", "", "file holding the base64 master key (GATEHOUSE_MASTER_KEY_FILE)")
	f.String("lifetime", "24h", "lifetime of the new token, e.g. 24h, 90m or 7d")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		val := func(name, envName string) string {
			fl := cmd.Flags().Lookup(name)
			if fl.Changed {
				return fl.Value.String()
			}
			if envName != "" {
				if v := e.getenv(envName); v != "" {
					return v
				}
			}
			return fl.DefValue
		}
		lifetime, err := cliParseLifetime(val("lifetime", ""))
		if err != nil {
			return fmt.Errorf("lifetime: %w", err)
		}
		return adminRecover(cmd.Context(), e, recoverConfig{
			DataDir:       val("data-dir", "GATEHOUSE_DATA_DIR"),
			Store:         val("store", "GATEHOUSE_STORE"),
			MasterKey:     e.getenv("GATEHOUSE_MASTER_KEY"),
			MasterKeyFile: val("master-key-file", "GATEHOUSE_MASTER_KEY_FILE"),
			Lifetime:      lifetime,
			Now:           time.Now,
		})
	}
	return cmd
}

// recoverConfig is what `admin recover` runs with.
type recoverConfig struct {
	DataDir       string
	Store         string // "sqlite" ("" too) or a postgres:// URL
	MasterKey     string
	MasterKeyFile string
	Lifetime      time.Duration
	Now           func() time.Time
}

func adminRecover(ctx context.Context, e *env, cfg recoverConfig) (err error) {
	if cfg.MasterKey != "" && cfg.MasterKeyFile != "" {
		return errors.New("master key: set GATEHOUSE_MASTER_KEY or --master-key-file, not both")
	}
	if cfg.Store == "" {
		cfg.Store = storeSQLite
	}
	if err := checkStore(cfg.Store); err != nil {
		return err
	}
	dbPath := storeLabel(cfg.Store, cfg.DataDir)
	if err := storeExists(cfg.Store, cfg.DataDir); err != nil {
		return err
	}
	if !isPostgresURL(cfg.Store) {
		// PostgreSQL needs no such hold: the replicas share the database by design, and
		// the new token reaches them as any other change does.
		unlock, err := lockDataDir(cfg.DataDir, true)
		if err != nil {
			return err
		}
		defer unlock()
	}

	keyFile := cfg.MasterKeyFile
	if cfg.MasterKey == "" && keyFile == "" {
		// The development key the server generated, never a new one: a new key could
		// not open the keyring anyway.
		keyFile = filepath.Join(cfg.DataDir, "master.key")
		if _, err := os.Stat(keyFile); err != nil {
			return errors.New("master key: none given and no development key in the data folder; set GATEHOUSE_MASTER_KEY or --master-key-file to the key the server runs with")
		}
	}
	master, source, _, err := seal.LoadMasterKey(cfg.MasterKey, keyFile, "")
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}

	var st catalog.Store
	if isPostgresURL(cfg.Store) {
		pst, err := postgres.Open(ctx, cfg.Store, postgres.Options{MaxConns: 2})
		if err != nil {
			return fmt.Errorf("%w (%s)", err, dbPath)
		}
		defer pst.Close()
		st = pst
	} else {
		sst, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "gatehouse.db"))
		if err != nil {
			return fmt.Errorf("open store: %w", err)
		}
		defer sst.Close()
		st = sst
	}
	blob, err := st.GetMeta(ctx, "keyring")
	if catalog.IsNotFound(err) {
		return fmt.Errorf("the store at %s has no keyring: it was never started by a server", dbPath)
	}
	if err != nil {
		return fmt.Errorf("read keyring: %w", err)
	}
	if _, err := seal.ImportKeyring(master, blob); err != nil {
		return fmt.Errorf("the master key from %s does not open this store's keyring (wrong key?); nothing was changed", source)
	}
	chainKey, err := audit.ChainKey(master)
	if err != nil {
		return err
	}
	log := slog.New(bound.NewHandler(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}), bound.Limit))
	// The recorder checks the chain's head against the key before it accepts events: a
	// chain it cannot continue is refused here, before a token exists.
	rec, err := audit.New(st, log, audit.Options{Now: cfg.Now, ChainKey: chainKey})
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	now := cfg.Now()
	r, err := identity.RecoverAdmin(ctx, st, now, now.Add(cfg.Lifetime))
	if err != nil {
		_ = rec.Close(ctx)
		return err
	}
	params := map[string]string{recoverParam: "true", "token_id": r.Record.ID, "lifetime_seconds": strconv.FormatInt(int64(cfg.Lifetime/time.Second), 10)}
	if r.Created {
		params["admin_created"] = "true"
	}
	if r.Reactivated {
		params["admin_reactivated"] = "true"
	}
	rec.Record(ctx, &catalog.AuditEvent{ActionName: catalog.ActionTokenCreate, Principal: "admin", SourceIP: "local",
		Params: params, Decision: catalog.DecisionAllow, StatusCode: 200})
	if err := rec.Close(ctx); err != nil {
		// Unaudited, the token must not stay usable.
		if derr := st.DeleteToken(context.WithoutCancel(ctx), r.Record.ID); derr != nil {
			return fmt.Errorf("audit event not written (%w), and the new token could not be deleted: %w", err, derr)
		}
		return fmt.Errorf("audit event not written, the new token was deleted: %w", err)
	}
	switch {
	case r.Created:
		fmt.Fprintln(e.stdout, "The user admin did not exist: created it in admins.")
	case r.Reactivated:
		fmt.Fprintln(e.stdout, "The user admin was deactivated: reactivated it.")
	}
	fmt.Fprintf(e.stdout, "New admin token (shown once, keep it safe; expires %s):\n\n    %s\n\n", r.Record.ExpiresAt.UTC().Format(time.RFC3339), r.Token)
	fmt.Fprintln(e.stdout, "Start the server, then: GATEHOUSE_TOKEN=<token> gatehouse whoami")
	return nil
}
