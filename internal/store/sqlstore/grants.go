package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/lakeplane/lakeplane/internal/store"
)

var _ store.Grants = (*Store)(nil)

// The grants statements. They are bound to the dialect's placeholders on
// each call, since binding is cheap next to a round trip.
const (
	insertTagKey   = `INSERT INTO tag_keys (key, vals, create_time) VALUES (?, ?, ?)`
	selectTagKey   = `SELECT key, vals, create_time FROM tag_keys WHERE key = ?`
	listTagKeys    = `SELECT key, vals, create_time FROM tag_keys WHERE key > ? ORDER BY key LIMIT ?`
	allTagKeys     = `SELECT key, vals, create_time FROM tag_keys ORDER BY key`
	deleteTagKey   = `DELETE FROM tag_keys WHERE key = ?`
	tagKeyInUse    = `SELECT COUNT(*) FROM resource_tags WHERE key = ?`
	upsertTag      = `INSERT INTO resource_tags (db, tbl, col, key, val) VALUES (?, ?, ?, ?, ?) ON CONFLICT (db, tbl, col, key) DO UPDATE SET val = excluded.val`
	deleteTag      = `DELETE FROM resource_tags WHERE db = ? AND tbl = ? AND col = ? AND key = ?`
	selectTags     = `SELECT key, val FROM resource_tags WHERE db = ? AND tbl = ? AND col = ? ORDER BY key`
	deleteTblTags  = `DELETE FROM resource_tags WHERE db = ? AND tbl = ?`
	allTags        = `SELECT db, tbl, col, key, val FROM resource_tags ORDER BY db, tbl, col, key`
	insertGrant    = `INSERT INTO group_grants (id, grp, grade, permissions, domains, create_time) VALUES (?, ?, ?, ?, ?, ?)`
	grantColumns   = `id, grp, grade, permissions, domains, create_time`
	selectGrant    = `SELECT ` + grantColumns + ` FROM group_grants WHERE id = ?`
	listGrants     = `SELECT ` + grantColumns + ` FROM group_grants WHERE id > ? ORDER BY id LIMIT ?`
	listGrantsGrp  = `SELECT ` + grantColumns + ` FROM group_grants WHERE grp = ? AND id > ? ORDER BY id LIMIT ?`
	allGrants      = `SELECT ` + grantColumns + ` FROM group_grants ORDER BY id`
	deleteGrant    = `DELETE FROM group_grants WHERE id = ?`
	resourceKeySep = "\x1f"
)

