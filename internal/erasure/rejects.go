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
)

// maxRejectsFile is the largest rejects file scrubbed in memory; the loader
// stops a load long before its rejects grow near it.
const maxRejectsFile = 256 << 20

// scrubRejects rewrites each rejects file of dataset id without the records
// that hold one of ids, and returns how many records it removed. A record
// holds an id when one of its fields is the id, or when its raw-row field
// (the rejected line as read) has the id as one of its own fields.
func (r *Runner) scrubRejects(ctx context.Context, id string, ids []string) (int64, error) {
	if r.Objects == nil || r.RejectsDir == "" {
		return 0, nil
	}
	isID := make(map[string]bool, len(ids))
	for _, v := range ids {
		isID[v] = true
	}
	var removed int64
	prefix := strings.TrimSuffix(r.RejectsDir, "/") + "/" + id + "/"
	for info, err := range r.Objects.List(ctx, prefix) {
		if err != nil {
			return removed, fmt.Errorf("list %s: %w", prefix, err)
		}
		if err := ctx.Err(); err != nil {
			return removed, context.Cause(ctx)
		}
		if !strings.HasSuffix(info.URI, ".csv") {
			continue
		}
		n, err := r.scrubFile(ctx, info.URI, isID)
		if err != nil {
			return removed, fmt.Errorf("%s: %w", info.URI, err)
		}
		removed += n
	}
	return removed, nil
}

// scrubFile rewrites one rejects file without the records holding an id,
// keeping every other record byte for byte. A file holding none is left
// as it is.
func (r *Runner) scrubFile(ctx context.Context, uri string, isID map[string]bool) (int64, error) {
	body, _, err := r.Objects.Get(ctx, uri, nil)
	if err != nil {
		return 0, err
	}
	raw, err := io.ReadAll(io.LimitReader(body, maxRejectsFile+1))
	body.Close()
	if err != nil {
		return 0, err
	}
	if len(raw) > maxRejectsFile {
		return 0, fmt.Errorf("larger than %d bytes", maxRejectsFile)
	}
	kept, removed, err := dropRecords(raw, isID)
	if err != nil || removed == 0 {
		return 0, err
	}
	if _, err := r.Objects.Put(ctx, uri, bytes.NewReader(kept)); err != nil {
		return 0, err
	}
	return removed, nil
}

// dropRecords returns the CSV text raw without the records that hold an id.
func dropRecords(raw []byte, isID map[string]bool) ([]byte, int64, error) {
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
		if holdsID(rec, isID) {
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
