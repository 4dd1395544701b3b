package tables

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// ExpireStats is what one Expire did.
type ExpireStats struct {
	// SnapshotID is the current snapshot, which is never expired.
	SnapshotID       int64
	SnapshotsExpired int64
	// The files deleted, by kind; FilesRemoved is their sum.
	DataFilesRemoved     int64
	ManifestsRemoved     int64
	ManifestListsRemoved int64
	MetadataFilesRemoved int64
	FilesRemoved         int64
	BytesRemoved         int64
}

// Expire removes from the table of dataset id the snapshots made before
// olderThan, keeping at least the retainLast newest snapshots of the main
// branch (at least 1: the current snapshot is never expired) and the heads
// of other branches and tags with their ancestors. It then deletes the files
// that only the expired snapshots reached — data files, manifests and
// manifest lists — and every superseded metadata file (*.metadata.json) the
// table's metadata log or the expired state names, so that nothing of the
// expired snapshots can be read back. The rows of the current snapshot are
// untouched.
//
// Expiring every snapshot but the current one, however recent, as an
// erasure must, is Expire(ctx, id, t, 1) with t after every snapshot (such
// as an hour from now). When another writer commits first, the
// expiry is planned again on the new state (see Write for the attempts).
// A file that cannot be deleted fails the call after the commit; calling
// Expire again does not find it (the snapshots are gone), but VerifyAbsent
// and an orphan sweep do.
func (c *Catalog) Expire(ctx context.Context, id string, olderThan time.Time, retainLast int) (ExpireStats, error) {
	retainLast = max(retainLast, 1)
	ident, err := ident(id)
	if err != nil {
		return ExpireStats{}, err
	}
	for attempt := 1; ; attempt++ {
		pre, err := c.load(ctx, id)
		if err != nil {
			return ExpireStats{}, err
		}
		cur := pre.CurrentSnapshot()
		if cur == nil {
			return ExpireStats{}, nil
		}
		remove := expirable(pre.Metadata(), olderThan, retainLast)
		st := ExpireStats{SnapshotID: cur.SnapshotID, SnapshotsExpired: int64(len(remove))}
		postMeta, postLoc := pre.Metadata(), pre.MetadataLocation()
		if len(remove) > 0 {
			curID := cur.SnapshotID
			postMeta, postLoc, err = c.cat.CommitTable(ctx, ident,
				[]table.Requirement{
					table.AssertTableUUID(pre.Metadata().TableUUID()),
					table.AssertRefSnapshotID(table.MainBranch, &curID),
				},
				[]table.Update{table.NewRemoveSnapshotsUpdate(remove, false)})
			if err != nil {
				if !isConflict(err) && !isTransient(err) || attempt >= c.opts.commitAttempts {
					return ExpireStats{}, fmt.Errorf("dataset %s: expire: commit: %w", id, err)
				}
				if err := sleep(ctx, backoff(attempt)); err != nil {
					return ExpireStats{}, err
				}
				continue
			}
		}
		if err := c.removeExpired(ctx, pre, postMeta, postLoc, &st); err != nil {
			return st, fmt.Errorf("dataset %s: expired %d snapshots, but removing their files failed: %w", id, len(remove), err)
		}
		return st, nil
	}
}

// expirable lists the snapshots of meta that Expire removes.
func expirable(meta table.Metadata, olderThan time.Time, retainLast int) []int64 {
	keep := map[int64]bool{}
	cutoff := olderThan.UnixMilli()
	lookup := func(id int64) *table.Snapshot { return meta.SnapshotByID(id) }
	for name, ref := range meta.Refs() {
		keep[ref.SnapshotID] = true
		if name != table.MainBranch {
			// Other branches and tags keep their whole history: their
			// retention is theirs to set.
			for _, s := range table.AncestorsOf(ref.SnapshotID, lookup) {
				keep[s.SnapshotID] = true
			}
			continue
		}
		for n, s := range table.AncestorsOf(ref.SnapshotID, lookup) {
			if n >= retainLast && s.TimestampMs < cutoff {
				break
			}
			keep[s.SnapshotID] = true
		}
	}
	var remove []int64
	for _, s := range meta.Snapshots() {
		if !keep[s.SnapshotID] && s.TimestampMs < cutoff {
			remove = append(remove, s.SnapshotID)
		}
	}
	return remove
}

