package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/lakeplane/lakeplane/internal/audit"
	"github.com/lakeplane/lakeplane/internal/store"
)

const auditColumns = `sequence, id, time, principal, groups_json, method, resource, request_digest, outcome, previous_hash, hash`

// appendAttempts bounds the retries of an append that lost the race for its
// sequence number to a concurrent one.
const appendAttempts = 50

// AppendAuditEvent implements store.Audit. It reads the last event, seals e
// after it and inserts it; a concurrent append that took the same sequence
// makes the insert collide on the primary key, and the append starts over.
func (s *Store) AppendAuditEvent(ctx context.Context, e *audit.Event) (*audit.Event, error) {
	out := *e
	out.ID = uuid.NewString()
	groups, err := json.Marshal(out.Groups)
	if err != nil {
		return nil, fmt.Errorf("append audit event: %w", err)
	}
	for attempt := 0; attempt < appendAttempts; attempt++ {
		out.Time = s.timestamp()
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			last, err := scanAuditEvent(tx.QueryRowContext(ctx, `SELECT `+auditColumns+` FROM audit_events ORDER BY sequence DESC LIMIT 1`))
			if errors.Is(err, sql.ErrNoRows) {
				last = nil
			} else if err != nil {
				return err
			}
			out.Seal(last)
			_, err = tx.ExecContext(ctx, s.bind(`INSERT INTO audit_events (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				out.Sequence, out.ID, s.timeArg(out.Time), out.Principal, string(groups), out.Method, out.Resource,
				out.RequestDigest, out.Outcome, out.PreviousHash, out.Hash)
			return err
		})
		if err == nil {
			return &out, nil
		}
		if !s.dialect.IsUniqueViolation(err) {
			return nil, fmt.Errorf("append audit event: %w", err)
		}
	}
	return nil, fmt.Errorf("append audit event: %d concurrent appends in a row took the next sequence", appendAttempts)
}

func scanAuditEvent(row scanner) (*audit.Event, error) {
	var e audit.Event
	var groups string
	if err := row.Scan(&e.Sequence, &e.ID, timeScanner{&e.Time}, &e.Principal, &groups, &e.Method, &e.Resource,
		&e.RequestDigest, &e.Outcome, &e.PreviousHash, &e.Hash); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(groups), &e.Groups); err != nil {
		return nil, fmt.Errorf("audit event %d: groups: %w", e.Sequence, err)
	}
	return &e, nil
}

// ListAuditEvents implements store.Audit, paging by sequence.
func (s *Store) ListAuditEvents(ctx context.Context, opts store.ListAuditEventsOptions) (store.Page[*audit.Event], error) {
	var where []string
	var args []any
	filter := fmt.Sprintf("p=%s;r=%s;m=%s;s=%d;e=%d", opts.Principal, opts.Resource, opts.Method, opts.Start.UnixMicro(), opts.End.UnixMicro())
	for _, f := range []struct{ col, val string }{{"principal", opts.Principal}, {"resource", opts.Resource}, {"method", opts.Method}} {
		if f.val != "" {
			where = append(where, f.col+` = ?`)
			args = append(args, f.val)
		}
	}
	if !opts.Start.IsZero() {
		where = append(where, `time >= ?`)
		args = append(args, s.timeArg(opts.Start.UTC()))
	}
	if !opts.End.IsZero() {
		where = append(where, `time < ?`)
		args = append(args, s.timeArg(opts.End.UTC()))
	}
	after, err := decodePageToken(opts.PageToken, filter)
	if err != nil {
		return store.Page[*audit.Event]{}, err
	}
	if after != "" {
		seq, err := strconv.ParseInt(after, 10, 64)
		if err != nil {
			return store.Page[*audit.Event]{}, invalidPageToken(opts.PageToken)
		}
		where = append(where, `sequence > ?`)
		args = append(args, seq)
	}
	size := store.NormalizePageSize(opts.PageSize)
	query := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY sequence LIMIT ?`
	args = append(args, size+1)
	rows, err := s.db.QueryContext(ctx, s.bind(query), args...)
	page, err := readPage(rows, err, size, scanAuditEvent, func(last *audit.Event) string {
		return encodePageToken(strconv.FormatInt(last.Sequence, 10), filter)
	})
	if err != nil {
		return page, fmt.Errorf("list audit events: %w", err)
	}
	return page, nil
}

// ScanAuditEvents implements store.Audit.
func (s *Store) ScanAuditEvents(ctx context.Context, fn func(*audit.Event) bool) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events ORDER BY sequence`)
	if err != nil {
		return fmt.Errorf("scan audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAuditEvent(rows)
		if err != nil {
			return fmt.Errorf("scan audit events: %w", err)
		}
		if !fn(e) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan audit events: %w", err)
	}
	return nil
}
