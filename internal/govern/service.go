package govern

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/paging"
	"github.com/lakeplane/lakeplane/internal/store"
)

// Store is what the service needs of the control-plane store.
type Store interface {
	store.Datasets
	store.Grants
	store.GovernanceLog
}

// Service keeps tags and group grants and answers access questions. Its
// writes go to the store first and then to its Index, one at a time, so
// that the index is consistent with the store once a write returns. Reads
// of tags, grants and access come from the index.
//
// Several replicas sharing one store each hold their own index: a replica
// sees another's writes after its next Refresh (see Follow), which applies
// the store's governance change log.
type Service struct {
	st        Store
	scale     GradeScale
	domainKey string
	ix        *Index
	mu        sync.Mutex    // serialises writes, so the index applies them in store order
	sync      store.Sync    // sync plans and the applied state; nil: none
	lf        LakeFormation // the target of ApplySync
	syncMu    sync.Mutex    // serialises ApplySync calls
	// applied is the seq of the store's governance change log up to which
	// the index holds every change (it may hold later ones too); guarded
	// by mu.
	applied int64
	logger  *slog.Logger // of Follow
	// maxStale bounds how long, while Follow runs, the index may go
	// without being brought up to date with the store before the answers
	// that come from it fail (0: no bound); see Fresh.
	maxStale time.Duration
	// freshMu guards freshAt and stale together: refreshes and Follow's
	// staleness watch change them.
	freshMu sync.Mutex
	freshAt time.Time // when the last successful refresh began
	stale   atomic.Bool
	// refreshTimeout limits each of Follow's refreshes (a whole reload of
	// the index included).
	refreshTimeout time.Duration
}

// Option configures a Service.
type Option func(*Service)

// WithDomainKey sets the tag key that the domains of a grant narrow by
// (DefaultDomainKey when not set).
func WithDomainKey(key string) Option {
	return func(s *Service) { s.domainKey = key }
}

// WithLogger sets the logger of Follow (slog.Default() when not set).
func WithLogger(l *slog.Logger) Option {
	return func(s *Service) {
		if l != nil {
			s.logger = l
		}
	}
}

// WithMaxStaleness makes the answers that come from the index (access
// checks, resolutions, listings, sync plans) fail with UNAVAILABLE while
// Follow runs and has not brought the index up to date with the store for
// longer than d, so that a replica cut off from the store stops answering
// from a state that may, by then, miss a revoke made on another replica.
// 0 (the default) sets no bound.
func WithMaxStaleness(d time.Duration) Option {
	return func(s *Service) { s.maxStale = max(d, 0) }
}