// CreateTagKey implements store.Grants.
func (s *Store) CreateTagKey(ctx context.Context, k *store.TagKey) (*store.TagKey, error) {
	if k.Key == "" {
		return nil, errors.New("create tag key: empty key")
	}
	vals, err := encodeStrings(k.Values)
	if err != nil {
		return nil, fmt.Errorf("create tag key %q: %w", k.Key, err)
	}
	out := &store.TagKey{Key: k.Key, Values: slices.Clone(k.Values), CreateTime: s.timestamp()}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.bind(insertTagKey), k.Key, vals, s.timeArg(out.CreateTime))
		if err != nil && s.dialect.IsUniqueViolation(err) {
			return fmt.Errorf("tag key %q: %w", k.Key, store.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("create tag key %q: %w", k.Key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanTagKey reads a row of key, vals, create_time.
func scanTagKey(row scanner) (*store.TagKey, error) {
	k := &store.TagKey{}
	var vals []byte
	if err := row.Scan(&k.Key, &vals, timeScanner{&k.CreateTime}); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(vals, &k.Values); err != nil {
		return nil, fmt.Errorf("decode values of tag key %q: %w", k.Key, err)
	}
	return k, nil
}

// GetTagKey implements store.Grants.
func (s *Store) GetTagKey(ctx context.Context, key string) (*store.TagKey, error) {
	k, err := scanTagKey(s.db.QueryRowContext(ctx, s.bind(selectTagKey), key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tag key %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get tag key %q: %w", key, err)
	}
	return k, nil
}

// ListTagKeys implements store.Grants.
func (s *Store) ListTagKeys(ctx context.Context, opts store.ListTagKeysOptions) (store.Page[*store.TagKey], error) {
	after, err := decodePageToken(opts.PageToken, "tagkeys")
	if err != nil {
		return store.Page[*store.TagKey]{}, err
	}
	size := store.NormalizePageSize(opts.PageSize)
	rows, err := s.db.QueryContext(ctx, s.bind(listTagKeys), after, size+1)
	page, err := readPage(rows, err, size, scanTagKey, func(last *store.TagKey) string {
		return encodePageToken(last.Key, "tagkeys")
	})
	if err != nil {
		return page, fmt.Errorf("list tag keys: %w", err)
	}
	return page, nil
}

// DeleteTagKey implements store.Grants.
func (s *Store) DeleteTagKey(ctx context.Context, key string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var n int64
		if err := tx.QueryRowContext(ctx, s.bind(tagKeyInUse), key).Scan(&n); err != nil {
			return fmt.Errorf("delete tag key %q: %w", key, err)
		}
		if n > 0 {
			return fmt.Errorf("tag key %q is carried by %d resources: %w", key, n, store.ErrInUse)
		}
		m, err := affected(tx.ExecContext(ctx, s.bind(deleteTagKey), key))
		if err != nil {
			return fmt.Errorf("delete tag key %q: %w", key, err)
		}
		if m == 0 {
			return fmt.Errorf("tag key %q: %w", key, store.ErrNotFound)
		}
		return nil
	})
}

// SetResourceTags implements store.Grants.
func (s *Store) SetResourceTags(ctx context.Context, r store.TagResource, set map[string]string, remove []string) (map[string]string, error) {
	if r.Database == "" || (r.Column != "" && r.Table == "") {
		return nil, fmt.Errorf("set tags: resource %+v is not a database, table or column", r)
	}
	var out map[string]string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, k := range remove {
			if _, err := tx.ExecContext(ctx, s.bind(deleteTag), r.Database, r.Table, r.Column, k); err != nil {
				return fmt.Errorf("remove tag %q of %s: %w", k, r.Key(), err)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(set)) {
			if _, err := tx.ExecContext(ctx, s.bind(upsertTag), r.Database, r.Table, r.Column, k, set[k]); err != nil {
				return fmt.Errorf("set tag %q of %s: %w", k, r.Key(), err)
			}
		}
		tags, err := s.resourceTags(ctx, tx, r)
		if err != nil {
			return err
		}
		if len(tags) > store.MaxTagsPerResource {
			return fmt.Errorf("%s would carry %d tags, more than %d: %w", r.Key(), len(tags), store.MaxTagsPerResource, store.ErrTooManyTags)
		}
		out = tags
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// resourceTags reads the explicit tags of r.
func (s *Store) resourceTags(ctx context.Context, q querier, r store.TagResource) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, s.bind(selectTags), r.Database, r.Table, r.Column)
	if err != nil {
		return nil, fmt.Errorf("tags of %s: %w", r.Key(), err)
	}
	defer rows.Close()
	tags := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("tags of %s: %w", r.Key(), err)
		}
		tags[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tags of %s: %w", r.Key(), err)
	}
	return tags, nil
}

// GetResourceTags implements store.Grants.
func (s *Store) GetResourceTags(ctx context.Context, r store.TagResource) (map[string]string, error) {
	return s.resourceTags(ctx, s.db, r)
}

// ListResourceTags implements store.Grants. It pages by keyset over
// (database, table, column).
func (s *Store) ListResourceTags(ctx context.Context, opts store.ListResourceTagsOptions) (store.Page[*store.ResourceTags], error) {
	var page store.Page[*store.ResourceTags]
	filter := opts.Database + "." + opts.Table
	after, err := decodePageToken(opts.PageToken, filter)
	if err != nil {
		return page, err
	}
	var a store.TagResource
	if after != "" {
		parts := strings.Split(after, resourceKeySep)
		if len(parts) != 3 {
			return page, invalidPageToken(opts.PageToken)
		}
		a = store.TagResource{Database: parts[0], Table: parts[1], Column: parts[2]}
	}
	size := store.NormalizePageSize(opts.PageSize)
	where, args := "(db > ? OR (db = ? AND (tbl > ? OR (tbl = ? AND col > ?))))",
		[]any{a.Database, a.Database, a.Table, a.Table, a.Column}
	if after == "" {
		where, args = "1 = 1", nil
	}
	if opts.Database != "" {
		where += " AND db = ?"
		args = append(args, opts.Database)
		if opts.Table != "" {
			where += " AND tbl = ?"
			args = append(args, opts.Table)
		}
	}
	rows, err := s.db.QueryContext(ctx, s.bind(`SELECT db, tbl, col, key, val FROM resource_tags WHERE `+where+` ORDER BY db, tbl, col, key`), args...)
	if err != nil {
		return page, fmt.Errorf("list resource tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r store.TagResource
		var k, v string
		if err := rows.Scan(&r.Database, &r.Table, &r.Column, &k, &v); err != nil {
			return page, fmt.Errorf("list resource tags: %w", err)
		}
		n := len(page.Items)
		if n == 0 || page.Items[n-1].Resource != r {
			if n == size {
				last := page.Items[n-1].Resource
				page.NextPageToken = encodePageToken(strings.Join([]string{last.Database, last.Table, last.Column}, resourceKeySep), filter)
				break
			}
			page.Items = append(page.Items, &store.ResourceTags{Resource: r, Tags: map[string]string{}})
		}
		page.Items[len(page.Items)-1].Tags[k] = v
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("list resource tags: %w", err)
	}
	return page, nil
}

// DeleteResourceTags implements store.Grants.
func (s *Store) DeleteResourceTags(ctx context.Context, database, table string) (int, error) {
	n, err := affected(s.db.ExecContext(ctx, s.bind(deleteTblTags), database, table))
	if err != nil {
		return 0, fmt.Errorf("delete tags of %s.%s: %w", database, table, err)
	}
	return int(n), nil
}

// CreateGroupGrant implements store.Grants.
func (s *Store) CreateGroupGrant(ctx context.Context, g *store.GroupGrant) (*store.GroupGrant, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("create group grant: new id: %w", err)
	}
	out := &store.GroupGrant{
		ID: id.String(), Group: g.Group, Grade: g.Grade,
		Permissions: slices.Clone(g.Permissions), Domains: slices.Clone(g.Domains),
		CreateTime: s.timestamp(),
	}
	perms, err := encodeStrings(out.Permissions)
	if err != nil {
		return nil, fmt.Errorf("create group grant: %w", err)
	}
	domains, err := encodeStrings(out.Domains)
	if err != nil {
		return nil, fmt.Errorf("create group grant: %w", err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.bind(insertGrant), out.ID, out.Group, out.Grade, perms, domains, s.timeArg(out.CreateTime)); err != nil {
			return fmt.Errorf("create group grant for %q: %w", g.Group, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanGrant reads a row of grantColumns.
func scanGrant(row scanner) (*store.GroupGrant, error) {
	g := &store.GroupGrant{}
	var perms, domains []byte
	if err := row.Scan(&g.ID, &g.Group, &g.Grade, &perms, &domains, timeScanner{&g.CreateTime}); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(perms, &g.Permissions); err != nil {
		return nil, fmt.Errorf("decode permissions of group grant %q: %w", g.ID, err)
	}
	if err := json.Unmarshal(domains, &g.Domains); err != nil {
		return nil, fmt.Errorf("decode domains of group grant %q: %w", g.ID, err)
	}
	return g, nil
}

// GetGroupGrant implements store.Grants.
func (s *Store) GetGroupGrant(ctx context.Context, id string) (*store.GroupGrant, error) {
	g, err := scanGrant(s.db.QueryRowContext(ctx, s.bind(selectGrant), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("group grant %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get group grant %q: %w", id, err)
	}
	return g, nil
}

// ListGroupGrants implements store.Grants.
func (s *Store) ListGroupGrants(ctx context.Context, opts store.ListGroupGrantsOptions) (store.Page[*store.GroupGrant], error) {
	after, err := decodePageToken(opts.PageToken, "grants:"+opts.Group)
	if err != nil {
		return store.Page[*store.GroupGrant]{}, err
	}
	size := store.NormalizePageSize(opts.PageSize)
	var rows *sql.Rows
	if opts.Group != "" {
		rows, err = s.db.QueryContext(ctx, s.bind(listGrantsGrp), opts.Group, after, size+1)
	} else {
		rows, err = s.db.QueryContext(ctx, s.bind(listGrants), after, size+1)
	}
	page, err := readPage(rows, err, size, scanGrant, func(last *store.GroupGrant) string {
		return encodePageToken(last.ID, "grants:"+opts.Group)
	})
	if err != nil {
		return page, fmt.Errorf("list group grants: %w", err)
	}
	return page, nil
}

// DeleteGroupGrant implements store.Grants.
func (s *Store) DeleteGroupGrant(ctx context.Context, id string) error {
	n, err := affected(s.db.ExecContext(ctx, s.bind(deleteGrant), id))
	if err != nil {
		return fmt.Errorf("delete group grant %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("group grant %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// LoadGrantsState implements store.Grants. It reads in one transaction, so
// that the three parts agree.
func (s *Store) LoadGrantsState(ctx context.Context) (*store.GrantsState, error) {
	st := &store.GrantsState{}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if st.TagKeys, err = queryAll(ctx, tx, allTagKeys, scanTagKey); err != nil {
			return fmt.Errorf("load tag keys: %w", err)
		}
		if st.Grants, err = queryAll(ctx, tx, allGrants, scanGrant); err != nil {
			return fmt.Errorf("load group grants: %w", err)
		}
		type row struct {
			r    store.TagResource
			k, v string
		}
		tags, err := queryAll(ctx, tx, allTags, func(sc scanner) (row, error) {
			var x row
			err := sc.Scan(&x.r.Database, &x.r.Table, &x.r.Column, &x.k, &x.v)
			return x, err
		})
		if err != nil {
			return fmt.Errorf("load tags: %w", err)
		}
		for _, x := range tags {
			n := len(st.Tags)
			if n == 0 || st.Tags[n-1].Resource != x.r {
				st.Tags = append(st.Tags, &store.ResourceTags{Resource: x.r, Tags: map[string]string{}})
			}
			st.Tags[len(st.Tags)-1].Tags[x.k] = x.v
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.dialect.Name, err)
	}
	return st, nil
}

// queryAll runs a query with args on q (the store's database or a
// transaction) and scans every row.
func queryAll[T any](ctx context.Context, q querier, query string, scan func(scanner) (T, error), args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// encodeStrings renders a list of strings as a JSON array ("[]" for none).
func encodeStrings(ss []string) (string, error) {
	if ss == nil {
		ss = []string{}
	}
	b, err := json.Marshal(ss)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
