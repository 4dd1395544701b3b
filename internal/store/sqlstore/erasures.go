package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/lakeplane/lakeplane/internal/store"
)

var _ store.Erasures = (*Store)(nil)

const erasureColumns = `id, job_id, principal, reason, salt, subject_hashes, certificate, digest, create_time`

// RecordErasure implements store.Erasures.
func (s *Store) RecordErasure(ctx context.Context, in *store.Erasure) (*store.Erasure, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("record erasure: %w", err)
	}
	out := *in
	out.ID = id.String()
	out.SubjectHashes = slices.Sorted(slices.Values(in.SubjectHashes))
	out.Certificate = slices.Clone(in.Certificate)
	out.CreateTime = s.timestamp()
	hashes, err := json.Marshal(out.SubjectHashes)
	if err != nil {
		return nil, fmt.Errorf("record erasure of job %q: %w", in.JobID, err)
	}
	cert := string(out.Certificate)
	if cert == "" {
		cert = "{}"
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.bind(`INSERT INTO erasures (`+erasureColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			out.ID, out.JobID, out.Principal, out.Reason, out.Salt, string(hashes), cert, out.Digest, s.timeArg(out.CreateTime))
		if err != nil && s.dialect.IsUniqueViolation(err) {
			return fmt.Errorf("erasure of job %q: %w", in.JobID, store.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("record erasure of job %q: %w", in.JobID, err)
		}
		if len(in.RedactedSpec) == 0 {
			return nil
		}
		spec, err := rawArg("redacted spec", in.RedactedSpec)
		if err != nil {
			return fmt.Errorf("erasure of job %q: %w", in.JobID, err)
		}
		if _, err := tx.ExecContext(ctx, s.bind(`UPDATE jobs SET spec = ? WHERE id = ?`), spec, in.JobID); err != nil {
			return fmt.Errorf("redact the spec of job %q: %w", in.JobID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.RedactedSpec = nil
	return &out, nil
}

// GetErasureByJob implements store.Erasures.
func (s *Store) GetErasureByJob(ctx context.Context, jobID string) (*store.Erasure, error) {
	var (
		e            store.Erasure
		hashes, cert string
	)
	err := s.db.QueryRowContext(ctx, s.bind(`SELECT `+erasureColumns+` FROM erasures WHERE job_id = ?`), jobID).
		Scan(&e.ID, &e.JobID, &e.Principal, &e.Reason, &e.Salt, &hashes, &cert, &e.Digest, timeScanner{&e.CreateTime})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("erasure of job %q: %w", jobID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get erasure of job %q: %w", jobID, err)
	}
	if err := json.Unmarshal([]byte(hashes), &e.SubjectHashes); err != nil {
		return nil, fmt.Errorf("erasure of job %q: subject hashes: %w", jobID, err)
	}
	e.Certificate = []byte(cert)
	return &e, nil
}
