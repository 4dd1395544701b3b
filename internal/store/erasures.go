package store

import (
	"context"
	"encoding/json"
	"time"
)

// Erasure is the lasting record of one erasure (파기): its certificate and
// who asked for it and why. The erased subjects' ids are never stored: only
// their salted SHA-256 hashes, under a salt of this erasure's own, so that
// a given id can be checked against the record but the record reveals none.
type Erasure struct {
	// ID is assigned by the store.
	ID string
	// JobID is the ERASE job that did the work; one erasure per job.
	JobID     string
	Principal string
	Reason    string
	// Salt is the hex of the random salt of SubjectHashes.
	Salt string
	// SubjectHashes are hex SHA-256(salt || subject id), sorted.
	SubjectHashes []string
	// Certificate is the erasure certificate as JSON (see
	// internal/erasure.Certificate), and Digest its SHA-256 digest.
	Certificate json.RawMessage
	Digest      string
	// RedactedSpec, when set, replaces the spec of job JobID as the
	// erasure is recorded, in one transaction: an ERASE job's spec holds
	// the subject ids, which must not outlive the erasure.
	RedactedSpec json.RawMessage
	// CreateTime is set by the store.
	CreateTime time.Time
}

// Erasures keeps the records of erasures.
type Erasures interface {
	// RecordErasure stores e, and replaces the spec of job e.JobID with
	// e.RedactedSpec when set, and returns e as stored. A second erasure of
	// one job is an error wrapping ErrAlreadyExists (and redacts nothing).
	RecordErasure(ctx context.Context, e *Erasure) (*Erasure, error)
	// GetErasureByJob returns the erasure recorded by a job, or an error
	// wrapping ErrNotFound.
	GetErasureByJob(ctx context.Context, jobID string) (*Erasure, error)
}
