package erasure

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/erasure/subjecttag"
	"github.com/lakeplane/lakeplane/internal/objects"
)

// maxRejectsFile is the largest rejects file scrubbed in memory; the loader
// stops a load long before its rejects grow near it.
const maxRejectsFile = 256 << 20

// scrubRejects rewrites each rejects file of dataset d without the records
// of the subjects ids (values of d's subject key), and returns how many
// records it removed. Values are compared in their subjecttag.Canonical
// form for the subject key's type. The first record of a rejects file is
// its header, which names its columns, and says where a subject's id is
// (see rejectsMatcher): in the column named as the subject key, or in a
// loader's rejects file in the value and the rejected line's fields. The
// file's index (see package subjecttag), when it has one, also tags the
// records' lines with their subjects: the loader masks the subject key in
// rejects, and the index is how a masked key is still found. A file
// written before indexes were (none beside it) is scrubbed by its header
// alone.
func (r *Runner) scrubRejects(ctx context.Context, d *dataset.Dataset, ids []string) (int64, error) {
	if r.Objects == nil || r.RejectsDir == "" {
		return 0, nil
	}
	typ := subjectKeyType(d)
	isID := make(map[string]bool, len(ids))
	for _, v := range ids {
		isID[subjecttag.Canonical(typ, v)] = true
	}
	has := func(v string) bool { return isID[subjecttag.Canonical(typ, v)] }
	prefix := strings.TrimSuffix(r.RejectsDir, "/") + "/" + d.ID + "/"
	var files []string
	indexes := map[string]bool{}
	for info, err := range r.Objects.List(ctx, prefix) {
		if err != nil {
			return 0, fmt.Errorf("list %s: %w", prefix, err)
		}
		if err := ctx.Err(); err != nil {
			return 0, context.Cause(ctx)
		}
		switch {
		case strings.HasSuffix(info.URI, ".csv"):
			files = append(files, info.URI)
		case strings.HasSuffix(info.URI, ".csv"+subjecttag.IndexSuffix):
			indexes[info.URI] = true
		}
	}
	tags, err := r.subjectTags(ctx, typ, ids, len(indexes) > 0)
	if err != nil {
		return 0, err
	}
	var removed int64
	for _, uri := range files {
		if err := ctx.Err(); err != nil {
			return removed, context.Cause(ctx)
		}
		index := uri + subjecttag.IndexSuffix
		var lines map[string]bool
		if indexes[index] && len(tags) > 0 {
			if lines, err = r.taggedLines(ctx, index, tags); err != nil {
				return removed, fmt.Errorf("%s: %w", index, err)
			}
		}
		var match func([]string) bool
		n, err := r.scrubFile(ctx, uri, func(rec []string) bool {
			if match == nil {
				match = rejectsMatcher(rec, d.SubjectKey, has)
				return false
			}
			return len(rec) > 0 && lines[rec[0]] || match(rec)
		})
		if err != nil {
			return removed, fmt.Errorf("%s: %w", uri, err)
		}
		// The index loses its records only once the file has lost theirs:
		// a failure in between leaves tags without records, never records
		// without their tags.
		if len(lines) > 0 {
			if _, err := r.scrubFile(ctx, index, func(rec []string) bool { return isIndexRecord(rec) && lines[rec[0]] }); err != nil {
				return removed, fmt.Errorf("%s: %w", index, err)
			}
		}
		removed += n
	}
	return removed, nil
}

// rejectsMatcher returns the test of whether a record of a rejects file
// whose header is header holds a subject id (has reports which values are
// ids):
//
//   - a header that names the subject key: the record's field in that
//     column is an id (a rejects file of the source's rows);
//   - the loader's header (line, column, value, reason, fields): the value
//     is an id, or one of the rejected line's fields (a JSON list, or
//     delimited text) is; the line number and the reason are not looked at,
//     so that a line 42 is not subject 42;
//   - any other header: one of the record's fields, or of the fields of
//     the line one of them quotes, is an id.
func rejectsMatcher(header []string, subjectKey string, has func(string) bool) func([]string) bool {
	at := func(name string) int {
		return slices.IndexFunc(header, func(h string) bool { return strings.EqualFold(strings.TrimSpace(h), name) })
	}
	field := func(rec []string, i int) string {
		if i < len(rec) {
			return rec[i]
		}
		return ""
	}
	if k := at(subjectKey); subjectKey != "" && k >= 0 {
		return func(rec []string) bool { return k < len(rec) && has(rec[k]) }
	}
	if value, fields := at("value"), at("fields"); value >= 0 && fields >= 0 && at("line") >= 0 {
		return func(rec []string) bool {
			return has(field(rec, value)) || quotesID(field(rec, fields), has)
		}
	}
	return func(rec []string) bool { return holdsID(rec, has) }
}

