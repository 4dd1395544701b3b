package storage

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/store"
)

// batchSize is the number of objects deleted or moved per round: one S3
// DeleteObjects call.
const batchSize = objects.MaxDeleteBatch

// ListPage is one page of a listing.
type ListPage struct {
	Objects       []objects.Info
	NextPageToken string
}

// List returns a page of the objects prefixURI names: with raw, every
// object whose URI starts with prefixURI; else the object prefixURI names
// and those under it as a folder. The page token is the last URI of the
// page before, so that a page is found again after objects change.
func (s *Service) List(ctx context.Context, prefixURI string, raw bool, pageSize int, pageToken string) (ListPage, error) {
	t, err := parseTarget("prefixUri", prefixURI)
	if err != nil {
		return ListPage{}, err
	}
	if pageSize < 0 {
		return ListPage{}, fault.Invalid("pageSize", "must not be negative")
	}
	size := store.NormalizePageSize(pageSize)
	var after string
	if pageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(pageToken)
		if err != nil || !strings.HasPrefix(string(b), "a:") {
			return ListPage{}, fault.Invalid("pageToken", "is not a token this listing issued")
		}
		after = string(b[2:])
	}
	listed := t.listPrefix()
	if raw {
		listed = prefixURI
	}
	var page ListPage
	for info, err := range s.store.List(ctx, listed) {
		if err != nil {
			return ListPage{}, err
		}
		if info.URI <= after || (!raw && !t.contains(info.URI)) {
			continue
		}
		if len(page.Objects) == size {
			page.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte("a:" + page.Objects[size-1].URI))
			break
		}
		page.Objects = append(page.Objects, info)
	}
	return page, nil
}

// DeleteResult counts what a delete removed (or would remove).
type DeleteResult struct {
	ObjectsDeleted int64
	BytesDeleted   int64
	// Errors are the objects that could not be deleted (at most 1000).
	Errors []ObjectError
}

// DeletePrefix deletes every object uri names (see List), in batches of
// 1,000 keys, and reports each key that failed. With dryRun it deletes
// nothing and counts what it would. With allVersions it deletes every
// version and delete marker on a versioned bucket too; a store without
// versions (file://) deletes the objects alone. The warehouse root and any
// live dataset's table location are refused.
func (s *Service) DeletePrefix(ctx context.Context, uri string, dryRun, allVersions bool) (DeleteResult, error) {
	t, err := parseTarget("uri", uri)
	if err != nil {
		return DeleteResult{}, err
	}
	if _, err := s.guardWrite(ctx, "uri", t); err != nil {
		return DeleteResult{}, err
	}
	if allVersions {
		res, err := s.deleteVersions(ctx, t, dryRun)
		if !errors.Is(err, objects.ErrNoVersions) {
			return res, err
		}
	}
	var res DeleteResult
	batch := make([]objects.Info, 0, batchSize)
	flush := func() {
		if dryRun {
			for _, info := range batch {
				res.ObjectsDeleted++
				res.BytesDeleted += info.Size
			}
		} else {
			res.add(batch, objects.DeleteBatch(ctx, s.store, uris(batch)))
		}
		batch = batch[:0]
	}
	for info, err := range s.store.List(ctx, t.listPrefix()) {
		if err != nil {
			return res, err
		}
		if !t.contains(info.URI) {
			continue
		}
		batch = append(batch, info)
		if len(batch) == batchSize {
			flush()
		}
	}
	flush()
	return res, ctx.Err()
}

// add counts the objects of batch that did not fail.
func (r *DeleteResult) add(batch []objects.Info, failed []objects.ObjectError) {
	bad := make(map[string]bool, len(failed))
	for _, f := range failed {
		bad[f.URI] = true
	}
	for _, info := range batch {
		if !bad[info.URI] {
			r.ObjectsDeleted++
			r.BytesDeleted += info.Size
		}
	}
	r.Errors = report(r.Errors, failed)
}

// deleteVersions is DeletePrefix over every version; it returns an error
// wrapping objects.ErrNoVersions, having done nothing, when the store
// keeps no versions.
func (s *Service) deleteVersions(ctx context.Context, t target, dryRun bool) (DeleteResult, error) {
	var res DeleteResult
	batch := make([]objects.Version, 0, batchSize)
	flush := func() {
		failed := map[string]bool{}
		if !dryRun {
			fs := objects.DeleteVersions(ctx, s.store, batch)
			for _, f := range fs {
				failed[f.URI] = true
			}
			res.Errors = report(res.Errors, fs)
		}
		for _, v := range batch {
			if !v.DeleteMarker && !failed[v.URI] {
				res.ObjectsDeleted++
				res.BytesDeleted += v.Size
			}
		}
		batch = batch[:0]
	}
	for v, err := range objects.ListVersions(ctx, s.store, t.listPrefix()) {
		if err != nil {
			return res, err
		}
		if !t.contains(v.URI) {
			continue
		}
		batch = append(batch, v)
		if len(batch) == batchSize {
			flush()
		}
	}
	flush()
	return res, ctx.Err()
}

// uris returns the URIs of infos.
func uris(infos []objects.Info) []string {
	out := make([]string, len(infos))
	for i, info := range infos {
		out[i] = info.URI
	}
	return out
}

// MoveResult counts what moved.
type MoveResult struct {
	ObjectsMoved int64
	BytesMoved   int64
	// Errors are the objects that did not move (at most 1000). A move stops
	// at the first round with a failure; what moved before stays moved.
	Errors []ObjectError
}

