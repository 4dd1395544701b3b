// Package erasure runs the jobs that destroy data for good and keep tables
// tidy: ERASE (파기: delete data subjects' rows from every dataset that
// holds them, expire every snapshot that could bring them back, remove the
// files, and prove that none remains, in a certificate), SEPARATE (분리:
// move rows past their retention rule into a separated grade-1 dataset,
// erasing them from the source with the same proof), EXPIRE (snapshot
// expiry) and OPTIMIZE (bin-packing small files); and the retention sweep
// that starts SEPARATE and ERASE jobs as retention rules fall due.
//
// The executors are jobrun.Executors: the server registers Runner.Erase,
// Runner.Separate, Runner.Expire and Runner.Optimize for job.Erase,
// job.Separate, job.Expire and job.Optimize.
package erasure

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/lakeplane/lakeplane/internal/audit"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/erasure/subjecttag"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/jobrun"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// Phases of an ERASE job.
const (
	PhaseDeleting  = "DELETING"
	PhaseExpiring  = "EXPIRING"
	PhaseScrubbing = "SCRUBBING"
	PhaseVerifying = "VERIFYING"
)

// MaxSubjects is the most subject ids one ERASE job takes.
const MaxSubjects = 10000

// EraseSpec is the spec of an ERASE job (the JSON the service queues).
type EraseSpec struct {
	SubjectIDs []string `json:"subjectIds"`
	// Datasets are the datasets to erase from; empty means every dataset
	// that has a subject key.
	Datasets []string `json:"datasets,omitempty"`
	Reason   string   `json:"reason"`
}

// Validate checks a spec before it is queued.
func (s *EraseSpec) Validate() error {
	switch {
	case len(s.SubjectIDs) == 0:
		return fault.Invalid("subjectIds", "at least one subject id is required")
	case len(s.SubjectIDs) > MaxSubjects:
		return fault.Invalid("subjectIds", "at most %d subject ids per erasure", MaxSubjects)
	case strings.TrimSpace(s.Reason) == "":
		return fault.Invalid("reason", "is required: an erasure must say why")
	}
	for i, id := range s.SubjectIDs {
		if id == "" {
			return fault.Invalid(fmt.Sprintf("subjectIds[%d]", i), "is empty")
		}
	}
	return nil
}

// RedactedEraseSpec replaces an ERASE job's spec once the erasure is
// recorded: the subject ids only as salted hashes (see SubjectHash).
type RedactedEraseSpec struct {
	SubjectCount  int      `json:"subjectCount"`
	SubjectHashes []string `json:"subjectHashes"`
	Salt          string   `json:"salt"`
	Datasets      []string `json:"datasets,omitempty"`
	Reason        string   `json:"reason"`
}

// ExpireSpec is the spec of an EXPIRE job.
type ExpireSpec struct {
	// OlderThan: snapshots made before it are expired (zero: now).
	OlderThan time.Time `json:"olderThan,omitzero"`
	// RetainLast newest snapshots are kept whatever their age (at least 1).
	RetainLast int `json:"retainLast,omitempty"`
}

// OptimizeSpec is the spec of an OPTIMIZE job.
type OptimizeSpec struct {
	// TargetFileSizeBytes is the size files are packed towards (0: the
	// runner's default).
	TargetFileSizeBytes int64 `json:"targetFileSizeBytes,omitempty"`
}

// Certificate is the proof of one erasure. Its JSON field names are those
// of the proto ErasureCertificate (int64 figures as JSON numbers), plus
// sourcesToReview, rejectsRowsRemoved, samplesRemoved and the datasets'
// versionsRemoved, which the proto does not carry.
type Certificate struct {
	SubjectCount int                  `json:"subjectCount"`
	Datasets     []DatasetCertificate `json:"datasets"`
	// Verified is true when every dataset verified.
	Verified   bool      `json:"verified"`
	VerifyTime time.Time `json:"verifyTime"`
	// RejectsRowsRemoved counts the rows removed from rejects files.
	RejectsRowsRemoved int64 `json:"rejectsRowsRemoved"`
	// SamplesRemoved counts the failing-row samples of recorded
	// validations removed because they held a subject id.
	SamplesRemoved int64 `json:"samplesRemoved,omitempty"`
	// SourcesToReview are the source objects of earlier loads of the
	// datasets: they may hold the subjects and are not deleted here.
	SourcesToReview []string `json:"sourcesToReview,omitempty"`
	// Digest is the hex SHA-256 of the certificate's canonical JSON: this
	// struct as encoding/json writes it with Digest empty (and so left out).
	Digest string `json:"digest,omitempty"`
}

