package postgres

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/jackc/pgx/v5"
)

// GetMeta returns the value stored under key.
func (db *DB) GetMeta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := db.pool.QueryRow(ctx, "SELECT value FROM meta WHERE key = $1", key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, doesNotExist("meta value %s does not exist", key)
	}
	if err != nil {
		return nil, readErr("get meta "+key, err)
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
	return db.write(ctx, "set meta", func(tx *Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
}
