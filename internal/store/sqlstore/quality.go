package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/store"
)

var _ store.Quality = (*Store)(nil)

const (
	suiteColumns      = `name, dqdl, description, etag, create_time, update_time`
	validationColumns = `id, suite, target, dataset, job_id, outcome, rows_evaluated, rule_results, start_time, end_time`
)

func scanSuite(row scanner) (*suite.Suite, error) {
	var s suite.Suite
	err := row.Scan(&s.Name, &s.DQDL, &s.Description, &s.Etag, timeScanner{&s.CreateTime}, timeScanner{&s.UpdateTime})
	return &s, err
}

func scanValidation(row scanner) (*suite.Validation, error) {
	var v suite.Validation
	var outcome, results string
	err := row.Scan(&v.ID, &v.Suite, &v.Target, &v.Dataset, &v.JobID, &outcome, &v.RowsEvaluated, &results,
		timeScanner{&v.StartTime}, timeScanner{&v.EndTime})
	v.Outcome, v.RuleResults = suite.Outcome(outcome), []byte(results)
	return &v, err
}

// CreateSuite implements store.Quality.
func (s *Store) CreateSuite(ctx context.Context, in *suite.Suite) (*suite.Suite, error) {
	out := *in
	out.Etag, out.CreateTime = newEtag(), s.timestamp()
	out.UpdateTime = out.CreateTime
	_, err := s.db.ExecContext(ctx, s.bind(`INSERT INTO quality_suites (`+suiteColumns+`) VALUES (?, ?, ?, ?, ?, ?)`),
		out.Name, out.DQDL, out.Description, out.Etag, s.timeArg(out.CreateTime), s.timeArg(out.UpdateTime))
	if err != nil && s.dialect.IsUniqueViolation(err) {
		return nil, fmt.Errorf("suite %q: %w", in.Name, store.ErrAlreadyExists)
	}
	if err != nil {
		return nil, fmt.Errorf("create suite %q: %w", in.Name, err)
	}
	return &out, nil
}

