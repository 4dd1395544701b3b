package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/store"
)

// The job states the statements name, as SQL literals rather than
// parameters: the partial index jobs_active is chosen only for a query whose
// WHERE clause names its states literally.
const (
	queuedSQL    = `'` + string(job.Queued) + `'`
	runningSQL   = `'` + string(job.Running) + `'`
	failedSQL    = `'` + string(job.Failed) + `'`
	cancelledSQL = `'` + string(job.Cancelled) + `'`
)

// jobColumns are the columns of the jobs table, in the order scanJob reads
// them.
const jobColumns = `id, kind, dataset, state, phase,
	bytes_read, bytes_total, rows_read, rows_written, rows_rejected,
	snapshot_id, validations, error, spec, result, request_id, principal,
	cancel_requested, attempt, lease_owner, lease_expires,
	create_time, start_time, end_time, update_time`

// jobQueries are the statements on jobs, bound to the dialect's placeholders
// once at Open.
type jobQueries struct {
	insert      string
	get         string
	getRequest  string
	leaseHolder string
	claim       string
	renew       string
	release     string
	progress    string
	finish      string
	cancel      string
	failStale   string
}

// newJobQueries binds the statements on jobs with bind; skipLocked is the
// dialect's SkipLocked.
func newJobQueries(bind func(string) string, skipLocked string) jobQueries {
	held := `id = ? AND state = ` + runningSQL + ` AND lease_owner = ?`
	return jobQueries{
		// A retry with a request id already queued inserts nothing; the
		// unique index jobs_request decides, so concurrent retries agree.
		// The other columns start at their defaults.
		insert: bind(`INSERT INTO jobs (id, kind, dataset, state, spec, request_id, principal, create_time, update_time)
VALUES (?, ?, ?, ` + queuedSQL + `, ?, ?, ?, ?, ?)
ON CONFLICT (kind, request_id) WHERE request_id <> '' DO NOTHING`),
		get:         bind(`SELECT ` + jobColumns + ` FROM jobs WHERE id = ?`),
		getRequest:  bind(`SELECT ` + jobColumns + ` FROM jobs WHERE kind = ? AND request_id = ?`),
		leaseHolder: bind(`SELECT state, lease_owner FROM jobs WHERE id = ?`),
		// One statement picks and takes the job. Where writes run one at a
		// time (SQLite) that alone makes the claim exclusive; elsewhere
		// SkipLocked locks the picked row and lets concurrent claimers pick
		// others.
		claim: bind(`UPDATE jobs SET state = ` + runningSQL + `, lease_owner = ?, lease_expires = ?,
	attempt = attempt + 1, start_time = COALESCE(start_time, ?), update_time = ?
WHERE id = (
	SELECT id FROM jobs
	WHERE state IN (` + queuedSQL + `, ` + runningSQL + `)
		AND (state = ` + queuedSQL + ` OR lease_expires < ?)
	ORDER BY create_time, id
	LIMIT 1 ` + skipLocked + `
)
RETURNING ` + jobColumns),
		renew: bind(`UPDATE jobs SET lease_expires = ? WHERE ` + held),
		// A released job waits in the queue again; the attempt it used is
		// given back, since its worker stopped on purpose.
		release: bind(`UPDATE jobs SET state = ` + queuedSQL + `, lease_owner = '', lease_expires = NULL,
	attempt = attempt - 1, update_time = ?
WHERE ` + held),
		progress: bind(`UPDATE jobs SET phase = ?,
	bytes_read = ?, bytes_total = ?, rows_read = ?, rows_written = ?, rows_rejected = ?,
	update_time = ?
WHERE ` + held + `
RETURNING cancel_requested`),
		finish: bind(`UPDATE jobs SET state = ?, snapshot_id = ?, validations = ?, error = ?, result = ?,
	lease_owner = '', lease_expires = NULL, end_time = ?, update_time = ?
WHERE ` + held + `
RETURNING ` + jobColumns),
		// A queued job ends at once; a running one is flagged for its
		// worker. A job flagged already, or done, is not written again.
		cancel: bind(`UPDATE jobs SET
	state = CASE WHEN state = ` + queuedSQL + ` THEN ` + cancelledSQL + ` ELSE state END,
	end_time = CASE WHEN state = ` + queuedSQL + ` THEN ? ELSE end_time END,
	cancel_requested = TRUE,
	update_time = ?
WHERE id = ? AND (state = ` + queuedSQL + ` OR (state = ` + runningSQL + ` AND NOT cancel_requested))
RETURNING ` + jobColumns),
		failStale: bind(`UPDATE jobs SET state = ` + failedSQL + `, error = ?,
	lease_owner = '', lease_expires = NULL, end_time = ?, update_time = ?
WHERE state = ` + runningSQL + ` AND lease_expires < ? AND attempt >= ?`),
	}
}

