// Package objects reads and writes the lake's objects by URI: source CSV
// files for ingest, rejects files, and the objects that the storage chores
// list, move, delete, count and grep.
//
// Store is the one small port every caller uses. Two adapters implement it:
// FileStore for file:///absolute/path URIs, confined to a set of allowed
// root directories, and S3Store for s3://bucket/key URIs on Amazon S3 or any
// S3-compatible server. Router dispatches a URI to the adapter for its
// scheme, so a caller holds one Store whatever the URIs it is handed.
//
// URIs are taken literally, the way the AWS CLI takes s3:// URIs: there is no
// percent-decoding, so "s3://b/a%20b.csv" names the key "a%20b.csv". ParseURI
// holds the syntax rules. Errors a caller can fix are fault kinds: a
// malformed URI or range is fault.Invalid (field "uri" or "range"), and a
// file path outside the allowed roots is fault.Denied. The file adapter
// answers every path it cannot show to be inside its roots that way,
// malformed ones ("..", relative, NUL) included, so that a caller probing
// the file system learns nothing but "not allowed". A missing object is
// ErrNotFound, wrapped with its URI.
//
// A listing yields every object as it is stored. An S3 key that ParseURI
// refuses (one holding "//" or a ".." segment, which other tools can
// write) is listed all the same, but cannot be named in a later call.
package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// URI schemes the package understands.
const (
	// SchemeFile is the scheme of local files: file:///absolute/path.
	SchemeFile = "file"
	// SchemeS3 is the scheme of S3 objects: s3://bucket/key.
	SchemeS3 = "s3"
)

// accepted is the URI forms named in every "malformed URI" error.
const accepted = "file:///absolute/path or s3://bucket/key"

// maxKeyBytes is S3's limit on the length of an object key, in bytes.
const maxKeyBytes = 1024

// ErrNotFound means that no object exists at a URI. Stores wrap it with the
// URI, so callers test for it with errors.Is.
var ErrNotFound = errors.New("object not found")

// Info describes one stored object.
type Info struct {
	// URI is the object's URI, in the form the store was asked about (for a
	// listing: the listed prefix's form, with the rest of the key appended).
	URI string
	// Size is the size of the whole object in bytes, also when only a range
	// of it was read.
	Size int64
	// ModifyTime is when the object was last written.
	ModifyTime time.Time
	// ETag identifies the object's current version: it changes when the
	// object is written again. It carries no quotes. What it is derived from
	// depends on the store (see FileStore and S3Store); compare ETags of one
	// store only.
	ETag string
}

// Range selects the bytes [Offset, Offset+Length) of an object. A Length of
// zero or less reads to the end. A range that runs past the end is cut at
// the end; an Offset equal to the object's size reads nothing, and a larger
// one is fault.Invalid.
type Range struct {
	Offset, Length int64
}

// Store reads and writes objects by URI. Implementations are safe for
// concurrent use, and every method returns ctx's error once ctx is done.
type Store interface {
	// Get opens the object at uri for reading: the whole object when r is
	// nil, else the range r. The caller must close the reader. Info.Size is
	// the size of the whole object.
	Get(ctx context.Context, uri string, r *Range) (io.ReadCloser, Info, error)
	// Head returns what is known about the object at uri without reading it.
	Head(ctx context.Context, uri string) (Info, error)
	// Put writes body to uri, streaming it, and returns the new object's
	// Info. The write is atomic: readers see the old object or the new one
	// in full, never a part, and a failed or cancelled Put leaves the old
	// object (or none) in place.
	Put(ctx context.Context, uri string, body io.Reader) (Info, error)
	// Delete removes the object at uri. Deleting an object that does not
	// exist is not an error.
	Delete(ctx context.Context, uri string) error
	// List yields every object whose URI starts with prefixURI (a string
	// prefix, as in S3: "s3://b/a/" lists the keys under a/, "s3://b/a"
	// also a.csv and ab/x), in lexical order of their URIs. It pages
	// internally. After an error, which it yields with a zero Info, the
	// sequence ends.
	List(ctx context.Context, prefixURI string) iter.Seq2[Info, error]
}