// GetSuite implements store.Quality.
func (s *Store) GetSuite(ctx context.Context, name string) (*suite.Suite, error) {
	out, err := scanSuite(s.db.QueryRowContext(ctx, s.bind(`SELECT `+suiteColumns+` FROM quality_suites WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("suite %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get suite %q: %w", name, err)
	}
	return out, nil
}

// ListSuites implements store.Quality.
func (s *Store) ListSuites(ctx context.Context, pageSize int, pageToken string) (store.Page[*suite.Suite], error) {
	after, err := decodePageToken(pageToken, "suites")
	if err != nil {
		return store.Page[*suite.Suite]{}, err
	}
	size := store.NormalizePageSize(pageSize)
	rows, err := s.db.QueryContext(ctx, s.bind(`SELECT `+suiteColumns+` FROM quality_suites WHERE name > ? ORDER BY name LIMIT ?`), after, size+1)
	page, err := readPage(rows, err, size, scanSuite, func(last *suite.Suite) string { return encodePageToken(last.Name, "suites") })
	if err != nil {
		return page, fmt.Errorf("list suites: %w", err)
	}
	return page, nil
}

// UpdateSuite implements store.Quality.
func (s *Store) UpdateSuite(ctx context.Context, in *suite.Suite) (*suite.Suite, error) {
	current, err := s.GetSuite(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	out := *in
	out.Etag, out.UpdateTime, out.CreateTime = newEtag(), s.timestamp(), current.CreateTime
	n, err := affected(s.db.ExecContext(ctx, s.bind(`UPDATE quality_suites SET dqdl = ?, description = ?, etag = ?, update_time = ? WHERE name = ? AND etag = ?`),
		out.DQDL, out.Description, out.Etag, s.timeArg(out.UpdateTime), in.Name, in.Etag))
	if err != nil {
		return nil, fmt.Errorf("update suite %q: %w", in.Name, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("suite %q: %w", in.Name, store.ErrConflict)
	}
	return &out, nil
}

// DeleteSuite implements store.Quality.
func (s *Store) DeleteSuite(ctx context.Context, name, etag string) error {
	query, args := `DELETE FROM quality_suites WHERE name = ?`, []any{name}
	if etag != "" {
		query, args = query+` AND etag = ?`, append(args, etag)
	}
	n, err := affected(s.db.ExecContext(ctx, s.bind(query), args...))
	if err != nil {
		return fmt.Errorf("delete suite %q: %w", name, err)
	}
	if n == 0 {
		if _, err := s.GetSuite(ctx, name); err != nil {
			return err
		}
		return fmt.Errorf("suite %q: %w", name, store.ErrConflict)
	}
	return nil
}

// CreateValidation implements store.Quality.
func (s *Store) CreateValidation(ctx context.Context, in *suite.Validation) (*suite.Validation, error) {
	out := *in
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("create validation: %w", err)
	}
	out.ID = id.String()
	out.StartTime, out.EndTime = out.StartTime.UTC().Truncate(time.Microsecond), out.EndTime.UTC().Truncate(time.Microsecond)
	results := string(out.RuleResults)
	if results == "" {
		results = "[]"
	}
	_, err = s.db.ExecContext(ctx, s.bind(`INSERT INTO validations (`+validationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		out.ID, out.Suite, out.Target, out.Dataset, out.JobID, string(out.Outcome), out.RowsEvaluated, results,
		s.timeArg(out.StartTime), s.timeArg(out.EndTime))
	if err != nil {
		return nil, fmt.Errorf("record validation of suite %q: %w", in.Suite, err)
	}
	return &out, nil
}

// GetValidation implements store.Quality.
func (s *Store) GetValidation(ctx context.Context, id string) (*suite.Validation, error) {
	v, err := scanValidation(s.db.QueryRowContext(ctx, s.bind(`SELECT `+validationColumns+` FROM validations WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("validation %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get validation %q: %w", id, err)
	}
	return v, nil
}

// ListValidations implements store.Quality, newest first by keyset on
// (start_time, id).
func (s *Store) ListValidations(ctx context.Context, opts store.ListValidationsOptions) (store.Page[*suite.Validation], error) {
	var where []string
	var args []any
	filter := url.Values{}
	for _, f := range []struct{ col, val string }{{"dataset", opts.Dataset}, {"suite", opts.Suite}, {"outcome", string(opts.Outcome)}} {
		if f.val != "" {
			where, args = append(where, f.col+` = ?`), append(args, f.val)
			filter.Set(f.col, f.val)
		}
	}
	if !opts.Start.IsZero() {
		where, args = append(where, `start_time >= ?`), append(args, s.timeArg(opts.Start.UTC()))
		filter.Set("start", opts.Start.UTC().String())
	}
	if !opts.End.IsZero() {
		where, args = append(where, `start_time < ?`), append(args, s.timeArg(opts.End.UTC()))
		filter.Set("end", opts.End.UTC().String())
	}
	at, after, paging, err := decodeTimePageToken(opts.PageToken, filter.Encode())
	if err != nil {
		return store.Page[*suite.Validation]{}, err
	}
	if paging {
		where, args = append(where, `(start_time, id) < (?, ?)`), append(args, s.timeArg(at), after)
	}
	query := `SELECT ` + validationColumns + ` FROM validations`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	size := store.NormalizePageSize(opts.PageSize)
	query += ` ORDER BY start_time DESC, id DESC LIMIT ?`
	args = append(args, size+1)
	rows, err := s.db.QueryContext(ctx, s.bind(query), args...)
	page, err := readPage(rows, err, size, scanValidation, func(last *suite.Validation) string {
		return encodeTimePageToken(last.StartTime, last.ID, filter.Encode())
	})
	if err != nil {
		return page, fmt.Errorf("list validations: %w", err)
	}
	return page, nil
}