// errorRecord is what the error column holds, as JSON: a job.Error. Its tags
// are the stored format; change them only with a migration.
type errorRecord struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Row     int64  `json:"row,omitempty"`
	Column  string `json:"column,omitempty"`
}

// staleJobCode is the gRPC code name of the error FailStaleJobs records.
const staleJobCode = "ABORTED"

// encodeJobError renders e for the error column: NULL for nil.
func encodeJobError(e *job.Error) (any, error) {
	if e == nil {
		return nil, nil
	}
	b, err := json.Marshal(errorRecord(*e))
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// encodeValidations renders ids for the validations column, keeping nil
// and empty apart.
func encodeValidations(ids []string) (string, error) {
	b, err := json.Marshal(ids)
	return string(b), err
}

// rawArg renders a JSON document for the spec or result column: NULL when
// it is empty. what names the document in the error for invalid JSON.
func rawArg(what string, raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%s is not valid JSON", what)
	}
	return string(raw), nil
}

// scanJob reads a row of jobColumns.
func scanJob(row scanner) (*job.Job, error) {
	j := &job.Job{}
	p := &j.Progress
	var (
		kind, state, validations string
		jobErr                   sql.NullString
		spec, result             []byte
	)
	err := row.Scan(&j.ID, &kind, &j.Dataset, &state, &j.Phase,
		&p.BytesRead, &p.BytesTotal, &p.RowsRead, &p.RowsWritten, &p.RowsRejected,
		&j.SnapshotID, &validations, &jobErr, &spec, &result, &j.RequestID, &j.Principal,
		&j.CancelRequested, &j.Attempt, &j.LeaseOwner, nullTimeScanner{&j.LeaseExpires},
		timeScanner{&j.CreateTime}, nullTimeScanner{&j.StartTime}, nullTimeScanner{&j.EndTime},
		timeScanner{&j.UpdateTime})
	if err != nil {
		return nil, err
	}
	j.Kind, j.State = job.Kind(kind), job.State(state)
	if len(spec) > 0 {
		j.Spec = spec
	}
	if len(result) > 0 {
		j.Result = result
	}
	if err := json.Unmarshal([]byte(validations), &j.Validations); err != nil {
		return nil, fmt.Errorf("decode validations of job %q: %w", j.ID, err)
	}
	if jobErr.Valid {
		var rec errorRecord
		if err := json.Unmarshal([]byte(jobErr.String), &rec); err != nil {
			return nil, fmt.Errorf("decode error of job %q: %w", j.ID, err)
		}
		e := job.Error(rec)
		j.Error = &e
	}
	return j, nil
}

// newJobID returns a fresh job id: a UUID of version 7, which starts with
// its creation time, so that new ids land at the end of the primary key's
// index rather than all over it.
func newJobID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// CreateJob implements store.Jobs.
func (s *Store) CreateJob(ctx context.Context, j *job.Job) (*job.Job, bool, error) {
	if !j.Kind.Valid() {
		return nil, false, fmt.Errorf("create job: unknown kind %q", j.Kind)
	}
	spec, err := rawArg("spec", j.Spec)
	if err != nil {
		return nil, false, fmt.Errorf("create %s job: %w", j.Kind, err)
	}
	id, err := newJobID()
	if err != nil {
		return nil, false, fmt.Errorf("create %s job: new id: %w", j.Kind, err)
	}
	now := s.timestamp()
	out := &job.Job{
		ID:         id,
		Kind:       j.Kind,
		Dataset:    j.Dataset,
		State:      job.Queued,
		RequestID:  j.RequestID,
		Principal:  j.Principal,
		CreateTime: now,
		UpdateTime: now,
	}
	if len(j.Spec) > 0 {
		out.Spec = slices.Clone(j.Spec)
	}
	n, err := affected(s.db.ExecContext(ctx, s.jq.insert, out.ID, string(out.Kind), out.Dataset, spec,
		out.RequestID, out.Principal, s.timeArg(now), s.timeArg(now)))
	if err != nil {
		return nil, false, fmt.Errorf("create job %q: %w", id, err)
	}
	if n == 1 {
		return out, true, nil
	}
	// The request id is taken: this is a retry of the request that queued
	// the stored job.
	first, err := scanJob(s.db.QueryRowContext(ctx, s.jq.getRequest, string(j.Kind), j.RequestID))
	if err != nil {
		return nil, false, fmt.Errorf("create %s job: get the job of request id %q: %w", j.Kind, j.RequestID, err)
	}
	return first, false, nil
}