// subjectTags returns the set of the tags of ids, values of a subject key
// of type typ, under the store's tag key, or nil when no index needs them.
func (r *Runner) subjectTags(ctx context.Context, typ dataset.ColumnType, ids []string, needed bool) (map[string]bool, error) {
	keys, ok := r.Store.(subjecttag.KeyStore)
	if !needed || !ok {
		return nil, nil
	}
	key, err := keys.Secret(ctx, subjecttag.KeyName)
	if err != nil {
		return nil, fmt.Errorf("rejects: subject tag key: %w", err)
	}
	tags := make(map[string]bool, len(ids))
	for _, id := range ids {
		tags[subjecttag.Tag(key, typ, id)] = true
	}
	return tags, nil
}

// taggedLines reads a rejects file's index and returns the lines of the
// records tagged with one of tags.
func (r *Runner) taggedLines(ctx context.Context, uri string, tags map[string]bool) (map[string]bool, error) {
	raw, err := r.readSmall(ctx, uri)
	if err != nil {
		return nil, err
	}
	lines := map[string]bool{}
	_, _, err = dropRecords(raw, func(rec []string) bool {
		if !isIndexRecord(rec) {
			return false
		}
		for _, tag := range strings.Fields(rec[1]) {
			if tags[tag] {
				lines[rec[0]] = true
				return true
			}
		}
		return false
	})
	return lines, err
}

// isIndexRecord reports whether rec is a record of an index, not its
// header.
func isIndexRecord(rec []string) bool {
	return len(rec) == len(subjecttag.IndexHeader) && rec[0] != subjecttag.IndexHeader[0]
}

// readSmall reads a whole rejects object (or index), refusing one larger
// than maxRejectsFile.
func (r *Runner) readSmall(ctx context.Context, uri string) ([]byte, error) {
	body, _, err := r.Objects.Get(ctx, uri, nil)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	raw, err := io.ReadAll(io.LimitReader(body, maxRejectsFile+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxRejectsFile {
		return nil, fmt.Errorf("larger than %d bytes", maxRejectsFile)
	}
	return raw, nil
}

// scrubFile rewrites one CSV object without the records drop reports,
// keeping every other record byte for byte. A file losing none is left as
// it is.
func (r *Runner) scrubFile(ctx context.Context, uri string, drop func([]string) bool) (int64, error) {
	raw, err := r.readSmall(ctx, uri)
	if err != nil {
		return 0, err
	}
	kept, removed, err := dropRecords(raw, drop)
	if err != nil || removed == 0 {
		return 0, err
	}
	if _, err := r.Objects.Put(ctx, uri, bytes.NewReader(kept)); err != nil {
		return 0, err
	}
	if err := r.dropOldVersions(ctx, uri); err != nil {
		return removed, err
	}
	return removed, nil
}

// dropOldVersions deletes the versions of the object at uri that are not
// its current one, where the store keeps versions (a versioned bucket
// keeps the file as it was before the scrub).
func (r *Runner) dropOldVersions(ctx context.Context, uri string) error {
	store, ok := r.Objects.(objects.Versioned)
	if !ok {
		return nil
	}
	var old []objects.Version
	for v, err := range store.ListVersions(ctx, uri) {
		if errors.Is(err, objects.ErrNoVersions) {
			return nil
		}
		if err != nil {
			return err
		}
		if v.URI == uri && !v.Latest && !v.DeleteMarker {
			old = append(old, v)
		}
	}
	if len(old) == 0 {
		return nil
	}
	if failed := store.DeleteVersions(ctx, old); len(failed) > 0 {
		errs := make([]error, len(failed))
		for i := range failed {
			errs[i] = &failed[i]
		}
		return fmt.Errorf("delete the versions before the scrub: %w", errors.Join(errs...))
	}
	return nil
}

// dropRecords returns the CSV text raw without the records drop reports.
func dropRecords(raw []byte, drop func([]string) bool) ([]byte, int64, error) {
	cr := csv.NewReader(bytes.NewReader(raw))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	var (
		out     bytes.Buffer
		removed int64
		start   int64
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read csv: %w", err)
		}
		end := cr.InputOffset()
		if drop(rec) {
			removed++
		} else {
			out.Write(raw[start:end])
		}
		start = end
	}
	out.Write(raw[start:])
	return out.Bytes(), removed, nil
}

// holdsID reports whether a record, or the line one of its fields quotes
// (as a JSON array of fields, or as delimited text), has an id as a field.
func holdsID(rec []string, has func(string) bool) bool {
	for _, f := range rec {
		if has(f) || quotesID(f, has) {
			return true
		}
	}
	return false
}

// quotesID reports whether f quotes a line (as a JSON array of fields, as
// the loader keeps a rejected line, or as delimited text) one of whose
// fields is an id.
func quotesID(f string, has func(string) bool) bool {
	var fields []string
	if strings.HasPrefix(f, "[") && json.Unmarshal([]byte(f), &fields) == nil {
		return slices.ContainsFunc(fields, has)
	}
	if !strings.ContainsAny(f, ",;\t|") {
		return false
	}
	for _, sep := range []rune{',', ';', '\t', '|'} {
		inner := csv.NewReader(strings.NewReader(f))
		inner.Comma, inner.FieldsPerRecord, inner.LazyQuotes = sep, -1, true
		for {
			fields, err := inner.Read()
			if err != nil {
				break
			}
			if slices.ContainsFunc(fields, has) {
				return true
			}
		}
	}
	return false
}
