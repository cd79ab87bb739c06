package main

// `gatehouse migrate`: apply the store's pending schema migrations, or show them, for
// SQLite and PostgreSQL (issue 11). Servers still apply them when they start; this is
// for operators who migrate as a separate step (PostgreSQL replicas that start with
// SkipMigrate, or a look at what a new version would change).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/sqlite"
)

// offlineStore is a store named on the command line of migrate or store copy: an SQLite
// data folder or a PostgreSQL URL. Its String never shows a password.
type offlineStore struct {
	dir string // SQLite: the data folder (the file is dir/gatehouse.db)
	dsn string // PostgreSQL: the URL as given (password included: never print it)
	// shown is how messages name the store: the folder, or postgres://host/db.
	shown string
	// password is the URL's password, scrubbed from every error that might quote it.
	password string
}

func (s offlineStore) String() string { return s.shown }

func (s offlineStore) isPostgres() bool { return s.dsn != "" }

// dbPath is the SQLite file.
func (s offlineStore) dbPath() string { return filepath.Join(s.dir, "gatehouse.db") }

// parseOfflineStore reads "sqlite:DIR", "sqlite" (the data folder dataDir) or a
// postgres:// or postgresql:// URL. Its errors never quote the value (a URL may hold a
// password).
func parseOfflineStore(v, dataDir string) (offlineStore, error) {
	switch {
	case v == "sqlite":
		if dataDir == "" {
			return offlineStore{}, errors.New(`store "sqlite" needs a data folder (--data-dir)`)
		}
		return offlineStore{dir: dataDir, shown: dataDir}, nil
	case strings.HasPrefix(v, "sqlite:"):
		dir := strings.TrimPrefix(v, "sqlite:")
		if dir == "" {
			return offlineStore{}, errors.New("store sqlite:DIR needs a folder after sqlite:")
		}
		return offlineStore{dir: dir, shown: dir}, nil
	case isPostgresURL(v):
		u, err := url.Parse(v)
		if err != nil {
			return offlineStore{}, errors.New("the PostgreSQL URL does not parse (want postgres://user:password@host:port/database)")
		}
		if _, err := pgxpool.ParseConfig(v); err != nil {
			// pgx's parse errors quote the URL, password included.
			return offlineStore{}, errors.New("the PostgreSQL URL does not parse (want postgres://user:password@host:port/database)")
		}
		pw, _ := u.User.Password()
		shown := "postgres://" + u.Host + u.EscapedPath()
		if u.Host == "" {
			if sock := u.Query().Get("host"); sock != "" {
				shown = "postgres://" + u.EscapedPath() + " (socket in " + sock + ")"
			} else {
				shown = "postgres://localhost" + u.EscapedPath()
			}
		}
		return offlineStore{dsn: v, shown: shown, password: pw}, nil
	case v == "":
		return offlineStore{}, errors.New("no store given: want sqlite:DIR or a postgres:// URL")
	}
	return offlineStore{}, errors.New("unknown store: want sqlite:DIR, sqlite (the --data-dir folder) or a postgres:// or postgresql:// URL")
}

// scrub returns err with the store's password cut out of its message wherever it
// appears (a driver error may quote the connection string).
func (s offlineStore) scrub(err error) error {
	if err == nil || s.password == "" || !strings.Contains(err.Error(), s.password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), s.password, "xxxxx"))
}

// pool connects to the PostgreSQL store without touching its schema.
func (s offlineStore) pool(ctx context.Context) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(s.dsn)
	if err != nil {
		return nil, errors.New("the PostgreSQL URL does not parse")
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", s, s.scrub(withoutConfig(err)))
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", s, s.scrub(withoutConfig(err)))
	}
	return pool, nil
}

// withoutConfig drops what a pgconn connect error says of the configuration (which may
// include the password) and keeps why the connection failed.
func withoutConfig(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("cannot connect to PostgreSQL: %w", errors.Unwrap(ce))
	}
	return err
}

func migrateCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the store's pending schema migrations, or show them (--show)",
		Long: `Apply the schema migrations that the store has not applied yet, in order, and say
which it applied; with --show, list every migration of this version as applied (with
when) or pending, and change nothing.

--store is sqlite:DIR (the SQLite store in the data folder DIR), sqlite (the folder of
--data-dir) or a postgres:// URL (GATEHOUSE_STORE). Servers apply pending migrations
when they start, so this is optional: it lets you migrate as a step of its own, before
replicas of a new version start. On PostgreSQL migrations run under an advisory lock:
replicas starting at the same moment wait for it and then find nothing to do. On
SQLite the server must be stopped (the data folder's lock is taken) unless --show.
The exit status is not zero when anything fails; the URL's password is never printed.`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("store", "sqlite", "sqlite:DIR, sqlite (the --data-dir folder) or a postgres:// URL (GATEHOUSE_STORE)")
	f.String("data-dir", "./gatehouse-data", "the data folder of --store sqlite (GATEHOUSE_DATA_DIR)")
	f.Bool("show", false, "list applied and pending migrations without changing anything")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		val := func(name, envName string) string {
			fl := cmd.Flags().Lookup(name)
			if fl.Changed {
				return fl.Value.String()
			}
			if v := e.getenv(envName); v != "" {
				return v
			}
			return fl.DefValue
		}
		st, err := parseOfflineStore(val("store", "GATEHOUSE_STORE"), val("data-dir", "GATEHOUSE_DATA_DIR"))
		if err != nil {
			return fmt.Errorf("--store: %w", err)
		}
		show, _ := cmd.Flags().GetBool("show")
		return runMigrate(cmd.Context(), e.stdout, st, show)
	}
	return cmd
}

// migrationRow is one line of `migrate --show`.
type migrationRow struct {
	name      string // 0001_core
	applied   bool
	appliedAt time.Time
}

func runMigrate(ctx context.Context, out io.Writer, st offlineStore, show bool) error {
	var rows []migrationRow
	var err error
	if st.isPostgres() {
		rows, err = postgresMigrate(ctx, st, show)
	} else {
		rows, err = sqliteMigrate(ctx, st, show)
	}
	if err != nil {
		return err
	}
	if show {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MIGRATION\tSTATUS\tAPPLIED AT")
		pending := 0
		for _, r := range rows {
			if r.applied {
				fmt.Fprintf(tw, "%s\tapplied\t%s\n", r.name, r.appliedAt.UTC().Format(time.RFC3339))
			} else {
				pending++
				fmt.Fprintf(tw, "%s\tpending\t-\n", r.name)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(out, "%s: %d applied, %d pending\n", st, len(rows)-pending, pending)
		return err
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintf(out, "%s: the schema is up to date; nothing to apply\n", st)
		return err
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(out, "applied %s\n", r.name); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(out, "%s: %d migrations applied; the schema is up to date\n", st, len(rows))
	return err
}

// sqliteMigrate lists (show) or applies the SQLite store's migrations; applying returns
// those it applied.
func sqliteMigrate(ctx context.Context, st offlineStore, show bool) ([]migrationRow, error) {
	if _, err := os.Stat(st.dbPath()); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no store at %s: is it the server's data folder?", st.dbPath())
		}
		return nil, fmt.Errorf("open store: %w", err)
	}
	if !show {
		unlock, err := lockDataDir(st.dir, true)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	status, err := sqlite.SchemaStatus(ctx, st.dbPath())
	if err != nil {
		return nil, err
	}
	var rows []migrationRow
	for _, m := range status {
		if show || !m.Applied {
			rows = append(rows, migrationRow{name: m.Name, applied: m.Applied, appliedAt: m.AppliedAt})
		}
	}
	if show || len(rows) == 0 {
		return rows, nil
	}
	db, err := sqlite.Open(ctx, st.dbPath()) // applies them, in one transaction
	if err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, fmt.Errorf("close store: %w", err)
	}
	return rows, nil
}

// postgresMigrate lists (show) or applies the PostgreSQL store's migrations.
func postgresMigrate(ctx context.Context, st offlineStore, show bool) ([]migrationRow, error) {
	pool, err := st.pool(ctx)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if !show {
		done, err := postgres.Migrate(ctx, pool)
		rows := make([]migrationRow, len(done))
		for i, m := range done {
			rows[i] = migrationRow{name: m.String(), applied: true}
		}
		if err != nil {
			applied := "none was applied"
			if len(done) > 0 {
				applied = fmt.Sprintf("applied before it: %d (up to %s)", len(done), done[len(done)-1])
			}
			return nil, fmt.Errorf("%w (%s)", st.scrub(err), applied)
		}
		return rows, nil
	}
	status, err := postgres.SchemaStatus(ctx, pool)
	if err != nil {
		return nil, st.scrub(err)
	}
	rows := make([]migrationRow, len(status))
	for i, m := range status {
		rows[i] = migrationRow{name: m.String(), applied: m.Applied, appliedAt: m.AppliedAt}
	}
	return rows, nil
}
