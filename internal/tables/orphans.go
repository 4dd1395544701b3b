package tables

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"strings"
	"time"

	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// orphanTimeSlack is how much earlier than the start of a Write running in
// this process a file must be for RemoveOrphans to take it: file times may
// be coarse (an S3 LastModified has whole seconds) or from another clock.
const orphanTimeSlack = 5 * time.Second

// RemoveOrphans deletes the data files of the table of dataset id that no
// snapshot in its metadata references and that were last modified before
// olderThan, and returns how many it deleted. Such files are left by a
// write that died between writing its files and committing them (a
// crashed process: a write that fails or is cancelled removes its own).
//
// Only the table's data location (write.data.path, by default
// <location>/data) is swept; manifests, manifest lists and metadata files
// are never deleted here. A file is kept if any snapshot still in the
// metadata lists it in any manifest entry, deleted entries included, so
// that time travel to every retained snapshot keeps working.
//
// The age guard is the caller's promise that no writer which may still
// commit wrote a file before olderThan: a write in progress has not
// committed its files yet and they look like orphans. Writes running in
// this process are known, and olderThan is moved back to before the
// oldest of them on this table began; writes of other processes are not.
// The files are listed before the metadata is read, and the metadata is
// read again before each deletion when it has changed, so a file
// committed meanwhile is kept.
func (c *Catalog) RemoveOrphans(ctx context.Context, id string, olderThan time.Time) (removed int, err error) {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return 0, err
	}
	if t, ok := inflight.earliest(tbl.Metadata().TableUUID()); ok && t.Add(-orphanTimeSlack).Before(olderThan) {
		olderThan = t.Add(-orphanTimeSlack)
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return 0, fmt.Errorf("dataset %s: remove orphans: %w", id, err)
	}
	lister, ok := fsys.(icebergio.ListableIO)
	if !ok {
		return 0, fmt.Errorf("dataset %s: remove orphans: the table's storage (%T) cannot list files", id, fsys)
	}
	root := dataLocation(tbl)
	var candidates []string
	err = lister.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir // nothing written yet
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if info.ModTime().Before(olderThan) {
			candidates = append(candidates, p)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("dataset %s: remove orphans: list %s: %w", id, root, err)
	}
	if len(candidates) == 0 {
		return 0, nil
	}

	// Read the metadata after the listing: a file listed and committed
	// before this point is referenced by it.
	uuid := tbl.Metadata().TableUUID()
	tbl, err = c.load(ctx, id)
	if err != nil {
		return 0, err
	}
	if tbl.Metadata().TableUUID() != uuid {
		return 0, fmt.Errorf("dataset %s: remove orphans: %w", id, errTableReplaced)
	}
	refs, err := referencedFiles(ctx, tbl)
	if err != nil {
		return 0, fmt.Errorf("dataset %s: remove orphans: %w", id, err)
	}
	metaLoc := tbl.MetadataLocation()
	var errs []error
	for _, p := range candidates {
		if err := ctx.Err(); err != nil {
			return removed, context.Cause(ctx)
		}
		if refs[fileKey(p)] {
			continue
		}
		// Another commit since the metadata was read may reference it.
		if cur, err := c.load(ctx, id); err != nil {
			return removed, err
		} else if cur.MetadataLocation() != metaLoc {
			if cur.Metadata().TableUUID() != uuid {
				return removed, fmt.Errorf("dataset %s: remove orphans: %w", id, errTableReplaced)
			}
			if refs, err = referencedFiles(ctx, cur); err != nil {
				return removed, fmt.Errorf("dataset %s: remove orphans: %w", id, err)
			}
			metaLoc = cur.MetadataLocation()
			if refs[fileKey(p)] {
				continue
			}
		}
		if err := fsys.Remove(p); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
			}
			continue
		}
		removed++
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("dataset %s: remove orphans: %w", id, err)
	}
	return removed, nil
}

var errTableReplaced = errors.New("the table was dropped and created again meanwhile")

// dataLocation is where the table's writers put data files.
func dataLocation(tbl *table.Table) string {
	if p, ok := tbl.Properties()[table.WriteDataPathKey]; ok && p != "" {
		return strings.TrimRight(p, "/")
	}
	return strings.TrimRight(tbl.Location(), "/") + "/data"
}

// referencedFiles returns the keys (fileKey) of every file that a snapshot
// in tbl's metadata reaches: manifest lists, manifests, and the data and
// delete files of every manifest entry, deleted ones included.
func referencedFiles(ctx context.Context, tbl *table.Table) (map[string]bool, error) {
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	refs := map[string]bool{}
	seenManifest := map[string]bool{}
	for _, s := range tbl.Metadata().Snapshots() {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		refs[fileKey(s.ManifestList)] = true
		manifests, err := s.Manifests(fsys)
		if err != nil {
			return nil, fmt.Errorf("snapshot %d: read manifest list %s: %w", s.SnapshotID, s.ManifestList, err)
		}
		for _, m := range manifests {
			if seenManifest[m.FilePath()] {
				continue
			}
			seenManifest[m.FilePath()] = true
			refs[fileKey(m.FilePath())] = true
			for e, err := range m.Entries(fsys, false) {
				if err != nil {
					return nil, fmt.Errorf("snapshot %d: read manifest %s: %w", s.SnapshotID, m.FilePath(), err)
				}
				refs[fileKey(e.DataFile().FilePath())] = true
			}
		}
	}
	return refs, nil
}

// fileKey is the form in which a file path from a listing and one from
// table metadata compare: a local file's listing has a plain path where the
// metadata has a file:// URL.
func fileKey(p string) string {
	if rest, ok := strings.CutPrefix(p, "file://"); ok {
		if u, err := url.Parse(p); err == nil && u.Host == "" {
			return path.Clean(u.Path)
		}
		return path.Clean(rest)
	}
	if strings.HasPrefix(p, "/") {
		return path.Clean(p)
	}
	if scheme, rest, ok := strings.Cut(p, "://"); ok {
		return scheme + "://" + path.Clean(rest)
	}
	return p
}