// Move moves the object src to dst (into it when dst ends in "/"), or,
// when src ends in "/", every object under src to the same relative key
// under dst, which must end in "/" too. Each object is copied, the copy is
// confirmed (its size checked), and only then is the source deleted;
// exactly the keys copied are deleted, never a sibling sharing their
// prefix. A failure stops the move after the round it happened in, and the
// result says what moved. Neither side may touch the warehouse root or a
// live dataset's table location.
func (s *Service) Move(ctx context.Context, src, dst string) (MoveResult, error) {
	from, err := parseTarget("sourceUri", src)
	if err != nil {
		return MoveResult{}, err
	}
	to, err := parseTarget("destinationUri", dst)
	if err != nil {
		return MoveResult{}, err
	}
	if from.folder && !to.folder {
		return MoveResult{}, fault.Invalid("destinationUri", "%q must end in \"/\" to receive the folder %s", dst, src)
	}
	if to.folder && !from.folder {
		to = target{uri: to.base + "/" + path.Base(from.base), base: to.base + "/" + path.Base(from.base)}
	}
	if to.within(from.base) {
		return MoveResult{}, fault.Invalid("destinationUri", "%q lies inside the source %s", dst, src)
	}
	g, err := s.guardWrite(ctx, "sourceUri", from)
	if err != nil {
		return MoveResult{}, err
	}
	if _, err := s.guardWrite(ctx, "destinationUri", to); err != nil {
		return MoveResult{}, err
	}
	if !from.folder {
		return s.moveOne(ctx, g, from, to)
	}
	var res MoveResult
	batch := make([]objects.Info, 0, batchSize)
	for info, err := range s.store.List(ctx, from.listPrefix()) {
		if err != nil {
			return res, err
		}
		batch = append(batch, info)
		if len(batch) == batchSize {
			if !s.moveBatch(ctx, g, from, to, batch, &res) {
				return res, nil
			}
			batch = batch[:0]
		}
	}
	s.moveBatch(ctx, g, from, to, batch, &res)
	return res, ctx.Err()
}

// moveOne moves a single object; a failure is the call's error.
func (s *Service) moveOne(ctx context.Context, g *writeGuard, from, to target) (MoveResult, error) {
	info, err := s.store.Head(ctx, from.base)
	if errors.Is(err, objects.ErrNotFound) {
		for range s.store.List(ctx, from.base+"/") {
			return MoveResult{}, fault.Invalid("sourceUri", "%q names a folder, not an object; end it with \"/\" to move the folder", from.uri)
		}
	}
	if err != nil {
		return MoveResult{}, err
	}
	if err := s.copyConfirmed(ctx, g, info, to.base); err != nil {
		return MoveResult{}, err
	}
	if err := s.store.Delete(ctx, info.URI); err != nil {
		return MoveResult{}, fmt.Errorf("move %s: copied to %s, but deleting the source failed: %w", info.URI, to.base, err)
	}
	return MoveResult{ObjectsMoved: 1, BytesMoved: info.Size}, nil
}

// copyConfirmed copies the object info describes to dst and confirms the
// copy: it exists with the source's size.
func (s *Service) copyConfirmed(ctx context.Context, g *writeGuard, info objects.Info, dst string) error {
	if err := g.object(ctx, info.URI); err != nil {
		return err
	}
	if _, err := objects.Copy(ctx, s.store, info.URI, dst); err != nil {
		return err
	}
	got, err := s.store.Head(ctx, dst)
	if err != nil {
		return fmt.Errorf("move %s: confirm the copy %s: %w", info.URI, dst, err)
	}
	if got.Size != info.Size {
		return fmt.Errorf("move %s: the copy %s holds %d bytes, the source %d", info.URI, dst, got.Size, info.Size)
	}
	return nil
}

// moveBatch copies batch a few objects at a time, deletes the sources of
// the confirmed copies, and adds to res. It returns false when anything
// failed, which ends the move.
func (s *Service) moveBatch(ctx context.Context, g *writeGuard, from, to target, batch []objects.Info, res *MoveResult) bool {
	if len(batch) == 0 {
		return true
	}
	copied := make([]bool, len(batch))
	failures := make([]error, len(batch))
	sem := make(chan struct{}, s.parallelism)
	var wg sync.WaitGroup
	for i, info := range batch {
		if ctx.Err() != nil {
			failures[i] = fmt.Errorf("move %s: %w", info.URI, ctx.Err())
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			dst := to.base + "/" + strings.TrimPrefix(info.URI, from.base+"/")
			if err := s.copyConfirmed(ctx, g, info, dst); err != nil {
				failures[i] = err
				return
			}
			copied[i] = true
		})
	}
	wg.Wait()
	var done []objects.Info
	var failed []objects.ObjectError
	for i, info := range batch {
		if copied[i] {
			done = append(done, info)
		} else {
			failed = append(failed, objects.ObjectError{URI: info.URI, Err: failures[i]})
		}
	}
	// Exactly the sources whose copies were confirmed, and nothing else.
	delFailed := objects.DeleteBatch(ctx, s.store, uris(done))
	bad := map[string]bool{}
	for _, f := range delFailed {
		bad[f.URI] = true
		failed = append(failed, objects.ObjectError{URI: f.URI, Err: fmt.Errorf("copied, but the source stays: %w", f.Err)})
	}
	for _, info := range done {
		if !bad[info.URI] {
			res.ObjectsMoved++
			res.BytesMoved += info.Size
		}
	}
	res.Errors = report(res.Errors, failed)
	return len(failed) == 0
}
