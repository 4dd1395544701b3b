package tables

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"time"

	icebergio "github.com/apache/iceberg-go/io"

	"github.com/lakeplane/lakeplane/internal/objects"
)

// versionedStore is what the catalog needs of an object store to find,
// read and delete the old versions of a table's objects in a versioned
// bucket (objects.S3Store).
type versionedStore interface {
	objects.Versioned
	objects.VersionReader
}

// s3Versions builds, on first use, the store through which the catalog
// reaches the versions of an s3:// warehouse's objects, with the endpoint,
// region and addressing the file IO was given (see WithS3); credentials
// come from the AWS configuration chain, as the file IO's do.
type s3Versions struct {
	once  sync.Once
	store versionedStore
	err   error
}

func (v *s3Versions) get(ctx context.Context, ioProps map[string]string) (versionedStore, error) {
	v.once.Do(func() {
		opts := objects.S3Options{
			Endpoint:  ioProps["s3.endpoint"],
			Region:    ioProps["s3.region"],
			PathStyle: ioProps["s3.force-virtual-addressing"] == "false",
		}
		v.store, v.err = objects.NewS3Store(ctx, opts)
	})
	return v.store, v.err
}

// versionStore returns the store of the versions of objects under
// location, or nil when location is not in a bucket (a file:// warehouse
// keeps no versions).
func (c *Catalog) versionStore(ctx context.Context, location string) (versionedStore, error) {
	if !strings.HasPrefix(location, objects.SchemeS3+"://") {
		return nil, nil
	}
	s, err := c.versions.get(ctx, c.opts.ioProps)
	if err != nil {
		return nil, fmt.Errorf("versions under %s: %w", location, err)
	}
	return s, nil
}

// VersionStats is what PurgeVersions did.
type VersionStats struct {
	// VersionsRemoved counts the noncurrent versions deleted (each a copy
	// of an object as it was before it was removed or written over).
	VersionsRemoved int64
	BytesRemoved    int64
	// DeleteMarkersRemoved counts the delete markers deleted once no
	// version remained behind them.
	DeleteMarkersRemoved int64
}

// PurgeVersions deletes for good, in a versioned bucket, every version of
// an object under the location of the table of dataset id but the current
// ones: the data, manifests and metadata files that Expire and DeleteWhere
// removed (which a versioned bucket keeps as noncurrent versions behind a
// delete marker), then the delete markers themselves. Each key's deletion
// is checked; any failure fails the call, and the delete markers are only
// removed after every version went, so that no removed object comes back
// as current. On a file:// location, or an unversioned bucket, there is
// nothing to do.
func (c *Catalog) PurgeVersions(ctx context.Context, id string) (VersionStats, error) {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return VersionStats{}, err
	}
	store, err := c.versionStore(ctx, tbl.Location())
	if err != nil || store == nil {
		return VersionStats{}, err
	}
	var st VersionStats
	var versions, markers []objects.Version
	for v, err := range store.ListVersions(ctx, tbl.Location()+"/") {
		if err != nil {
			return st, fmt.Errorf("dataset %s: %w", id, err)
		}
		switch {
		case v.DeleteMarker:
			markers = append(markers, v)
		case !v.Latest:
			versions = append(versions, v)
			st.BytesRemoved += v.Size
		}
	}
	if err := deleteVersions(ctx, store, versions); err != nil {
		return VersionStats{}, fmt.Errorf("dataset %s: delete old versions: %w", id, err)
	}
	st.VersionsRemoved = int64(len(versions))
	if err := deleteVersions(ctx, store, markers); err != nil {
		return st, fmt.Errorf("dataset %s: delete markers: %w", id, err)
	}
	st.DeleteMarkersRemoved = int64(len(markers))
	return st, nil
}

// deleteVersions deletes versions and fails with every key's failure.
func deleteVersions(ctx context.Context, store objects.Versioned, versions []objects.Version) error {
	if len(versions) == 0 {
		return nil
	}
	failed := store.DeleteVersions(ctx, versions)
	if len(failed) == 0 {
		return nil
	}
	errs := make([]error, 0, len(failed))
	for i := range failed {
		errs = append(errs, &failed[i])
	}
	return fmt.Errorf("%d of %d not deleted: %w", len(failed), len(versions), errors.Join(errs...))
}

// maxVersionSize is the largest old version VerifyAbsent reads (in memory).
const maxVersionSize = 1 << 30

// verifyVersions searches, in a versioned bucket, every version under the
// table's location that is not current (current objects were searched as
// files) as VerifyAbsent searches a file: its bytes, and a Parquet
// version's column.
func (c *Catalog) verifyVersions(ctx context.Context, location string, search func(fsys icebergio.IO, path string) error, rep *VerifyReport) error {
	store, err := c.versionStore(ctx, location)
	if err != nil || store == nil {
		return err
	}
	for v, err := range store.ListVersions(ctx, location+"/") {
		if err != nil {
			return err
		}
		if v.Latest || v.DeleteMarker {
			continue
		}
		if v.Size > maxVersionSize {
			return fmt.Errorf("%s (version %s): %d bytes, more than the %d a verification reads", v.URI, v.VersionID, v.Size, int64(maxVersionSize))
		}
		b, err := readVersion(ctx, store, v)
		if err != nil {
			return err
		}
		if err := search(versionIO{path: v.URI, b: b, mod: v.ModifyTime}, v.URI); err != nil {
			return fmt.Errorf("%s (version %s): %w", v.URI, v.VersionID, err)
		}
		rep.VersionsScanned++
	}
	return nil
}

func readVersion(ctx context.Context, store objects.VersionReader, v objects.Version) ([]byte, error) {
	rc, _, err := store.GetVersion(ctx, v.URI, v.VersionID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxVersionSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s (version %s): %w", v.URI, v.VersionID, err)
	}
	return b, nil
}

// versionIO is the read-only file IO of one old version, held in memory,
// for the searches of VerifyAbsent.
type versionIO struct {
	path string
	b    []byte
	mod  time.Time
}

func (v versionIO) Open(name string) (icebergio.File, error) {
	if name != v.path {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &versionFile{Reader: bytes.NewReader(v.b), io: v}, nil
}

func (v versionIO) Remove(name string) error {
	return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrPermission}
}

// versionFile is an open versionIO file.
type versionFile struct {
	*bytes.Reader
	io versionIO
}

func (f *versionFile) Stat() (fs.FileInfo, error) { return versionInfo{f.io}, nil }
func (f *versionFile) Close() error               { return nil }

// versionInfo describes a versionIO file.
type versionInfo struct{ io versionIO }

func (i versionInfo) Name() string       { return i.io.path[strings.LastIndex(i.io.path, "/")+1:] }
func (i versionInfo) Size() int64        { return int64(len(i.io.b)) }
func (i versionInfo) Mode() fs.FileMode  { return 0o444 }
func (i versionInfo) ModTime() time.Time { return i.io.mod }
func (i versionInfo) IsDir() bool        { return false }
func (i versionInfo) Sys() any           { return nil }
