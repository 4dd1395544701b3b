package objects

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// FileStore is the Store for file:///absolute/path URIs, confined to a set
// of allowed root directories.
//
// Every path must lie inside one of the roots once symlinks are resolved:
// the path's longest existing prefix goes through filepath.EvalSymlinks, so
// a new file that Put would create is checked too. A path outside — through
// "..", through a symlink that leads out of a root, in a sibling directory
// that merely shares a root's name as a string prefix ("/data/landing2" for
// the root "/data/landing"), a relative path or one holding a NUL — is
// fault.Denied naming the path, and nothing there is read or written. The
// files themselves are then reached through an os.Root on the resolved root,
// so a symlink swapped in after the check still cannot lead out.
//
// Get, Head and Put follow a symlink whose target is inside the roots; Delete
// removes the symlink itself. List yields regular files, and symlinks to
// regular files inside the roots; it does not descend into symlinked
// directories, and it leaves out the temporary files of Puts in progress
// (".lakeplane-*.tmp", beside their targets), as S3 does not list uploads
// that have not completed.
//
// A FileStore's ETag is "size-mtime-inode" in hex (size in bytes, the
// modification time in Unix nanoseconds, the inode number; 0 where the
// platform has none). It costs no read of the content and changes whenever
// the file is replaced (Put renames a new file in, with a new inode) or
// written in place (its modification time moves; a same-size rewrite
// within the file system's timestamp granularity is the one case it misses).
type FileStore struct {
	roots []fileRoot
}

// fileRoot is one allowed directory.
type fileRoot struct {
	path string // as configured, cleaned
	real string // path with its symlinks resolved
}

var _ Store = (*FileStore)(nil)