// removeExpired deletes the files that pre's snapshots reached and post's
// do not, and the metadata files that post supersedes.
func (c *Catalog) removeExpired(ctx context.Context, pre *table.Table, post table.Metadata, postLoc string, st *ExpireStats) error {
	fsys, err := pre.FS(ctx)
	if err != nil {
		return err
	}
	// What the retained snapshots reach: their manifest lists, manifests
	// and live data files.
	kept := map[string]bool{}
	for _, s := range post.Snapshots() {
		if err := reachable(ctx, fsys, &s, true, func(path string, _ fileKind) { kept[path] = true }); err != nil {
			return err
		}
	}
	type victim struct {
		path string
		kind fileKind
	}
	var victims []victim
	seen := map[string]bool{}
	for _, s := range pre.Metadata().Snapshots() {
		if post.SnapshotByID(s.SnapshotID) != nil {
			continue
		}
		err := reachable(ctx, fsys, &s, false, func(path string, k fileKind) {
			if !kept[path] && !seen[path] {
				seen[path] = true
				victims = append(victims, victim{path, k})
			}
		})
		if err != nil {
			return err
		}
	}
	// Superseded metadata files: the one pre was read from and every one
	// either metadata log names, but never the current one.
	metas := []string{pre.MetadataLocation()}
	for e := range pre.Metadata().PreviousFiles() {
		metas = append(metas, e.MetadataFile)
	}
	for e := range post.PreviousFiles() {
		metas = append(metas, e.MetadataFile)
	}
	slices.Sort(metas)
	for _, m := range slices.Compact(metas) {
		if m != postLoc && !seen[m] {
			seen[m] = true
			victims = append(victims, victim{m, kindMetadata})
		}
	}
	var errs []error
	for _, v := range victims {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		size := fileSize(fsys, v.path)
		if err := fsys.Remove(v.path); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove %s: %w", v.path, err))
			}
			continue
		}
		st.FilesRemoved++
		st.BytesRemoved += size
		switch v.kind {
		case kindData:
			st.DataFilesRemoved++
		case kindManifest:
			st.ManifestsRemoved++
		case kindManifestList:
			st.ManifestListsRemoved++
		case kindMetadata:
			st.MetadataFilesRemoved++
		}
	}
	return errors.Join(errs...)
}

// fileKind is the kind of a file of a table.
type fileKind int

const (
	kindData fileKind = iota + 1
	kindManifest
	kindManifestList
	kindMetadata
)

// reachable calls fn on every file snapshot s reaches: its manifest list,
// its manifests and their data and delete files (with liveOnly, only the
// files its manifests list as added or existing).
func reachable(ctx context.Context, fsys icebergio.IO, s *table.Snapshot, liveOnly bool, fn func(string, fileKind)) error {
	fn(s.ManifestList, kindManifestList)
	manifests, err := s.Manifests(fsys)
	if err != nil {
		return fmt.Errorf("snapshot %d: read manifest list: %w", s.SnapshotID, err)
	}
	for _, m := range manifests {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		fn(m.FilePath(), kindManifest)
		for e, err := range m.Entries(fsys, liveOnly) {
			if err != nil {
				return fmt.Errorf("snapshot %d: read manifest %s: %w", s.SnapshotID, m.FilePath(), err)
			}
			if liveOnly && e.Status() == iceberg.EntryStatusDELETED {
				continue
			}
			fn(e.DataFile().FilePath(), kindData)
		}
	}
	return nil
}

// fileSize is the size of a file, or 0 when it cannot be learnt.
func fileSize(fsys icebergio.IO, path string) int64 {
	f, err := fsys.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0
	}
	return info.Size()
}
