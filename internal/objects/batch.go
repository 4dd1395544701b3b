package objects

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// MaxDeleteBatch is the most keys one S3 DeleteObjects call takes, and so
// the size of the batches DeleteBatch sends.
const MaxDeleteBatch = 1000

// ErrNoVersions means that a store keeps no object versions (a file system),
// so that there is nothing to list or delete but the objects themselves.
var ErrNoVersions = errors.New("the store keeps no object versions")

// ObjectError is the failure of one object in a call on many.
type ObjectError struct {
	// URI is the object's URI.
	URI string
	// Err is what went wrong; it names the URI.
	Err error
}

// Error implements error.
func (e *ObjectError) Error() string { return e.Err.Error() }

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *ObjectError) Unwrap() error { return e.Err }

// BatchDeleter is implemented by stores that delete many objects at once
// (S3's DeleteObjects). Callers use the function DeleteBatch, which falls
// back to one Delete per object for stores without it.
type BatchDeleter interface {
	// DeleteBatch deletes the objects at uris and returns one ObjectError
	// for every URI it could not delete; every other URI is deleted (or did
	// not exist). Once ctx is done the URIs not yet deleted are each
	// reported with ctx's error.
	DeleteBatch(ctx context.Context, uris []string) []ObjectError
}

// DeleteBatch deletes the objects at uris through s, in batches where s is a
// BatchDeleter, and returns one ObjectError for every URI it could not
// delete; every other URI is gone.
func DeleteBatch(ctx context.Context, s Store, uris []string) []ObjectError {
	if bd, ok := s.(BatchDeleter); ok {
		return bd.DeleteBatch(ctx, uris)
	}
	return deleteEach(ctx, s, uris)
}

// deleteEach deletes uris one Delete at a time.
func deleteEach(ctx context.Context, s Store, uris []string) []ObjectError {
	var failed []ObjectError
	for i, uri := range uris {
		if err := ctx.Err(); err != nil {
			return append(failed, failAll(uris[i:], err)...)
		}
		if err := s.Delete(ctx, uri); err != nil {
			failed = append(failed, ObjectError{URI: uri, Err: err})
		}
	}
	return failed
}

// failAll reports err, wrapped with each URI, for every one of uris.
func failAll(uris []string, err error) []ObjectError {
	out := make([]ObjectError, len(uris))
	for i, uri := range uris {
		out[i] = ObjectError{URI: uri, Err: fmt.Errorf("delete %s: %w", uri, err)}
	}
	return out
}

// Copier is implemented by stores that copy an object without streaming it
// through the caller (S3's CopyObject and UploadPartCopy). Callers use the
// function Copy, which falls back to a Get and a Put.
type Copier interface {
	// Copy copies the object at src to dst, replacing any object there, and
	// returns the new object's Info. Like Put, it is atomic: dst holds the
	// old object or the whole copy. A missing src is ErrNotFound.
	Copy(ctx context.Context, src, dst string) (Info, error)
}

// Copy copies the object at src to dst through s: with s's own Copy where s
// is a Copier, else by streaming a Get into a Put.
func Copy(ctx context.Context, s Store, src, dst string) (Info, error) {
	if c, ok := s.(Copier); ok {
		return c.Copy(ctx, src, dst)
	}
	return streamCopy(ctx, s, s, src, dst)
}

