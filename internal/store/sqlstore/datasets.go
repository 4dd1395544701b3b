package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/store"
)

// queries are the core's statements, bound to the dialect's placeholders
// once at Open.
type queries struct {
	insertDataset     string
	selectDataset     string
	datasetEtag       string
	updateDataset     string
	deleteDataset     string
	deleteDatasetEtag string
	listDatasets      string
	listDatasetsInNS  string
}

// datasetColumns are the columns scanDataset reads, in its order.
const datasetColumns = `id, spec, etag, create_time, update_time`

// newQueries binds the core's statements with bind.
func newQueries(bind func(string) string) queries {
	return queries{
		insertDataset: bind(`INSERT INTO datasets (id, namespace, spec, etag, create_time, update_time)
VALUES (?, ?, ?, ?, ?, ?)`),
		selectDataset: bind(`SELECT ` + datasetColumns + ` FROM datasets WHERE id = ?`),
		datasetEtag:   bind(`SELECT etag FROM datasets WHERE id = ?`),
		updateDataset: bind(`UPDATE datasets SET spec = ?, etag = ?, update_time = ?
WHERE id = ? AND etag = ? RETURNING create_time`),
		deleteDataset:     bind(`DELETE FROM datasets WHERE id = ?`),
		deleteDatasetEtag: bind(`DELETE FROM datasets WHERE id = ? AND etag = ?`),
		listDatasets: bind(`SELECT ` + datasetColumns + ` FROM datasets
WHERE id > ? ORDER BY id LIMIT ?`),
		listDatasetsInNS: bind(`SELECT ` + datasetColumns + ` FROM datasets
WHERE namespace = ? AND id > ? ORDER BY id LIMIT ?`),
	}
}

// datasetSpec is what the spec column holds: a dataset's fields except its
// id, etag and times, as JSON. Its tags are the stored format; change them
// only with a migration. The nested spec types have exactly the fields of
// their dataset counterparts, so that a field added to the domain type stops
// the build here until the stored format covers it.
type datasetSpec struct {
	Description  string          `json:"description,omitempty"`
	Columns      []columnSpec    `json:"columns"`
	PrimaryKey   []string        `json:"primaryKey"`
	PartitionBy  []partitionSpec `json:"partitionBy"`
	Grade        int             `json:"grade,omitempty"`
	Domain       string          `json:"domain,omitempty"`
	SubjectKey   string          `json:"subjectKey,omitempty"`
	QualitySuite string          `json:"qualitySuite,omitempty"`
	// QualityFailurePolicy is "ROLLBACK", "KEEP" or absent (ROLLBACK).
	QualityFailurePolicy dataset.QualityFailurePolicy `json:"qualityFailurePolicy,omitempty"`
	Retention            retentionSpec                `json:"retention"`
}

// columnSpec is the stored form of a dataset.Column.
type columnSpec struct {
	Name        string             `json:"name"`
	Type        dataset.ColumnType `json:"type"`
	Precision   int                `json:"precision,omitempty"`
	Scale       int                `json:"scale,omitempty"`
	Nullable    bool               `json:"nullable,omitempty"`
	Grade       int                `json:"grade,omitempty"`
	PII         bool               `json:"pii,omitempty"`
	Description string             `json:"description,omitempty"`
}

// partitionSpec is the stored form of a dataset.PartitionField.
type partitionSpec struct {
	Column    string            `json:"column"`
	Transform dataset.Transform `json:"transform"`
	Width     int               `json:"width,omitempty"`
}

// retentionSpec is the stored form of a dataset.Retention.
type retentionSpec struct {
	SeparateAfterColumn string `json:"separateAfterColumn,omitempty"`
	SeparateAfterDays   int    `json:"separateAfterDays,omitempty"`
	DestroyAfterDays    int    `json:"destroyAfterDays,omitempty"`
}

// encodeSpec renders the stored part of d as JSON.
func encodeSpec(d *dataset.Dataset) (string, error) {
	sp := datasetSpec{
		Description:          d.Description,
		PrimaryKey:           d.PrimaryKey,
		Grade:                d.Grade,
		Domain:               d.Domain,
		SubjectKey:           d.SubjectKey,
		QualitySuite:         d.QualitySuite,
		QualityFailurePolicy: d.QualityFailurePolicy,
		Retention:            retentionSpec(d.Retention),
		Columns:              convert(d.Columns, func(c dataset.Column) columnSpec { return columnSpec(c) }),
		PartitionBy:          convert(d.PartitionBy, func(p dataset.PartitionField) partitionSpec { return partitionSpec(p) }),
	}
	b, err := json.Marshal(sp)
	if err != nil {
		return "", fmt.Errorf("encode dataset %q: %w", d.ID, err)
	}
	return string(b), nil
}

// decodeSpec fills the stored part of d from JSON.
func decodeSpec(d *dataset.Dataset, spec []byte) error {
	var sp datasetSpec
	if err := json.Unmarshal(spec, &sp); err != nil {
		return fmt.Errorf("decode dataset %q: %w", d.ID, err)
	}
	d.Description = sp.Description
	d.PrimaryKey = sp.PrimaryKey
	d.Grade = sp.Grade
	d.Domain = sp.Domain
	d.SubjectKey = sp.SubjectKey
	d.QualitySuite = sp.QualitySuite
	d.QualityFailurePolicy = sp.QualityFailurePolicy
	d.Retention = dataset.Retention(sp.Retention)
	d.Columns = convert(sp.Columns, func(c columnSpec) dataset.Column { return dataset.Column(c) })
	d.PartitionBy = convert(sp.PartitionBy, func(p partitionSpec) dataset.PartitionField { return dataset.PartitionField(p) })
	return nil
}