// DatasetCertificate is what an erasure did to one dataset.
type DatasetCertificate struct {
	Dataset          string    `json:"dataset"`
	RowsDeleted      int64     `json:"rowsDeleted"`
	FilesRewritten   int64     `json:"filesRewritten"`
	SnapshotsExpired int64     `json:"snapshotsExpired"`
	FilesRemoved     int64     `json:"filesRemoved"`
	BytesRewritten   int64     `json:"bytesRewritten"`
	FilesScanned     int64     `json:"filesScanned"`
	Verified         bool      `json:"verified"`
	VerifyTime       time.Time `json:"verifyTime"`
	// VersionsRemoved counts the old versions of removed objects deleted
	// from a versioned bucket.
	VersionsRemoved int64 `json:"versionsRemoved,omitempty"`
}

// ComputeDigest returns the digest of c (whatever c.Digest holds).
func (c Certificate) ComputeDigest() (string, error) {
	c.Digest = ""
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("certificate digest: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Tables is what the runner needs of the Iceberg layer (*tables.Catalog).
type Tables interface {
	DeleteWhere(ctx context.Context, id, column string, values []string) (tables.DeleteStats, error)
	Expire(ctx context.Context, id string, olderThan time.Time, retainLast int) (tables.ExpireStats, error)
	VerifyAbsent(ctx context.Context, id, column string, values []string) (tables.VerifyReport, error)
	Optimize(ctx context.Context, id string, targetFileSize int64) (tables.OptimizeStats, error)
	// For SEPARATE jobs.
	Create(ctx context.Context, d *dataset.Dataset) error
	Snapshots(ctx context.Context, id string) ([]tables.Snapshot, error)
	CopyMatching(ctx context.Context, src, dst string, cond tables.Condition, opts tables.CopyOptions) (tables.CopyStats, error)
	DeleteMatching(ctx context.Context, id string, cond tables.Condition, within int64) (tables.DeleteStats, error)
	VerifySeparated(ctx context.Context, id string, moved tables.Separated) (tables.SeparationReport, error)
}

// VersionPurger is implemented by a Tables whose tables may live in a
// versioned bucket (*tables.Catalog): it deletes the old versions of the
// objects an erasure removed, which the bucket would otherwise keep.
type VersionPurger interface {
	PurgeVersions(ctx context.Context, id string) (tables.VersionStats, error)
}

// Store is what the runner needs of the control-plane store.
type Store interface {
	GetDataset(ctx context.Context, id string) (*dataset.Dataset, error)
	ListDatasets(ctx context.Context, opts store.ListDatasetsOptions) (store.Page[*dataset.Dataset], error)
	ListJobs(ctx context.Context, opts store.ListJobsOptions) (store.Page[*job.Job], error)
	RecordErasure(ctx context.Context, e *store.Erasure) (*store.Erasure, error)
	GetErasureByJob(ctx context.Context, jobID string) (*store.Erasure, error)
	// CreateDataset makes the record of a separated dataset.
	CreateDataset(ctx context.Context, d *dataset.Dataset) (*dataset.Dataset, error)
}

// SampleRedactor is implemented by stores that keep validation results:
// it removes the failing-row samples whose value match reports.
type SampleRedactor interface {
	RedactSamples(ctx context.Context, match func(value string) bool) (int64, error)
}

// Purger is implemented by stores that can remove the remnants of the
// rows an erasure deleted or overwrote (an ERASE job's spec, which held the
// ids): SQLite's write-ahead log, PostgreSQL's dead tuples. The runner
// purges after each erasure when its Store is one.
type Purger interface {
	PurgeRemnants(ctx context.Context) error
}

// Auditor appends to the audit trail (store.Audit).
type Auditor interface {
	AppendAuditEvent(ctx context.Context, e *audit.Event) (*audit.Event, error)
}

// Objects reads and rewrites rejects files (objects.Store).
type Objects interface {
	Get(ctx context.Context, uri string, r *objects.Range) (io.ReadCloser, objects.Info, error)
	Put(ctx context.Context, uri string, body io.Reader) (objects.Info, error)
	List(ctx context.Context, prefixURI string) iter.Seq2[objects.Info, error]
}

// Runner runs ERASE, SEPARATE, EXPIRE and OPTIMIZE jobs.
type Runner struct {
	Store  Store
	Tables Tables
	// Objects and RejectsDir locate the rejects files of loads, written by
	// the ingest loader under RejectsDir/<dataset>/<job>.csv; with either
	// unset, rejects are not scrubbed.
	Objects    Objects
	RejectsDir string
	// Audit, when set, records each erasure: who asked, and the digest.
	Audit Auditor
	// TargetFileSize is OPTIMIZE's default target (0: tables' default).
	TargetFileSize int64
	// DatasetChanged, when set, is told of a separated dataset made by a
	// SEPARATE job (the access index follows new datasets).
	DatasetChanged func(ctx context.Context, id string) error
	// AfterCopy, when set, runs in a SEPARATE job between the copy and the
	// delete; an error fails the job there, as a crash would (for tests).
	AfterCopy func(ctx context.Context, j *job.Job) error
}

// AuditMethod is the Method of the audit event an erasure records.
const AuditMethod = "/lakeplane.v1.IngestService/EraseSubjects:certificate"

// Erase is the jobrun.Executor of ERASE jobs. For each dataset it deletes
// the rows whose subject key is one of the ids, expires every snapshot but
// the new current one (removing the files only they reached), and verifies
// that no file under the table's location holds any id (nor, in a
// versioned bucket, any old version of one, which it deletes first); it
// then scrubs the rejects files and the validation samples, lists the load
// sources to review, records the certificate (ids only as salted hashes),
// purges the store's remnants of the rows it changed (see Purger) and
// returns the certificate as the job's Result. A job that
// ran before (a worker died after recording) returns the recorded
// certificate. The job fails if any dataset does not verify, with the
// certificate still recorded and returned.
func (r *Runner) Erase(ctx context.Context, j *job.Job, progress *jobrun.Progress) (jobrun.Outcome, error) {
	// A job recorded before (its worker died after that) is done, and its
	// spec no longer holds the ids.
	if done, err := r.Store.GetErasureByJob(ctx, j.ID); err == nil {
		return jobrun.Outcome{Result: done.Certificate}, r.purge(ctx)
	} else if !errors.Is(err, store.ErrNotFound) {
		return jobrun.Outcome{}, err
	}
	var spec EraseSpec
	if err := json.Unmarshal(j.Spec, &spec); err != nil {
		return jobrun.Outcome{}, fmt.Errorf("job %s: unreadable spec: %w", j.ID, err)
	}
	if err := spec.Validate(); err != nil {
		return jobrun.Outcome{}, err
	}
	ids := unique(spec.SubjectIDs)
	targets, err := r.targets(ctx, spec.Datasets)
	if err != nil {
		return jobrun.Outcome{}, err
	}
	removals := make([]removal, len(targets))
	for i, d := range targets {
		removals[i] = removal{
			d: d,
			del: func(ctx context.Context) (tables.DeleteStats, error) {
				del, err := r.Tables.DeleteWhere(ctx, d.ID, d.SubjectKey, ids)
				progress.Update(func(p *job.Progress) { p.RowsWritten += del.RowsDeleted })
				return del, err
			},
			verify: func(ctx context.Context) (tables.VerifyReport, []string, error) {
				rep, err := r.Tables.VerifyAbsent(ctx, d.ID, d.SubjectKey, ids)
				return rep, ids, err
			},
		}
	}
	cert := Certificate{SubjectCount: len(ids)}
	var outcome jobrun.Outcome
	snaps, err := r.erase(ctx, progress, removals, &cert)
	if err != nil {
		return jobrun.Outcome{}, err
	}
	if len(snaps) == 1 {
		outcome.SnapshotID = snaps[0]
	}
	if cert.Digest, err = cert.ComputeDigest(); err != nil {
		return jobrun.Outcome{}, err
	}
	body, err := json.Marshal(cert)
	if err != nil {
		return jobrun.Outcome{}, fmt.Errorf("certificate: %w", err)
	}
	outcome.Result = body
	if err := r.record(ctx, j, spec, ids, cert, body); err != nil {
		return outcome, err
	}
	if err := r.purge(ctx); err != nil {
		return outcome, err
	}
	if !cert.Verified {
		var failed []string
		for _, dc := range cert.Datasets {
			if !dc.Verified {
				failed = append(failed, dc.Dataset)
			}
		}
		return outcome, fmt.Errorf("erasure not verified: files under %s still hold erased subjects (see the certificate)", strings.Join(failed, ", "))
	}
	return outcome, nil
}

// targets resolves the datasets of an erasure: the listed ones, each with
// a subject key, or every dataset that has one.
func (r *Runner) targets(ctx context.Context, ids []string) ([]*dataset.Dataset, error) {
	var out []*dataset.Dataset
	if len(ids) > 0 {
		for i, id := range unique(ids) {
			d, err := r.Store.GetDataset(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("dataset %s: %w", id, err)
			}
			if d.SubjectKey == "" {
				return nil, fault.Invalid(fmt.Sprintf("datasets[%d]", i), "dataset %s has no subject key", id)
			}
			out = append(out, d)
		}
		return out, nil
	}
	err := eachItem(ctx, func(token string) (store.Page[*dataset.Dataset], error) {
		return r.Store.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: store.MaxPageSize, PageToken: token})
	}, func(d *dataset.Dataset) {
		if d.SubjectKey != "" {
			out = append(out, d)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list datasets: %w", err)
	}
	return out, nil
}

// eachItem calls fn on every item of a paged listing.
func eachItem[T any](ctx context.Context, list func(token string) (store.Page[T], error), fn func(T)) error {
	token := ""
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		page, err := list(token)
		if err != nil {
			return err
		}
		for _, item := range page.Items {
			fn(item)
		}
		if token = page.NextPageToken; token == "" {
			return nil
		}
	}
}

// removal is one dataset whose rows a job removes for good, and how: an
// ERASE job deletes the subjects' rows and verifies that no file holds
// their ids, a SEPARATE job deletes the rows it copied and verifies that
// no file still holds one of them.
type removal struct {
	d *dataset.Dataset
	// del deletes the rows.
	del func(ctx context.Context) (tables.DeleteStats, error)
	// verify proves that no file under the location of d's table holds a
	// removed row, and returns the ids (values of d's subject key) of the
	// subjects whose copies outside the table (rejects, validation
	// samples) go too.
	verify func(ctx context.Context) (tables.VerifyReport, []string, error)
}

// erase removes rows for good, the same way for ERASE and SEPARATE jobs.
// For each removal it deletes the rows, expires every snapshot but the new
// current one (removing the files only they reached), deletes the old
// versions of the removed objects where the bucket keeps versions (see
// VersionPurger), and verifies. Then it removes the subjects that the
// verifications named from the datasets' rejects files and from the
// store's validation samples (see SampleRedactor), and lists the source
// objects of the datasets' loads, to review. It fills in cert (all but
// SubjectCount and Digest) and returns the current snapshot of each
// dataset. The caller then purges the store's remnants of what changed
// (purge), once it has recorded what it must.
func (r *Runner) erase(ctx context.Context, progress *jobrun.Progress, removals []removal, cert *Certificate) ([]int64, error) {
	cert.Datasets, cert.Verified = []DatasetCertificate{}, true
	snaps := make([]int64, len(removals))
	subjects := make([][]string, len(removals))
	for i, rm := range removals {
		dc, snap, ids, err := r.removeRows(ctx, progress, rm)
		if err != nil {
			return nil, err
		}
		cert.Datasets = append(cert.Datasets, dc)
		cert.Verified = cert.Verified && dc.Verified
		if dc.VerifyTime.After(cert.VerifyTime) {
			cert.VerifyTime = dc.VerifyTime
		}
		snaps[i], subjects[i] = snap, ids
	}
	progress.SetPhase(PhaseScrubbing)
	erased := map[string]bool{}
	for i, rm := range removals {
		if len(subjects[i]) > 0 {
			n, err := r.scrubRejects(ctx, rm.d, subjects[i])
			if err != nil {
				return nil, fmt.Errorf("dataset %s: rejects: %w", rm.d.ID, err)
			}
			cert.RejectsRowsRemoved += n
			typ := subjectKeyType(rm.d)
			for _, id := range subjects[i] {
				erased[subjecttag.Canonical(typ, id)] = true
			}
		}
		srcs, err := r.sources(ctx, rm.d.ID)
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", rm.d.ID, err)
		}
		cert.SourcesToReview = append(cert.SourcesToReview, srcs...)
	}
	if sr, ok := r.Store.(SampleRedactor); ok && len(erased) > 0 {
		n, err := sr.RedactSamples(ctx, erasedSample(erased))
		if err != nil {
			return nil, fmt.Errorf("validation samples: %w", err)
		}
		cert.SamplesRemoved = n
	}
	slices.Sort(cert.SourcesToReview)
	cert.SourcesToReview = slices.Compact(cert.SourcesToReview)
	if cert.VerifyTime.IsZero() {
		cert.VerifyTime = time.Now().UTC()
	}
	return snaps, nil
}

