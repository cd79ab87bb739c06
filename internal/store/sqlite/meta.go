package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// GetMeta returns the value stored under key.
func (db *DB) GetMeta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := db.r.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notExist("meta value %s does not exist", key)
	}
	if err != nil {
		return nil, fmt.Errorf("get meta %s: %w", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// SetMeta stores value under key, replacing any value there. It announces no change.
func (db *DB) SetMeta(ctx context.Context, key string, value []byte) error {
	if err := catalog.CheckMetaKey(key); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	return db.update(ctx, "set meta", func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
}