// NewFileStore returns a FileStore confined to roots, which must be absolute
// paths of existing directories.
func NewFileStore(roots []string) (*FileStore, error) {
	if len(roots) == 0 {
		return nil, errors.New("objects: file store: no root directories")
	}
	s := &FileStore{}
	for _, root := range roots {
		if !filepath.IsAbs(root) {
			return nil, fmt.Errorf("objects: file store: root %q is not an absolute path", root)
		}
		clean := filepath.Clean(root)
		real, err := filepath.EvalSymlinks(clean)
		if err != nil {
			return nil, fmt.Errorf("objects: file store: root %s: %w", clean, err)
		}
		fi, err := os.Stat(real)
		if err != nil {
			return nil, fmt.Errorf("objects: file store: root %s: %w", clean, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("objects: file store: root %s is not a directory", clean)
		}
		s.roots = append(s.roots, fileRoot{path: clean, real: real})
	}
	return s, nil
}

// place is a checked location: inside root, at rel (relative to root.real,
// "." for the root itself), with no symlink in rel when it was checked.
type place struct {
	root fileRoot
	rel  string
}

// path returns the path of uri, or a fault.Denied when it is not a clean
// absolute path (nothing that is not can be shown to be inside a root). A
// URI of another scheme is a fault.Invalid.
func (s *FileStore) path(uri string) (string, error) {
	path, ok := strings.CutPrefix(uri, SchemeFile+"://")
	if !ok {
		return "", invalidURI(uri, "is not a file:// URI")
	}
	if reason := textProblem(path); reason != "" {
		return "", fault.Denied("path %q %s", path, reason)
	}
	if reason := filePathProblem(path); reason != "" {
		return "", fault.Denied("path %q %s", path, reason)
	}
	return path, nil
}

// objectPath is path for a URI that must name a file, not a directory.
func (s *FileStore) objectPath(uri string) (string, error) {
	path, err := s.path(uri)
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(path, "/") {
		return "", fault.Invalid("uri", "%q ends in \"/\": it names a directory, not a file", uri)
	}
	return path, nil
}

// confine resolves path's symlinks and returns where it lies inside the
// roots, or a fault.Denied naming path.
func (s *FileStore) confine(path string) (place, error) {
	return s.confineAs(path, path)
}

// confineAs is confine for a path that the caller knows as name (a listed
// prefix, whose directory is what is checked).
func (s *FileStore) confineAs(path, name string) (place, error) {
	real, err := resolveExisting(filepath.Clean(path))
	if err != nil {
		return place{}, fault.Denied("path %q cannot be resolved: %v", name, err)
	}
	if p, ok := s.within(real); ok {
		return p, nil
	}
	return place{}, fault.Denied("path %q is outside the directories this server may use", name)
}

// within returns the place of real, a symlink-free absolute path, in the
// first root that holds it.
func (s *FileStore) within(real string) (place, bool) {
	for _, root := range s.roots {
		if real == root.real {
			return place{root: root, rel: "."}, true
		}
		prefix := root.real
		if !strings.HasSuffix(prefix, string(filepath.Separator)) {
			prefix += string(filepath.Separator)
		}
		if rel, ok := strings.CutPrefix(real, prefix); ok {
			return place{root: root, rel: rel}, true
		}
	}
	return place{}, false
}

// resolveExisting resolves the symlinks of path's longest existing prefix
// and appends the rest, which does not exist yet and so holds none.
func resolveExisting(path string) (string, error) {
	var missing []string
	for {
		_, err := os.Lstat(path)
		if err == nil {
			real, err := filepath.EvalSymlinks(path)
			if err != nil {
				return "", err
			}
			slices.Reverse(missing)
			return filepath.Join(append([]string{real}, missing...)...), nil
		}
		if !isMissing(err) {
			return "", err
		}
		parent := filepath.Dir(path)
		if parent == path {
			return "", err
		}
		missing = append(missing, filepath.Base(path))
		path = parent
	}
}

// isMissing reports whether err says that a path does not exist, also
// because one of its parents is a file.
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// openRoot is the start of every call on one file: it checks ctx and uri,
// which must name a file, and opens the root holding it. The caller closes
// the root.
func (s *FileStore) openRoot(ctx context.Context, op, uri string) (*os.Root, place, error) {
	if err := ctx.Err(); err != nil {
		return nil, place{}, fmt.Errorf("%s %s: %w", op, uri, err)
	}
	path, err := s.objectPath(uri)
	if err != nil {
		return nil, place{}, err
	}
	p, err := s.confine(path)
	if err != nil {
		return nil, place{}, err
	}
	root, err := os.OpenRoot(p.root.real)
	if err != nil {
		return nil, place{}, fmt.Errorf("%s %s: %w", op, uri, err)
	}
	return root, p, nil
}

// Get implements Store.
func (s *FileStore) Get(ctx context.Context, uri string, r *Range) (io.ReadCloser, Info, error) {
	if err := checkRange(r); err != nil {
		return nil, Info{}, err
	}
	root, p, err := s.openRoot(ctx, "get", uri)
	if err != nil {
		return nil, Info{}, err
	}
	defer root.Close()
	f, err := root.Open(p.rel)
	if err != nil {
		if isMissing(err) {
			return nil, Info{}, notFound(uri)
		}
		return nil, Info{}, fmt.Errorf("get %s: %w", uri, err)
	}
	info, err := regularInfo(uri, f.Stat)
	if err != nil {
		f.Close()
		return nil, Info{}, err
	}
	var body io.Reader = f
	if r != nil {
		if r.Offset > info.Size {
			f.Close()
			return nil, Info{}, pastEnd(uri, r, info.Size)
		}
		if _, err := f.Seek(r.Offset, io.SeekStart); err != nil {
			f.Close()
			return nil, Info{}, fmt.Errorf("get %s: %w", uri, err)
		}
		if r.Length > 0 {
			body = io.LimitReader(f, r.Length)
		}
	}
	return readCloser{Reader: ctxReader{ctx: ctx, r: body}, Closer: f}, info, nil
}

// regularInfo stats with stat and returns the Info of the regular file at
// uri; anything else (a directory, a device) is not an object.
func regularInfo(uri string, stat func() (fs.FileInfo, error)) (Info, error) {
	fi, err := stat()
	if err != nil {
		if isMissing(err) {
			return Info{}, notFound(uri)
		}
		return Info{}, fmt.Errorf("stat %s: %w", uri, err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, fmt.Errorf("%s: %w (it is a %s, not a file)", uri, ErrNotFound, kind(fi.Mode()))
	}
	return fileInfo(uri, fi), nil
}

// kind names a file mode's type for error messages.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	default:
		return "special file"
	}
}

// fileInfo is the Info of a regular file.
func fileInfo(uri string, fi fs.FileInfo) Info {
	return Info{
		URI:        uri,
		Size:       fi.Size(),
		ModifyTime: fi.ModTime(),
		ETag:       fmt.Sprintf("%x-%x-%x", fi.Size(), uint64(fi.ModTime().UnixNano()), inode(fi)),
	}
}