// removeRows deletes, expires, purges old versions and verifies one
// dataset of an erasure. It returns the dataset's certificate, its current
// snapshot, and the subject ids its verify step named.
func (r *Runner) removeRows(ctx context.Context, progress *jobrun.Progress, rm removal) (DatasetCertificate, int64, []string, error) {
	dc := DatasetCertificate{Dataset: rm.d.ID}
	progress.SetPhase(PhaseDeleting)
	del, err := rm.del(ctx)
	if err != nil {
		return dc, 0, nil, err
	}
	dc.RowsDeleted, dc.FilesRewritten, dc.BytesRewritten = del.RowsDeleted, del.FilesRewritten, del.BytesRewritten
	progress.SetPhase(PhaseExpiring)
	// Every snapshot but the current one goes, however recent: a cutoff
	// past every snapshot's time, keeping one.
	ex, err := r.Tables.Expire(ctx, rm.d.ID, time.Now().Add(time.Hour), 1)
	if err != nil {
		return dc, 0, nil, err
	}
	dc.SnapshotsExpired, dc.FilesRemoved = ex.SnapshotsExpired, ex.FilesRemoved
	if vp, ok := r.Tables.(VersionPurger); ok {
		vs, err := vp.PurgeVersions(ctx, rm.d.ID)
		if err != nil {
			return dc, 0, nil, err
		}
		dc.VersionsRemoved = vs.VersionsRemoved
	}
	progress.SetPhase(PhaseVerifying)
	rep, ids, err := rm.verify(ctx)
	if err != nil {
		return dc, 0, nil, err
	}
	dc.FilesScanned, dc.Verified, dc.VerifyTime = rep.FilesScanned, rep.Verified, rep.Time
	progress.Update(func(p *job.Progress) { p.BytesRead += rep.BytesScanned })
	return dc, ex.SnapshotID, ids, nil
}

