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

	"github.com/lakeplane/lakeplane/internal/erasure/subjecttag"
	"github.com/lakeplane/lakeplane/internal/objects"
)

// maxRejectsFile is the largest rejects file scrubbed in memory; the loader
// stops a load long before its rejects grow near it.
const maxRejectsFile = 256 << 20

// scrubRejects rewrites each rejects file of dataset id without the records
// that hold one of ids, and returns how many records it removed. A record
// holds an id when one of its fields is the id, when its raw-row field (the
// rejected line as read) has the id as one of its own fields, or when the
// file's index (see package subjecttag) tags its line with the id: the
// loader masks the subject key in rejects, and the index is how a masked
// key is still found.
func (r *Runner) scrubRejects(ctx context.Context, id string, ids []string) (int64, error) {
	if r.Objects == nil || r.RejectsDir == "" {
		return 0, nil
	}
	isID := make(map[string]bool, len(ids))
	for _, v := range ids {
		isID[v] = true
	}
	prefix := strings.TrimSuffix(r.RejectsDir, "/") + "/" + id + "/"
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
	tags, err := r.subjectTags(ctx, ids, len(indexes) > 0)
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
		n, err := r.scrubFile(ctx, uri, func(rec []string) bool {
			return len(rec) > 0 && lines[rec[0]] || holdsID(rec, isID)
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

// subjectTags returns the set of the tags of ids under the store's tag
// key, or nil when no index needs them.
func (r *Runner) subjectTags(ctx context.Context, ids []string, needed bool) (map[string]bool, error) {
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
		tags[subjecttag.Tag(key, id)] = true
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
func holdsID(rec []string, isID map[string]bool) bool {
	for _, f := range rec {
		if isID[strings.TrimSpace(f)] {
			return true
		}
		// The loader keeps the rejected line's fields as a JSON array.
		var fields []string
		if strings.HasPrefix(f, "[") && json.Unmarshal([]byte(f), &fields) == nil {
			if slices.ContainsFunc(fields, func(g string) bool { return isID[strings.TrimSpace(g)] }) {
				return true
			}
			continue
		}
		if strings.ContainsAny(f, ",;\t|") {
			for _, sep := range []rune{',', ';', '\t', '|'} {
				inner := csv.NewReader(strings.NewReader(f))
				inner.Comma, inner.FieldsPerRecord, inner.LazyQuotes = sep, -1, true
				for {
					fields, err := inner.Read()
					if err != nil {
						break
					}
					for _, g := range fields {
						if isID[strings.TrimSpace(g)] {
							return true
						}
					}
				}
			}
		}
	}
	return false
}