// Head implements Store.
func (s *FileStore) Head(ctx context.Context, uri string) (Info, error) {
	root, p, err := s.openRoot(ctx, "head", uri)
	if err != nil {
		return Info{}, err
	}
	defer root.Close()
	return regularInfo(uri, func() (fs.FileInfo, error) { return root.Stat(p.rel) })
}

// Put implements Store. It writes a temporary file in the target's
// directory (creating the directories it needs), syncs it and renames it
// over the target.
func (s *FileStore) Put(ctx context.Context, uri string, body io.Reader) (Info, error) {
	root, p, err := s.openRoot(ctx, "put", uri)
	if err != nil {
		return Info{}, err
	}
	defer root.Close()
	if fi, err := root.Lstat(p.rel); err == nil && fi.IsDir() {
		return Info{}, fault.Invalid("uri", "%q is a directory, not a file", uri)
	}
	dir := filepath.Dir(p.rel)
	if err := root.MkdirAll(dir, 0o777); err != nil {
		return Info{}, fmt.Errorf("put %s: %w", uri, err)
	}
	tmp := filepath.Join(dir, tempPrefix+rand.Text()+tempSuffix)
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return Info{}, fmt.Errorf("put %s: %w", uri, err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			root.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx: ctx, r: body}); err != nil {
		return Info{}, fmt.Errorf("put %s: %w", uri, err)
	}
	if err := f.Sync(); err != nil {
		return Info{}, fmt.Errorf("put %s: %w", uri, err)
	}
	// The file's own Info: a rename keeps size, mtime and inode, and the
	// target may be replaced again before we could stat it there.
	info, err := regularInfo(uri, f.Stat)
	if err != nil {
		return Info{}, err
	}
	if err := f.Close(); err != nil {
		return Info{}, fmt.Errorf("put %s: %w", uri, err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("put %s: %w", uri, err)
	}
	if err := root.Rename(tmp, p.rel); err != nil {
		return Info{}, fmt.Errorf("put %s: %w", uri, err)
	}
	committed = true
	syncDir(root, dir)
	return info, nil
}

// The name of a Put's temporary file is tempPrefix, a random part and
// tempSuffix. List leaves these files out.
const (
	tempPrefix = ".lakeplane-"
	tempSuffix = ".tmp"
)

// isTemp reports whether name is that of a Put's temporary file.
func isTemp(name string) bool {
	return strings.HasPrefix(name, tempPrefix) && strings.HasSuffix(name, tempSuffix)
}

// syncDir makes a rename in dir durable. It is best effort: the new file is
// in place already, so a failure here is no reason to fail the Put.
func syncDir(root *os.Root, dir string) {
	d, err := root.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// Delete implements Store. It removes a symlink itself, not its target.
func (s *FileStore) Delete(ctx context.Context, uri string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", uri, err)
	}
	path, err := s.objectPath(uri)
	if err != nil {
		return err
	}
	// Refuse a path that leads outside, even when only the last step (a
	// symlink) does, like every other method.
	if _, err := s.confine(path); err != nil {
		return err
	}
	parent, err := s.confineAs(filepath.Dir(path), path)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(parent.root.real)
	if err != nil {
		return fmt.Errorf("delete %s: %w", uri, err)
	}
	defer root.Close()
	entry := filepath.Join(parent.rel, filepath.Base(path))
	fi, err := root.Lstat(entry)
	switch {
	case isMissing(err):
		return nil
	case err != nil:
		return fmt.Errorf("delete %s: %w", uri, err)
	case fi.IsDir():
		return fault.Invalid("uri", "%q is a directory, not a file", uri)
	}
	if err := root.Remove(entry); err != nil && !isMissing(err) {
		return fmt.Errorf("delete %s: %w", uri, err)
	}
	return nil
}