// record keeps the certificate in the store, the ids only as salted
// hashes, and appends the audit event.
func (r *Runner) record(ctx context.Context, j *job.Job, spec EraseSpec, ids []string, cert Certificate, body []byte) error {
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return fmt.Errorf("erasure salt: %w", err)
	}
	hashes := make([]string, len(ids))
	for i, id := range ids {
		hashes[i] = SubjectHash(salt, id)
	}
	redacted, err := json.Marshal(RedactedEraseSpec{
		SubjectCount: len(ids), SubjectHashes: hashes, Salt: hex.EncodeToString(salt),
		Datasets: spec.Datasets, Reason: spec.Reason,
	})
	if err != nil {
		return fmt.Errorf("redact spec: %w", err)
	}
	_, err = r.Store.RecordErasure(ctx, &store.Erasure{
		JobID: j.ID, Principal: j.Principal, Reason: spec.Reason,
		Salt: hex.EncodeToString(salt), SubjectHashes: hashes,
		Certificate: body, Digest: cert.Digest, RedactedSpec: redacted,
	})
	if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		return fmt.Errorf("record erasure: %w", err)
	}
	if r.Audit != nil {
		_, err := r.Audit.AppendAuditEvent(ctx, &audit.Event{
			Principal: j.Principal, Method: AuditMethod, Resource: "jobs/" + j.ID,
			RequestDigest: cert.Digest, Outcome: outcomeOf(cert),
		})
		if err != nil {
			return fmt.Errorf("audit erasure: %w", err)
		}
	}
	return nil
}