// GetJob implements store.Jobs.
func (s *Store) GetJob(ctx context.Context, id string) (*job.Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, s.jq.get, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("job %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get job %q: %w", id, err)
	}
	return j, nil
}

// jobFilters returns the filters of opts that are set, as column and
// value, in a fixed order.
func jobFilters(opts store.ListJobsOptions) [][2]string {
	var fs [][2]string
	for _, f := range [][2]string{
		{"dataset", opts.Dataset},
		{"state", string(opts.State)},
		{"kind", string(opts.Kind)},
		{"request_id", opts.RequestID},
	} {
		if f[1] != "" {
			fs = append(fs, f)
		}
	}
	return fs
}

// ListJobs implements store.Jobs. It pages by keyset on (create_time, id),
// newest first: a page token names the last job returned, so that jobs
// queued between pages (newer than any listed) neither repeat nor shift the
// jobs still to come.
func (s *Store) ListJobs(ctx context.Context, opts store.ListJobsOptions) (store.Page[*job.Job], error) {
	filters := jobFilters(opts)
	tokenFilter := url.Values{}
	var where []string
	var args []any
	for _, f := range filters {
		tokenFilter.Set(f[0], f[1])
		where = append(where, f[0]+` = ?`)
		args = append(args, f[1])
	}
	filter := tokenFilter.Encode()
	at, after, paging, err := decodeTimePageToken(opts.PageToken, filter)
	if err != nil {
		return store.Page[*job.Job]{}, err
	}
	size := store.NormalizePageSize(opts.PageSize)
	if paging {
		where = append(where, `(create_time, id) < (?, ?)`)
		args = append(args, s.timeArg(at), after)
	}
	query := `SELECT ` + jobColumns + ` FROM jobs`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY create_time DESC, id DESC LIMIT ?`
	args = append(args, size+1)

	rows, err := s.db.QueryContext(ctx, s.bind(query), args...)
	page, err := readPage(rows, err, size, scanJob, func(last *job.Job) string {
		return encodeTimePageToken(last.CreateTime, last.ID, filter)
	})
	if err != nil {
		return page, fmt.Errorf("list jobs: %w", err)
	}
	return page, nil
}

// checkLease checks the owner and lease a worker names.
func checkLease(owner string, lease time.Duration) error {
	if owner == "" {
		return errors.New("empty lease owner")
	}
	if lease <= 0 {
		return fmt.Errorf("lease %v is not positive", lease)
	}
	return nil
}

// ClaimJob implements store.Jobs.
func (s *Store) ClaimJob(ctx context.Context, owner string, lease time.Duration) (*job.Job, error) {
	if err := checkLease(owner, lease); err != nil {
		return nil, fmt.Errorf("claim job: %w", err)
	}
	now := s.timestamp()
	j, err := scanJob(s.db.QueryRowContext(ctx, s.jq.claim,
		owner, s.timeArg(now.Add(lease)), s.timeArg(now), s.timeArg(now), s.timeArg(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("claim job for %q: %w", owner, store.ErrNoJob)
	}
	if err != nil {
		return nil, fmt.Errorf("claim job for %q: %w", owner, err)
	}
	return j, nil
}

// RenewLease implements store.Jobs.
func (s *Store) RenewLease(ctx context.Context, id, owner string, lease time.Duration) error {
	if err := checkLease(owner, lease); err != nil {
		return fmt.Errorf("renew lease on job %q: %w", id, err)
	}
	n, err := affected(s.db.ExecContext(ctx, s.jq.renew, s.timeArg(s.timestamp().Add(lease)), id, owner))
	if err != nil {
		return fmt.Errorf("renew lease on job %q: %w", id, err)
	}
	if n == 0 {
		return s.notHeld(ctx, id, owner)
	}
	return nil
}

// ReleaseJob implements store.Jobs.
func (s *Store) ReleaseJob(ctx context.Context, id, owner string) error {
	n, err := affected(s.db.ExecContext(ctx, s.jq.release, s.timeArg(s.timestamp()), id, owner))
	if err != nil {
		return fmt.Errorf("release job %q: %w", id, err)
	}
	if n == 0 {
		return s.notHeld(ctx, id, owner)
	}
	return nil
}

// UpdateJobProgress implements store.Jobs.
func (s *Store) UpdateJobProgress(ctx context.Context, id, owner, phase string, p job.Progress) (bool, error) {
	var cancelRequested bool
	err := s.db.QueryRowContext(ctx, s.jq.progress, phase,
		p.BytesRead, p.BytesTotal, p.RowsRead, p.RowsWritten, p.RowsRejected,
		s.timeArg(s.timestamp()), id, owner).Scan(&cancelRequested)
	if errors.Is(err, sql.ErrNoRows) {
		return false, s.notHeld(ctx, id, owner)
	}
	if err != nil {
		return false, fmt.Errorf("update progress of job %q: %w", id, err)
	}
	return cancelRequested, nil
}

// FinishJob implements store.Jobs.
func (s *Store) FinishJob(ctx context.Context, id, owner string, state job.State, snapshotID int64,
	validations []string, jobErr *job.Error, result json.RawMessage,
) (*job.Job, error) {
	if !state.Done() {
		return nil, fmt.Errorf("finish job %q: %q is not a final state", id, state)
	}
	vs, err := encodeValidations(validations)
	if err != nil {
		return nil, fmt.Errorf("finish job %q: %w", id, err)
	}
	errArg, err := encodeJobError(jobErr)
	if err != nil {
		return nil, fmt.Errorf("finish job %q: %w", id, err)
	}
	resultArg, err := rawArg("result", result)
	if err != nil {
		return nil, fmt.Errorf("finish job %q: %w", id, err)
	}
	now := s.timeArg(s.timestamp())
	j, err := scanJob(s.db.QueryRowContext(ctx, s.jq.finish,
		string(state), snapshotID, vs, errArg, resultArg, now, now, id, owner))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.notHeld(ctx, id, owner)
	}
	if err != nil {
		return nil, fmt.Errorf("finish job %q: %w", id, err)
	}
	return j, nil
}

// notHeld explains why a write guarded by the job's id and lease owner
// touched no row: ErrNotFound when the job does not exist, ErrLeaseLost
// when owner does not hold it.
func (s *Store) notHeld(ctx context.Context, id, owner string) error {
	var state, holder string
	err := s.db.QueryRowContext(ctx, s.jq.leaseHolder, id).Scan(&state, &holder)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("job %q: %w", id, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("job %q: %w", id, err)
	case job.State(state) != job.Running:
		return fmt.Errorf("job %q is %s, not held by %q: %w", id, state, owner, store.ErrLeaseLost)
	default:
		return fmt.Errorf("job %q is held by %q, not %q: %w", id, holder, owner, store.ErrLeaseLost)
	}
}

// RequestCancel implements store.Jobs.
func (s *Store) RequestCancel(ctx context.Context, id string) (*job.Job, error) {
	now := s.timeArg(s.timestamp())
	j, err := scanJob(s.db.QueryRowContext(ctx, s.jq.cancel, now, now, id))
	if errors.Is(err, sql.ErrNoRows) {
		// Done, flagged already, or missing: nothing to write.
		return s.GetJob(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("cancel job %q: %w", id, err)
	}
	return j, nil
}

// FailStaleJobs implements store.Jobs.
func (s *Store) FailStaleJobs(ctx context.Context, maxAttempts int) (int, error) {
	if maxAttempts < 1 {
		return 0, fmt.Errorf("fail stale jobs: max attempts %d is not positive", maxAttempts)
	}
	errArg, err := encodeJobError(&job.Error{
		Code: staleJobCode,
		Message: fmt.Sprintf("job interrupted too many times: it was claimed %d times or more, "+
			"and each time its worker stopped renewing its lease before ending it", maxAttempts),
	})
	if err != nil {
		return 0, fmt.Errorf("fail stale jobs: %w", err)
	}
	now := s.timestamp()
	n, err := affected(s.db.ExecContext(ctx, s.jq.failStale, errArg, s.timeArg(now), s.timeArg(now), s.timeArg(now), maxAttempts))
	if err != nil {
		return 0, fmt.Errorf("fail stale jobs: %w", err)
	}
	return int(n), nil
}