// ParseURI splits an object or prefix URI into its scheme, bucket and key,
// with strict rules:
//
//   - file:///absolute/path: no host; bucket is empty and key is the path,
//     starting with "/".
//   - s3://bucket/key: bucket is a valid S3 bucket name (3-63 characters of
//     a-z, 0-9, '.' and '-', starting and ending with a letter or digit, no
//     "..", not an IP address, not starting with "xn--" or "sthree-"); key
//     is at most 1024 bytes and is empty for s3://bucket and s3://bucket/.
//   - The URI is valid UTF-8 without control characters (NUL included), and
//     the path or key has no "." or ".." segment and no empty segment
//     ("a//b", or "s3://b//k"); a trailing "/", as in a prefix, is allowed.
//
// A URI that breaks them is a fault.Invalid for the field "uri" that names
// the URI and the forms accepted. Whether a key is required is the caller's
// business: an object needs one, a prefix does not.
func ParseURI(uri string) (scheme, bucket, key string, err error) {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return "", "", "", invalidURI(uri, "is not a URI")
	}
	if reason := textProblem(uri); reason != "" {
		return "", "", "", invalidURI(uri, reason)
	}
	switch scheme {
	case SchemeFile:
		if reason := filePathProblem(rest); reason != "" {
			return "", "", "", invalidURI(uri, reason)
		}
		return SchemeFile, "", rest, nil
	case SchemeS3:
		bucket, key, _ = strings.Cut(rest, "/")
		if reason := bucketProblem(bucket); reason != "" {
			return "", "", "", invalidURI(uri, reason)
		}
		if reason := keyProblem(key); reason != "" {
			return "", "", "", invalidURI(uri, reason)
		}
		return SchemeS3, bucket, key, nil
	default:
		return "", "", "", invalidURI(uri, fmt.Sprintf("has the unknown scheme %q", scheme))
	}
}

// invalidURI is the fault.Invalid for a malformed URI.
func invalidURI(uri, reason string) error {
	return fault.Invalid("uri", "%q %s; accepted: %s", uri, reason, accepted)
}

// textProblem says what makes s unfit for a URI, or "" when nothing does.
func textProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if r == 0 {
			return "contains a NUL byte"
		}
		if unicode.IsControl(r) {
			return fmt.Sprintf("contains the control character %U", r)
		}
	}
	return ""
}

// filePathProblem says what is wrong with the path part of a file URI (what
// follows "file://"), or "" when nothing is.
func filePathProblem(path string) string {
	if path == "" {
		return "has no path"
	}
	if path[0] != '/' {
		return "is not a file:///absolute/path (a relative path, or a host, which is not allowed)"
	}
	return segmentProblem(path[1:])
}

// keyProblem says what is wrong with an S3 key, or "" when nothing is.
func keyProblem(key string) string {
	if len(key) > maxKeyBytes {
		return fmt.Sprintf("has a key of %d bytes, longer than S3's %d", len(key), maxKeyBytes)
	}
	return segmentProblem(key)
}

// segmentProblem checks the "/"-separated segments of a relative path or
// key: none may be ".", ".." or empty, but for one trailing "/".
func segmentProblem(rel string) string {
	if rel == "" {
		return ""
	}
	trimmed := strings.TrimSuffix(rel, "/")
	if trimmed == "" {
		return "has an empty path segment (//)"
	}
	for seg := range strings.SplitSeq(trimmed, "/") {
		switch seg {
		case "":
			return "has an empty path segment (//)"
		case ".", "..":
			return fmt.Sprintf("has a %q path segment", seg)
		}
	}
	return ""
}

// bucketProblem says why name is not a valid S3 bucket name, or "" when it
// is one.
func bucketProblem(name string) string {
	if name == "" {
		return "has no bucket"
	}
	if len(name) < 3 || len(name) > 63 {
		return fmt.Sprintf("has the bucket %q, which is not 3 to 63 characters long", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '-' {
			return fmt.Sprintf("has the bucket %q; bucket names hold only a-z, 0-9, '.' and '-'", name)
		}
	}
	if !isLowerAlnum(name[0]) || !isLowerAlnum(name[len(name)-1]) {
		return fmt.Sprintf("has the bucket %q, which does not start and end with a letter or digit", name)
	}
	if strings.Contains(name, "..") {
		return fmt.Sprintf("has the bucket %q, which has two adjacent periods", name)
	}
	if net.ParseIP(name) != nil {
		return fmt.Sprintf("has the bucket %q, which is an IP address", name)
	}
	if strings.HasPrefix(name, "xn--") || strings.HasPrefix(name, "sthree-") {
		return fmt.Sprintf("has the bucket %q, which starts with a prefix S3 reserves", name)
	}
	return ""
}

func isLowerAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
}

// checkRange returns a fault.Invalid for a range no store can serve whatever
// the object: a negative offset.
func checkRange(r *Range) error {
	if r != nil && r.Offset < 0 {
		return fault.Invalid("range", "offset %d is negative", r.Offset)
	}
	return nil
}

// pastEnd is the fault.Invalid for a range that starts after the end of the
// object at uri.
func pastEnd(uri string, r *Range, size int64) error {
	return fault.Invalid("range", "offset %d is past the end of %s (%d bytes)", r.Offset, uri, size)
}

// notFound wraps ErrNotFound with the URI.
func notFound(uri string) error {
	return fmt.Errorf("%s: %w", uri, ErrNotFound)
}

// ctxReader fails its reads once ctx is done, so that a long copy stops
// when its caller gives up.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// readCloser joins a reader to what closes the source it reads.
type readCloser struct {
	io.Reader
	io.Closer
}

// errSeq is a listing that yields err and ends.
func errSeq(err error) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) { yield(Info{}, err) }
}