// purge removes the store's remnants of the rows an erasure or a
// separation changed (an ERASE job's spec, redacted validation samples),
// when the store can.
func (r *Runner) purge(ctx context.Context) error {
	p, ok := r.Store.(Purger)
	if !ok {
		return nil
	}
	if err := p.PurgeRemnants(ctx); err != nil {
		return fmt.Errorf("rows removed, but purging the store's remnants of what changed (an erasure's spec, validation samples) failed: %w", err)
	}
	return nil
}

func outcomeOf(c Certificate) string {
	if c.Verified {
		return "OK"
	}
	return "DATA_LOSS"
}

// SubjectHash is the stored form of a subject id: hex SHA-256 of the salt
// followed by the id's bytes.
func SubjectHash(salt []byte, id string) string {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(id))
	return hex.EncodeToString(h.Sum(nil))
}

// sources lists the source objects of the loads (all, whatever their end) of a dataset.
func (r *Runner) sources(ctx context.Context, id string) ([]string, error) {
	var out []string
	err := eachItem(ctx, func(token string) (store.Page[*job.Job], error) {
		return r.Store.ListJobs(ctx, store.ListJobsOptions{PageSize: store.MaxPageSize, PageToken: token, Dataset: id, Kind: job.Ingest})
	}, func(j *job.Job) {
		var spec struct {
			SourceURI string `json:"sourceUri"`
		}
		if json.Unmarshal(j.Spec, &spec) == nil && spec.SourceURI != "" {
			out = append(out, spec.SourceURI)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list loads: %w", err)
	}
	return out, nil
}

// unique returns values without repeats, in their first order.
// erasedSample matches the samples that hold one of the erased ids (in
// their subjecttag.Canonical forms). A sample does not say which column it
// is of: one that reads as an erased id as text or as an integer goes
// (a sample too many removed loses nothing that matters; one too few
// would keep a copy).
func erasedSample(erased map[string]bool) func(string) bool {
	return func(v string) bool {
		return erased[subjecttag.Canonical(dataset.TypeString, v)] || erased[subjecttag.Canonical(dataset.TypeInt64, v)]
	}
}

// subjectKeyType is the type of d's subject key column (the zero type when
// d has none).
func subjectKeyType(d *dataset.Dataset) dataset.ColumnType {
	if c := d.Column(d.SubjectKey); c != nil {
		return c.Type
	}
	var none dataset.ColumnType
	return none
}

func unique(values []string) []string {
	seen := make(map[string]bool, len(values))
	var out []string
	for _, v := range values {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