// New returns a Service on st for the grade scale of the configuration
// (gradeKey with values "1".."gradeLevels", optionally labelled), and
// builds its index from the store. When st also implements store.Sync,
// it keeps sync plans and the applied state (see PlanSync, WithSyncStore);
// the target of ApplySync is EmbeddedLakeFormation unless
// WithLakeFormation sets another.
func New(ctx context.Context, st Store, gradeKey string, gradeLevels int, gradeLabels []string, opts ...Option) (*Service, error) {
	s := &Service{st: st, scale: GradeScale{Key: gradeKey, Levels: gradeLevels, Labels: slices.Clone(gradeLabels)}, domainKey: DefaultDomainKey, lf: EmbeddedLakeFormation{}, logger: slog.Default(), refreshTimeout: time.Minute}
	if ss, ok := st.(store.Sync); ok {
		s.sync = ss
	}
	for _, o := range opts {
		o(s)
	}
	if err := s.scale.validate(); err != nil {
		return nil, fmt.Errorf("govern: %w", err)
	}
	if err := CheckTagText(s.domainKey); err != nil || s.domainKey == s.scale.Key {
		return nil, fmt.Errorf("govern: domain key %q is not a tag key other than the grade key", s.domainKey)
	}
	s.ix = NewIndex(s.scale, s.domainKey)
	if err := s.Rebuild(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Index returns the service's in-memory index, for callers that check
// access in process (PreviewRows, grep) without a gRPC round trip.
func (s *Service) Index() *Index { return s.ix }

// Scale returns the grade scale.
func (s *Service) Scale() GradeScale { return s.scale }

// Rebuild reloads the index from the store: every dataset, tag key, tag
// and group grant.
func (s *Service) Rebuild(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rebuild(ctx)
}

// rebuild is Rebuild; the caller holds s.mu. It reads the version of the
// governance change log before anything else, so that the changes made
// while it loads are applied again by the next Refresh rather than missed.
func (s *Service) rebuild(ctx context.Context) error {
	began := time.Now()
	version, err := s.st.GovernanceVersion(ctx)
	if err != nil {
		return fmt.Errorf("govern: rebuild index: %w", err)
	}
	var all []*dataset.Dataset
	token := ""
	for {
		page, err := s.st.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: store.MaxPageSize, PageToken: token})
		if err != nil {
			return fmt.Errorf("govern: rebuild index: %w", err)
		}
		all = append(all, page.Items...)
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	st, err := s.st.LoadGrantsState(ctx)
	if err != nil {
		return fmt.Errorf("govern: rebuild index: %w", err)
	}
	s.ix.Load(all, st)
	s.applied = version
	s.markFresh(began)
	return nil
}

// DatasetChanged brings the index up to date with the stored dataset id
// after it was created, updated or deleted. When the dataset is gone, the
// explicit tags of its table and columns are removed from the store too.
// The ingest service calls it after each such write.
func (s *Service) DatasetChanged(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.st.GetDataset(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		ns, tbl, _ := dataset.SplitID(id)
		if _, err := s.st.DeleteResourceTags(ctx, ns, tbl); err != nil {
			return fmt.Errorf("govern: tags of deleted dataset %q: %w", id, err)
		}
		s.ix.RemoveDataset(id)
		return nil
	}
	if err != nil {
		return fmt.Errorf("govern: dataset %q changed: %w", id, err)
	}
	s.ix.SetDataset(d)
	return nil
}

// TagKeyInfo is a tag key and its allowed values.
type TagKeyInfo struct {
	Key    string
	Values []string
}

// CreateTagKey defines a tag key and its allowed values.
func (s *Service) CreateTagKey(ctx context.Context, key string, values []string) (*TagKeyInfo, error) {
	if err := CheckTagText(key); err != nil {
		return nil, fault.Invalid("tagKey.key", "%v", err)
	}
	if key == s.scale.Key {
		return nil, fmt.Errorf("tag key %q is the grade key, defined by the configuration: %w", key, store.ErrAlreadyExists)
	}
	if len(values) == 0 || len(values) > MaxTagValues {
		return nil, fault.Invalid("tagKey.values", "must hold 1 to %d values, not %d", MaxTagValues, len(values))
	}
	seen := map[string]bool{}
	for i, v := range values {
		if err := CheckTagText(v); err != nil {
			return nil, fault.Invalid(fmt.Sprintf("tagKey.values[%d]", i), "%v", err)
		}
		if seen[v] {
			return nil, fault.Invalid(fmt.Sprintf("tagKey.values[%d]", i), "%q is listed twice", v)
		}
		seen[v] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.st.CreateTagKey(ctx, &store.TagKey{Key: key, Values: values})
	if err != nil {
		return nil, fmt.Errorf("create tag key %q: %w", key, err)
	}
	s.ix.SetTagKey(key, k)
	return &TagKeyInfo{Key: k.Key, Values: k.Values}, nil
}

// ListTagKeys returns one page of tag keys in key order, the grade key
// among them.
func (s *Service) ListTagKeys(pageSize int, pageToken string) ([]TagKeyInfo, string, error) {
	if err := s.Fresh(); err != nil {
		return nil, "", err
	}
	snap := s.ix.load()
	all := []TagKeyInfo{{Key: s.scale.Key, Values: s.scale.Values()}}
	for _, k := range snap.tagKeys {
		all = append(all, TagKeyInfo{Key: k.Key, Values: slices.Clone(k.Values)})
	}
	slices.SortFunc(all, func(a, b TagKeyInfo) int { return strings.Compare(a.Key, b.Key) })
	start, end, next, err := paging.Bounds(len(all), pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	return all[start:end], next, nil
}

// DeleteTagKey deletes a tag key that no resource carries (and, for the
// domain key, that no grant names).
func (s *Service) DeleteTagKey(ctx context.Context, key string) error {
	if key == "" {
		return fault.Invalid("key", "is required")
	}
	if key == s.scale.Key {
		return fault.Precondition("tag key %q is the grade key, defined by the configuration", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == s.domainKey {
		for _, g := range s.ix.load().grants {
			if len(g.Domains) > 0 {
				return fault.Precondition("tag key %q is named by the domains of group grant %s", key, g.ID)
			}
		}
	}
	err := s.st.DeleteTagKey(ctx, key)
	if errors.Is(err, store.ErrInUse) {
		return fault.Precondition("tag key %q is still assigned: %v", key, err)
	}
	if err != nil {
		return fmt.Errorf("delete tag key %q: %w", key, err)
	}
	s.ix.SetTagKey(key, nil)
	return nil
}

// TagsView is a resource with its explicit and effective tags.
type TagsView struct {
	Resource  Resource
	Explicit  map[string]string
	Effective map[string]string
}

// checkResource checks the form of a resource and that its table and
// column exist; it returns the dataset of a table or column.
func (s *Service) checkResource(ctx context.Context, r Resource) (*dataset.Dataset, error) {
	if r.Database == "" {
		return nil, fault.Invalid("resource.database", "is required")
	}
	if err := dataset.ValidateID(r.Database + ".x"); err != nil {
		return nil, fault.Invalid("resource.database", "%q is not a database name", r.Database)
	}
	if r.Table == "" {
		if r.Column != "" {
			return nil, fault.Invalid("resource.table", "is required with a column")
		}
		return nil, nil
	}
	if err := dataset.ValidateID(r.Database + "." + r.Table); err != nil {
		return nil, fault.Invalid("resource.table", "%v", err)
	}
	d, err := s.st.GetDataset(ctx, r.Database+"."+r.Table)
	if err != nil {
		return nil, fmt.Errorf("resource.table: %w", err)
	}
	if r.Column != "" && d.Column(r.Column) == nil {
		return nil, fmt.Errorf("resource.column: table %s has no column %q: %w", d.ID, r.Column, store.ErrNotFound)
	}
	return d, nil
}

// gradeTag returns the grade tag of a table or column that its dataset
// holds, "" when it has none.
func gradeTag(d *dataset.Dataset, r Resource) string {
	g := d.Grade
	if r.Column != "" {
		g = d.Column(r.Column).Grade
	}
	if g == 0 {
		return ""
	}
	return strconv.Itoa(g)
}

// AssignTags sets tags on a database, table or column. The grade tag of a
// table or column is written to its dataset; every other tag (and the grade
// tag of a database) to the grants store.
func (s *Service) AssignTags(ctx context.Context, r Resource, tags map[string]string) (*TagsView, error) {
	if len(tags) == 0 {
		return nil, fault.Invalid("tags", "must name at least one tag")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.checkResource(ctx, r)
	if err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v, field := tags[k], fmt.Sprintf("tags[%s]", k)
		if err := CheckTagText(k); err != nil {
			return nil, fault.Invalid(field, "key: %v", err)
		}
		if k == s.scale.Key {
			if s.scale.parse(v) == 0 {
				return nil, fault.Invalid(field, "%q is not a grade (one of %s)", v, strings.Join(s.scale.Values(), ", "))
			}
			continue
		}
		key, err := s.st.GetTagKey(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fault.Invalid(field, "tag key %q is not defined", k)
		}
		if err != nil {
			return nil, fmt.Errorf("assign tags: %w", err)
		}
		if !slices.Contains(key.Values, v) {
			return nil, fault.Invalid(field, "%q is not a value of tag key %q (one of %s)", v, k, strings.Join(key.Values, ", "))
		}
	}
	explicit, err := s.st.GetResourceTags(ctx, r.toStore())
	if err != nil {
		return nil, fmt.Errorf("assign tags: %w", err)
	}
	n := len(explicit)
	if d != nil && gradeTag(d, r) != "" {
		n++
	}
	for k := range tags {
		_, had := explicit[k]
		if !had && !(k == s.scale.Key && d != nil && gradeTag(d, r) != "") {
			n++
		}
	}
	if n > store.MaxTagsPerResource {
		return nil, fault.Invalid("tags", "%s would carry %d tags, more than %d", r, n, store.MaxTagsPerResource)
	}
	rest := maps.Clone(tags)
	if grade, ok := tags[s.scale.Key]; ok && d != nil {
		g, _ := strconv.Atoi(grade)
		if err := s.setDatasetGrade(ctx, r, g); err != nil {
			return nil, err
		}
		delete(rest, s.scale.Key)
	}
	if len(rest) > 0 {
		out, err := s.st.SetResourceTags(ctx, r.toStore(), rest, nil)
		if err != nil {
			return nil, fmt.Errorf("assign tags to %s: %w", r, err)
		}
		s.ix.SetTags(r, out)
	}
	return s.ResourceTags(r)
}

// RemoveTags removes tags from a database, table or column. Removing a tag
// the resource does not carry is no error.
func (s *Service) RemoveTags(ctx context.Context, r Resource, keys []string) (*TagsView, error) {
	if len(keys) == 0 {
		return nil, fault.Invalid("keys", "must name at least one tag key")
	}
	for i, k := range keys {
		if err := CheckTagText(k); err != nil {
			return nil, fault.Invalid(fmt.Sprintf("keys[%d]", i), "%v", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.checkResource(ctx, r)
	if err != nil {
		return nil, err
	}
	var rest []string
	for _, k := range keys {
		if k == s.scale.Key && d != nil {
			if err := s.setDatasetGrade(ctx, r, 0); err != nil {
				return nil, err
			}
			continue
		}
		rest = append(rest, k)
	}
	if len(rest) > 0 {
		out, err := s.st.SetResourceTags(ctx, r.toStore(), nil, rest)
		if err != nil {
			return nil, fmt.Errorf("remove tags from %s: %w", r, err)
		}
		s.ix.SetTags(r, out)
	}
	return s.ResourceTags(r)
}

// maxGradeRetries bounds the retries of a grade change that races other
// updates of the dataset.
const maxGradeRetries = 10

// setDatasetGrade sets (0: removes) the grade of a table or column in its
// dataset, retrying when another update of the dataset came between read
// and write. The caller holds s.mu.
func (s *Service) setDatasetGrade(ctx context.Context, r Resource, grade int) error {
	id := r.Database + "." + r.Table
	for range maxGradeRetries {
		d, err := s.st.GetDataset(ctx, id)
		if err != nil {
			return fmt.Errorf("set grade of %s: %w", r, err)
		}
		next := d.Clone()
		if r.Column == "" {
			next.Grade = grade
		} else if c := next.Column(r.Column); c != nil {
			c.Grade = grade
		} else {
			return fmt.Errorf("resource.column: table %s has no column %q: %w", id, r.Column, store.ErrNotFound)
		}
		updated, err := s.st.UpdateDataset(ctx, next)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("set grade of %s: %w", r, err)
		}
		s.ix.SetDataset(updated)
		return nil
	}
	return fmt.Errorf("set grade of %s: the dataset kept changing (%d attempts): %w", r, maxGradeRetries, store.ErrConflict)
}

// toStore converts a resource to the store's form.
func (r Resource) toStore() store.TagResource { return store.TagResource(r) }

// ResourceTags returns the explicit and effective tags of one resource
// from the index; NotFound when the resource is unknown.
func (s *Service) ResourceTags(r Resource) (*TagsView, error) {
	if err := s.Fresh(); err != nil {
		return nil, err
	}
	snap := s.ix.load()
	db := snap.dbs[r.Database]
	if r.Table == "" {
		if db == nil {
			return &TagsView{Resource: r, Explicit: map[string]string{}, Effective: map[string]string{}}, nil
		}
		return snap.dbView(db), nil
	}
	t := snap.table(r.Database, r.Table)
	if t == nil {
		return nil, fmt.Errorf("resource.table: table %s.%s: %w", r.Database, r.Table, store.ErrNotFound)
	}
	if r.Column == "" {
		return snap.tableView(t), nil
	}
	ci, ok := snap.colIndex(t, r.Column)
	if !ok {
		return nil, fmt.Errorf("resource.column: table %s.%s has no column %q: %w", r.Database, r.Table, r.Column, store.ErrNotFound)
	}
	return snap.columnView(t, ci), nil
}

// dbView is a database's tags.
func (s *snapshot) dbView(db *dbEntry) *TagsView {
	ex := maps.Clone(db.explicit)
	if ex == nil {
		ex = map[string]string{}
	}
	return &TagsView{Resource: Resource{Database: db.name}, Explicit: ex, Effective: maps.Clone(ex)}
}

// tableView is a table's tags.
func (s *snapshot) tableView(t *tableEntry) *TagsView {
	ex := maps.Clone(t.explicit)
	if ex == nil {
		ex = map[string]string{}
	}
	if t.gradeFrom == fromTable {
		ex[s.scale.Key] = strconv.Itoa(int(t.grade))
	}
	eff := maps.Clone(s.dbs[t.db].explicit)
	if eff == nil {
		eff = map[string]string{}
	}
	maps.Copy(eff, ex)
	return &TagsView{Resource: Resource{Database: t.db, Table: t.name}, Explicit: ex, Effective: eff}
}

// columnView is a column's tags.
func (s *snapshot) columnView(t *tableEntry, ci int) *TagsView {
	c := &t.cols[ci]
	ex := maps.Clone(c.explicit)
	if ex == nil {
		ex = map[string]string{}
	}
	if c.gradeFrom == fromColumn {
		ex[s.scale.Key] = strconv.Itoa(int(c.grade))
	}
	eff := s.tableView(t).Effective
	maps.Copy(eff, ex)
	return &TagsView{Resource: Resource{Database: t.db, Table: t.name, Column: c.name}, Explicit: ex, Effective: eff}
}

// ListResourceTags returns one page of resources with their tags: every
// database (or the one named), each followed by its tables, each followed
// by its columns; with table, that table and its columns.
func (s *Service) ListResourceTags(database, table string, pageSize int, pageToken string) ([]*TagsView, string, error) {
	if err := s.Fresh(); err != nil {
		return nil, "", err
	}
	if table != "" && database == "" {
		return nil, "", fault.Invalid("table", "needs database")
	}
	snap := s.ix.load()
	type item struct {
		t  *tableEntry
		db *dbEntry
		ci int
	}
	var items []item
	addTable := func(t *tableEntry) {
		items = append(items, item{t: t, ci: -1})
		for i := range t.cols {
			items = append(items, item{t: t, ci: i})
		}
	}
	switch {
	case table != "":
		t := snap.table(database, table)
		if t == nil {
			return nil, "", fmt.Errorf("table: %s.%s: %w", database, table, store.ErrNotFound)
		}
		addTable(t)
	default:
		for _, name := range snap.dbNames {
			if database != "" && name != database {
				continue
			}
			db := snap.dbs[name]
			items = append(items, item{db: db, ci: -1})
			for _, t := range db.tables {
				addTable(t)
			}
		}
	}
	start, end, next, err := paging.Bounds(len(items), pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	out := make([]*TagsView, 0, end-start)
	for _, it := range items[start:end] {
		switch {
		case it.db != nil:
			out = append(out, snap.dbView(it.db))
		case it.ci < 0:
			out = append(out, snap.tableView(it.t))
		default:
			out = append(out, snap.columnView(it.t, it.ci))
		}
	}
	return out, next, nil
}