// convert maps f over in, keeping a nil slice nil and an empty one empty.
func convert[From, To any](in []From, f func(From) To) []To {
	if in == nil {
		return nil
	}
	out := make([]To, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// scanDataset reads a row of datasetColumns.
func scanDataset(row scanner) (*dataset.Dataset, error) {
	d := &dataset.Dataset{}
	var spec []byte
	if err := row.Scan(&d.ID, &spec, &d.Etag, timeScanner{&d.CreateTime}, timeScanner{&d.UpdateTime}); err != nil {
		return nil, err
	}
	if err := decodeSpec(d, spec); err != nil {
		return nil, err
	}
	return d, nil
}

// namespaceOf returns the part of id before its first dot, or "" when it
// has none.
func namespaceOf(id string) string {
	ns, _, ok := strings.Cut(id, ".")
	if !ok {
		return ""
	}
	return ns
}

// newEtag returns a fresh random etag.
func newEtag() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// CreateDataset implements store.Datasets.
func (s *Store) CreateDataset(ctx context.Context, d *dataset.Dataset) (*dataset.Dataset, error) {
	if d.ID == "" {
		return nil, errors.New("create dataset: empty id")
	}
	spec, err := encodeSpec(d)
	if err != nil {
		return nil, err
	}
	out := d.Clone()
	out.Etag = newEtag()
	out.CreateTime = s.timestamp()
	out.UpdateTime = out.CreateTime
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q.insertDataset, d.ID, namespaceOf(d.ID), spec, out.Etag,
			s.timeArg(out.CreateTime), s.timeArg(out.UpdateTime))
		if err != nil && s.dialect.IsUniqueViolation(err) {
			return fmt.Errorf("dataset %q: %w", d.ID, store.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("create dataset %q: %w", d.ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetDataset implements store.Datasets.
func (s *Store) GetDataset(ctx context.Context, id string) (*dataset.Dataset, error) {
	d, err := scanDataset(s.db.QueryRowContext(ctx, s.q.selectDataset, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("dataset %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get dataset %q: %w", id, err)
	}
	return d, nil
}

// ListDatasets implements store.Datasets. It pages by keyset: a page token
// names the last id returned, so that inserts and deletes between pages
// neither repeat nor skip the datasets that stay.
func (s *Store) ListDatasets(ctx context.Context, opts store.ListDatasetsOptions) (store.Page[*dataset.Dataset], error) {
	after, err := decodePageToken(opts.PageToken, opts.Namespace)
	if err != nil {
		return store.Page[*dataset.Dataset]{}, err
	}
	size := store.NormalizePageSize(opts.PageSize)
	var rows *sql.Rows
	if opts.Namespace != "" {
		rows, err = s.db.QueryContext(ctx, s.q.listDatasetsInNS, opts.Namespace, after, size+1)
	} else {
		rows, err = s.db.QueryContext(ctx, s.q.listDatasets, after, size+1)
	}
	page, err := readPage(rows, err, size, scanDataset, func(last *dataset.Dataset) string {
		return encodePageToken(last.ID, opts.Namespace)
	})
	if err != nil {
		return page, fmt.Errorf("list datasets: %w", err)
	}
	return page, nil
}

// UpdateDataset implements store.Datasets.
func (s *Store) UpdateDataset(ctx context.Context, d *dataset.Dataset) (*dataset.Dataset, error) {
	spec, err := encodeSpec(d)
	if err != nil {
		return nil, err
	}
	out := d.Clone()
	out.Etag = newEtag()
	out.UpdateTime = s.timestamp()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.q.updateDataset, spec, out.Etag, s.timeArg(out.UpdateTime), d.ID, d.Etag).
			Scan(timeScanner{&out.CreateTime})
		if errors.Is(err, sql.ErrNoRows) {
			return s.missOrConflict(ctx, tx, d.ID)
		}
		if err != nil {
			return fmt.Errorf("update dataset %q: %w", d.ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteDataset implements store.Datasets.
func (s *Store) DeleteDataset(ctx context.Context, id, etag string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var n int64
		var err error
		if etag == "" {
			n, err = affected(tx.ExecContext(ctx, s.q.deleteDataset, id))
		} else {
			n, err = affected(tx.ExecContext(ctx, s.q.deleteDatasetEtag, id, etag))
		}
		if err != nil {
			return fmt.Errorf("delete dataset %q: %w", id, err)
		}
		if n == 0 {
			return s.missOrConflict(ctx, tx, id)
		}
		return nil
	})
}

// missOrConflict explains why a write guarded by id and etag touched no row:
// ErrNotFound when the dataset is gone, ErrConflict when its etag differs.
func (s *Store) missOrConflict(ctx context.Context, tx *sql.Tx, id string) error {
	var etag string
	err := tx.QueryRowContext(ctx, s.q.datasetEtag, id).Scan(&etag)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("dataset %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("dataset %q: %w", id, err)
	}
	return fmt.Errorf("dataset %q: %w", id, store.ErrConflict)
}
