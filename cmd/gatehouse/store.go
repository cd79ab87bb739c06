package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The store selection of --store / GATEHOUSE_STORE (issue 11: PostgreSQL scale-out).

// serverStore is what the server needs of a store: the catalog and the broker's
// conditional option write. Both stores are one.
type serverStore interface {
	catalog.Store
	SetConnectionOption(ctx context.Context, id, key, value string, expect map[string]string) (bool, error)
}

var (
	_ serverStore = (*sqlite.DB)(nil)
	_ serverStore = (*postgres.DB)(nil)
)

// storeSQLite is the --store value of the embedded store, the default.
const storeSQLite = "sqlite"

// errStoreForm says which --store values are accepted. It never quotes the value given:
// a PostgreSQL URL may hold a password.
var errStoreForm = errors.New(`store: must be "sqlite" (the file in --data-dir) or a postgres:// or postgresql:// URL`)

// The errors of a PostgreSQL URL that is not right, fixed sentences for the same reason.
var (
	errStoreUnparsable = errors.New("store: the postgres:// URL does not parse (the value is not shown: it may hold a password)")
	errStoreInvalid    = errors.New("store: the postgres:// URL is not valid (the value is not shown: it may hold a password)")
)

// checkStore validates a --store value: "sqlite", or a PostgreSQL URL that parses. The
// errors name the accepted forms, never the value.
func checkStore(v string) error {
	if v == storeSQLite {
		return nil
	}
	if !isPostgresURL(v) {
		return errStoreForm
	}
	if _, err := url.Parse(v); err != nil {
		return errStoreUnparsable
	}
	if _, err := pgxpool.ParseConfig(v); err != nil {
		// pgx's parse errors quote the URL, password included: never pass them on.
		return errStoreInvalid
	}
	return nil
}

// isPostgresURL reports whether v names a PostgreSQL store.
func isPostgresURL(v string) bool {
	lv := strings.ToLower(v)
	return strings.HasPrefix(lv, "postgres://") || strings.HasPrefix(lv, "postgresql://")
}

// storeLabel is how logs and the banner name the store: the SQLite file, or the
// PostgreSQL URL reduced to postgres://host/db (no user, password or parameters; a
// Unix socket folder given as ?host= stands for the host).
func storeLabel(store, dataDir string) string {
	if !isPostgresURL(store) {
		return filepath.Join(dataDir, "gatehouse.db")
	}
	u, err := url.Parse(store)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	host := u.Host
	if host == "" {
		host = u.Query().Get("host")
	}
	if host == "" {
		host = "localhost"
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		db = u.User.Username()
	}
	return (&url.URL{Scheme: "postgres", Host: host, Path: "/" + db}).String()
}

// openServerStore opens the configured store. With SQLite it first takes the shared
// hold on the data folder (`gatehouse admin recover` takes it exclusively); with
// PostgreSQL there is no such hold, since replicas share the database by design. The
// returned function closes the store and releases the hold.
func openServerStore(ctx context.Context, store, dataDir string) (serverStore, func(), error) {
	if isPostgresURL(store) {
		st, err := postgres.Open(ctx, store, postgres.Options{})
		if err != nil {
			return nil, nil, fmt.Errorf("%w (%s)", err, storeLabel(store, dataDir))
		}
		return st, func() { _ = st.Close() }, nil
	}
	unlock, err := lockDataDir(dataDir, false)
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "gatehouse.db"))
	if err != nil {
		unlock()
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	return st, func() { _ = st.Close(); unlock() }, nil
}

// storeExists reports, for commands that need an existing store (admin recover),
// whether the SQLite file is there; a PostgreSQL store is checked by opening it.
func storeExists(store, dataDir string) error {
	if isPostgresURL(store) {
		return nil
	}
	dbPath := filepath.Join(dataDir, "gatehouse.db")
	if _, err := os.Stat(dbPath); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no store at %s: is --data-dir the server's data folder? (a server that never started has no admin to recover; start it and it prints the first token)", dbPath)
		}
		return fmt.Errorf("open store: %w", err)
	}
	return nil
}
