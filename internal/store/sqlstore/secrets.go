package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// secretBytes is the size of a secret made by Secret.
const secretBytes = 32

// Secret returns the secret of the given name, made of 32 random bytes on
// first use and the same ever after, also for every replica that shares
// the database (the first insert wins; the others read it back).
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	if name == "" {
		return nil, errors.New("secret: empty name")
	}
	fresh := make([]byte, secretBytes)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	_, err := s.db.ExecContext(ctx, s.bind(`INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`),
		name, hex.EncodeToString(fresh))
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	var value string
	if err := s.db.QueryRowContext(ctx, s.bind(`SELECT value FROM secrets WHERE name = ?`), name).Scan(&value); err != nil {
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	b, err := hex.DecodeString(value)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("secret %q: stored value is not hex", name)
	}
	return b, nil
}