// streamCopy copies src, read from from, to dst, written to to.
func streamCopy(ctx context.Context, from, to Store, src, dst string) (Info, error) {
	if src == dst {
		return Info{}, selfCopy(src, dst)
	}
	rc, _, err := from.Get(ctx, src, nil)
	if err != nil {
		return Info{}, err
	}
	defer rc.Close()
	info, err := to.Put(ctx, dst, rc)
	if err != nil {
		return Info{}, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return info, nil
}

// selfCopy is the error of a copy of an object onto itself.
func selfCopy(src, dst string) error {
	return invalidURI(dst, fmt.Sprintf("is the copy's source (%s) itself", src))
}

// Version is one version of an object in a versioned bucket.
type Version struct {
	Info
	// VersionID identifies the version ("null" for the one written while
	// versioning was off).
	VersionID string
	// Latest says it is the current version.
	Latest bool
	// DeleteMarker says it is a delete marker, which holds no data.
	DeleteMarker bool
}

// Versioned is implemented by stores that keep versions of objects (S3).
type Versioned interface {
	// ListVersions yields every version and delete marker of the objects
	// under prefixURI (a string prefix, as in List), in key order and for
	// each key newest first. After an error the sequence ends.
	ListVersions(ctx context.Context, prefixURI string) iter.Seq2[Version, error]
	// DeleteVersions deletes the given versions for good and returns one
	// ObjectError for each it could not delete.
	DeleteVersions(ctx context.Context, versions []Version) []ObjectError
}

// ListVersions lists the versions under prefixURI through s, or yields
// ErrNoVersions when s keeps none.
func ListVersions(ctx context.Context, s Store, prefixURI string) iter.Seq2[Version, error] {
	if v, ok := s.(Versioned); ok {
		return v.ListVersions(ctx, prefixURI)
	}
	return func(yield func(Version, error) bool) {
		yield(Version{}, fmt.Errorf("list versions %s: %w", prefixURI, ErrNoVersions))
	}
}

// DeleteVersions deletes versions through s, or reports ErrNoVersions for
// each when s keeps none.
func DeleteVersions(ctx context.Context, s Store, versions []Version) []ObjectError {
	if v, ok := s.(Versioned); ok {
		return v.DeleteVersions(ctx, versions)
	}
	uris := make([]string, len(versions))
	for i, v := range versions {
		uris[i] = v.URI
	}
	return failAll(uris, ErrNoVersions)
}

// Router's batch operations.
var (
	_ BatchDeleter = (*Router)(nil)
	_ Copier       = (*Router)(nil)
	_ Versioned    = (*Router)(nil)
)

// DeleteBatch implements BatchDeleter: it hands each adapter its URIs.
func (rt *Router) DeleteBatch(ctx context.Context, uris []string) []ObjectError {
	order, byStore, failed := groupByStore(rt, uris, func(uri string) string { return uri })
	for _, s := range order {
		failed = append(failed, DeleteBatch(ctx, s, byStore[s])...)
	}
	return failed
}

// groupByStore sorts items by the adapter of their URIs, in the order the
// adapters first come, and fails the items no adapter takes.
func groupByStore[T any](rt *Router, items []T, uriOf func(T) string) ([]Store, map[Store][]T, []ObjectError) {
	var failed []ObjectError
	byStore := map[Store][]T{}
	var order []Store
	for _, item := range items {
		s, err := rt.route(uriOf(item))
		if err != nil {
			failed = append(failed, ObjectError{URI: uriOf(item), Err: err})
			continue
		}
		if _, ok := byStore[s]; !ok {
			order = append(order, s)
		}
		byStore[s] = append(byStore[s], item)
	}
	return order, byStore, failed
}

// Copy implements Copier: within one adapter with its own Copy, across
// adapters by streaming.
func (rt *Router) Copy(ctx context.Context, src, dst string) (Info, error) {
	from, err := rt.route(src)
	if err != nil {
		return Info{}, err
	}
	to, err := rt.route(dst)
	if err != nil {
		return Info{}, err
	}
	if from == to {
		return Copy(ctx, from, src, dst)
	}
	return streamCopy(ctx, from, to, src, dst)
}

// ListVersions implements Versioned.
func (rt *Router) ListVersions(ctx context.Context, prefixURI string) iter.Seq2[Version, error] {
	s, err := rt.route(prefixURI)
	if err != nil {
		return func(yield func(Version, error) bool) { yield(Version{}, err) }
	}
	return ListVersions(ctx, s, prefixURI)
}

// DeleteVersions implements Versioned.
func (rt *Router) DeleteVersions(ctx context.Context, versions []Version) []ObjectError {
	order, byStore, failed := groupByStore(rt, versions, func(v Version) string { return v.URI })
	for _, s := range order {
		failed = append(failed, DeleteVersions(ctx, s, byStore[s])...)
	}
	return failed
}

// Resolver is implemented by stores where one object can have several
// URIs (FileStore, through symlinks inside its roots). Callers that decide
// by location (governance) compare resolved URIs, with the function
// Resolve.
type Resolver interface {
	// Resolve returns the canonical URI of uri: its symlinks resolved, a
	// trailing "/" kept. A URI the store would refuse is an error.
	Resolve(ctx context.Context, uri string) (string, error)
}

// Resolve returns the canonical URI of uri through s, or uri itself when s
// has no other names for its objects.
func Resolve(ctx context.Context, s Store, uri string) (string, error) {
	if r, ok := s.(Resolver); ok {
		return r.Resolve(ctx, uri)
	}
	return uri, nil
}

var _ Resolver = (*Router)(nil)

// Resolve implements Resolver.
func (rt *Router) Resolve(ctx context.Context, uri string) (string, error) {
	s, err := rt.route(uri)
	if err != nil {
		return "", err
	}
	return Resolve(ctx, s, uri)
}