// List implements Store. It reads each directory whole, sorts it and walks
// it depth first, which yields the files in lexical order of their paths.
func (s *FileStore) List(ctx context.Context, prefixURI string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(Info{}, fmt.Errorf("list %s: %w", prefixURI, err))
			return
		}
		prefix, err := s.path(prefixURI)
		if err != nil {
			yield(Info{}, err)
			return
		}
		// The directory to walk and the prefix its entries' names must have.
		dir, namePrefix := prefix, ""
		if !strings.HasSuffix(prefix, "/") {
			dir, namePrefix = filepath.Dir(prefix), filepath.Base(prefix)
		}
		p, err := s.confineAs(dir, prefix)
		if err != nil {
			// A root named without its trailing slash: its parent is out of
			// bounds, but everything inside it that the prefix matches is in.
			rootPlace, rootErr := s.confine(prefix)
			if rootErr != nil || rootPlace.rel != "." {
				yield(Info{}, err)
				return
			}
			p, dir, namePrefix = rootPlace, prefix, ""
		}
		root, err := os.OpenRoot(p.root.real)
		if err != nil {
			yield(Info{}, fmt.Errorf("list %s: %w", prefixURI, err))
			return
		}
		defer root.Close()
		w := fileWalker{ctx: ctx, store: s, root: root, realRoot: p.root.real, prefixURI: prefixURI, yield: yield}
		w.walk(p.rel, dir, namePrefix)
	}
}

// fileWalker walks one directory tree of a List.
type fileWalker struct {
	ctx       context.Context
	store     *FileStore
	root      *os.Root
	realRoot  string
	prefixURI string
	yield     func(Info, error) bool
}

// walk yields the files under rel (relative to the root) whose names start
// with namePrefix, and everything beneath the directories that do; litDir
// is rel's path as the caller wrote it. It returns false when the listing
// must stop.
func (w *fileWalker) walk(rel, litDir, namePrefix string) bool {
	if err := w.ctx.Err(); err != nil {
		return w.fail(err)
	}
	d, err := w.root.Open(rel)
	if err != nil {
		if isMissing(err) {
			return true
		}
		return w.fail(err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		if isMissing(err) {
			return true
		}
		return w.fail(err)
	}
	entries = slices.DeleteFunc(entries, func(e fs.DirEntry) bool {
		return !strings.HasPrefix(e.Name(), namePrefix) || (!e.IsDir() && isTemp(e.Name()))
	})
	// A directory's files all sort as name + "/" + ..., so ordering
	// directories by name + "/" orders the whole walk lexically.
	sortKey := func(e fs.DirEntry) string {
		if e.IsDir() {
			return e.Name() + "/"
		}
		return e.Name()
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return cmp.Compare(sortKey(a), sortKey(b)) })
	for _, e := range entries {
		if err := w.ctx.Err(); err != nil {
			return w.fail(err)
		}
		sub := filepath.Join(rel, e.Name())
		lit := strings.TrimSuffix(litDir, "/") + "/" + e.Name()
		var fi fs.FileInfo
		switch {
		case e.IsDir():
			if !w.walk(sub, lit, "") {
				return false
			}
			continue
		case e.Type().IsRegular():
			fi, err = e.Info()
		case e.Type()&fs.ModeSymlink != 0:
			fi, err = w.symlinkTarget(sub)
		default:
			continue // devices, sockets, pipes: not objects
		}
		if err != nil {
			if isMissing(err) {
				continue // removed while we walked
			}
			return w.fail(err)
		}
		if fi == nil || !fi.Mode().IsRegular() {
			continue
		}
		if !w.yield(fileInfo(SchemeFile+"://"+lit, fi), nil) {
			return false
		}
	}
	return true
}

// symlinkTarget stats the target of the symlink at rel when it is inside the
// roots, and returns nil when it is not.
func (w *fileWalker) symlinkTarget(rel string) (fs.FileInfo, error) {
	real, err := filepath.EvalSymlinks(filepath.Join(w.realRoot, rel))
	if err != nil {
		if isMissing(err) {
			return nil, nil // dangling
		}
		return nil, err
	}
	if _, ok := w.store.within(real); !ok {
		return nil, nil
	}
	return os.Stat(real)
}

// fail yields err, wrapped with the listed prefix, and stops the walk.
func (w *fileWalker) fail(err error) bool {
	w.yield(Info{}, fmt.Errorf("list %s: %w", w.prefixURI, err))
	return false
}

var _ Resolver = (*FileStore)(nil)

// Resolve implements Resolver: the path with its symlinks resolved, which
// must lie inside the roots (else fault.Denied, like every method).
func (s *FileStore) Resolve(ctx context.Context, uri string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("resolve %s: %w", uri, err)
	}
	path, err := s.path(uri)
	if err != nil {
		return "", err
	}
	p, err := s.confine(path)
	if err != nil {
		return "", err
	}
	real := filepath.Join(p.root.real, p.rel)
	if strings.HasSuffix(path, "/") && real != "/" {
		real += "/"
	}
	return SchemeFile + "://" + real, nil
}
