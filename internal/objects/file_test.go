package objects_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
)

func TestFileStore(t *testing.T) {
	root := t.TempDir()
	s := newFileStore(t, root)
	objectstest.RunStoreTests(t, s, "file://"+filepath.ToSlash(root)+"/")
}

// newFileStore returns a FileStore on roots and fails the test if it
// cannot.
func newFileStore(t *testing.T, roots ...string) *objects.FileStore {
	t.Helper()
	s, err := objects.NewFileStore(roots)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// confinedLayout builds, under a temporary directory:
//
//	landing/            the one root
//	landing/ok.csv
//	landing/inner       -> ok.csv (inside the root)
//	landing/out         -> ../outside (a directory outside)
//	landing/secret      -> ../outside/secret.csv
//	landing2/x.csv      a sibling that shares the root's name as a prefix
//	outside/secret.csv
func confinedLayout(t *testing.T) (dir, landing string) {
	t.Helper()
	dir = t.TempDir()
	landing = filepath.Join(dir, "landing")
	for _, d := range []string{"landing", "landing2", "outside"} {
		mustMkdir(t, filepath.Join(dir, d))
	}
	mustWrite(t, filepath.Join(landing, "ok.csv"), "ok\n")
	mustWrite(t, filepath.Join(dir, "landing2", "x.csv"), "sibling\n")
	mustWrite(t, filepath.Join(dir, "outside", "secret.csv"), "secret\n")
	mustSymlink(t, "ok.csv", filepath.Join(landing, "inner"))
	mustSymlink(t, "../outside", filepath.Join(landing, "out"))
	mustSymlink(t, filepath.Join(dir, "outside", "secret.csv"), filepath.Join(landing, "secret"))
	return dir, landing
}

func TestFileStoreConfinement(t *testing.T) {
	dir, landing := confinedLayout(t)
	s := newFileStore(t, landing)
	before := snapshot(t, dir)
	for name, path := range map[string]string{
		"dot-dot":                 landing + "/../outside/secret.csv",
		"dot-dot deeper":          landing + "/a/../../outside/new.csv",
		"dot-dot at the end":      landing + "/..",
		"symlinked dir out":       landing + "/out/secret.csv",
		"new file via dir out":    landing + "/out/new.csv",
		"symlinked file out":      landing + "/secret",
		"sibling with prefix":     dir + "/landing2/x.csv",
		"new file in sibling":     dir + "/landing2/new.csv",
		"plainly outside":         dir + "/outside/secret.csv",
		"the root's parent":       dir,
		"relative":                "landing/ok.csv",
		"relative dot":            "./ok.csv",
		"relative dot-dot":        "../outside/secret.csv",
		"host":                    "localhost" + landing + "/ok.csv",
		"empty":                   "",
		"NUL":                     landing + "/ok.csv\x00.txt",
		"NUL in a directory name": landing + "/a\x00b/new.csv",
		"dot segment":             landing + "/./ok.csv",
		"empty segment":           landing + "//ok.csv",
	} {
		uri := "file://" + path
		check := func(op, path string, err error) {
			t.Helper()
			wantPath := fmt.Sprintf("%q", path)
			switch {
			case !errors.Is(err, fault.ErrPermissionDenied):
				t.Errorf("%s: %s(%q) error = %v, want permission denied", name, op, uri, err)
			case len(fault.FieldErrors(err)) > 0:
				t.Errorf("%s: %s(%q) error = %v also carries a field error, which the edge would map to INVALID_ARGUMENT", name, op, uri, err)
			case !strings.Contains(err.Error(), wantPath):
				t.Errorf("%s: %s(%q) error = %q, want it to name the path %s", name, op, uri, err, wantPath)
			}
		}
		rc, _, err := s.Get(t.Context(), uri, nil)
		if err == nil {
			rc.Close()
		}
		check("Get", path, err)
		_, err = s.Head(t.Context(), uri)
		check("Head", path, err)
		_, err = s.Put(t.Context(), uri, strings.NewReader("planted\n"))
		check("Put", path, err)
		check("Delete", path, s.Delete(t.Context(), uri))
		for _, prefix := range []string{path, path + "/"} {
			var listErr error
			for info, err := range s.List(t.Context(), "file://"+prefix) {
				if err != nil {
					listErr = err
					break
				}
				t.Errorf("%s: List(%q) yielded %s", name, prefix, info.URI)
			}
			if name == "symlinked file out" && prefix == path {
				// As a prefix without a slash it is a filter on the names in
				// landing/, which is inside: a listing, but one that skips
				// the symlink that leads out (checked above).
				if listErr != nil {
					t.Errorf("%s: List(%q): %v", name, prefix, listErr)
				}
				continue
			}
			check("List", prefix, listErr)
		}
	}
	if after := snapshot(t, dir); !slices.Equal(before, after) {
		t.Errorf("the refused calls changed the files:\nbefore %q\nafter  %q", before, after)
	}
}

func TestFileStoreSymlinkInsideRoot(t *testing.T) {
	_, landing := confinedLayout(t)
	s := newFileStore(t, landing)
	inner := "file://" + landing + "/inner"
	got, _ := objectstest.Get(t, s, inner, nil)
	if string(got) != "ok\n" {
		t.Errorf("Get through a symlink inside the root = %q, want %q", got, "ok\n")
	}
	// A listing shows the file and the symlink to it, and nothing that
	// leads out.
	want := []string{inner, "file://" + landing + "/ok.csv"}
	if got := objectstest.URIs(objectstest.List(t, s, "file://"+landing+"/")); !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	// Delete removes the symlink, not the file it points to.
	if err := s.Delete(t.Context(), inner); err != nil {
		t.Fatalf("Delete(%s): %v", inner, err)
	}
	if _, err := os.Lstat(filepath.Join(landing, "inner")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the symlink is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(landing, "ok.csv")); err != nil {
		t.Errorf("deleting the symlink removed its target: %v", err)
	}
}

func TestFileStoreSymlinkedRoot(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	mustMkdir(t, real)
	link := filepath.Join(dir, "link")
	mustSymlink(t, real, link)
	s := newFileStore(t, link)
	objectstest.Put(t, s, "file://"+link+"/a/x.csv", []byte("x"))
	if b, err := os.ReadFile(filepath.Join(real, "a", "x.csv")); err != nil || string(b) != "x" {
		t.Errorf("file under the real root = %q, %v", b, err)
	}
	// Either spelling of the root is inside it; a listing keeps the one
	// it was asked with.
	for _, root := range []string{link, real} {
		want := []string{"file://" + root + "/a/x.csv"}
		if got := objectstest.URIs(objectstest.List(t, s, "file://"+root+"/")); !slices.Equal(got, want) {
			t.Errorf("List(%s/) = %q, want %q", root, got, want)
		}
	}
}

func TestFileStoreListRootWithoutSlash(t *testing.T) {
	_, landing := confinedLayout(t)
	s := newFileStore(t, landing)
	// As a string prefix "landing" also matches landing2/, but that is
	// outside the root and stays unlisted.
	want := []string{"file://" + landing + "/inner", "file://" + landing + "/ok.csv"}
	if got := objectstest.URIs(objectstest.List(t, s, "file://"+landing)); !slices.Equal(got, want) {
		t.Errorf("List(%s) = %q, want %q", landing, got, want)
	}
}

func TestFileStoreMultipleRoots(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	mustMkdir(t, a)
	mustMkdir(t, b)
	s := newFileStore(t, a, b)
	objectstest.Put(t, s, "file://"+a+"/1.csv", []byte("1"))
	objectstest.Put(t, s, "file://"+b+"/2.csv", []byte("2"))
	if _, err := s.Put(t.Context(), "file://"+dir+"/c/3.csv", strings.NewReader("3")); !errors.Is(err, fault.ErrPermissionDenied) {
		t.Errorf("Put outside both roots: %v, want permission denied", err)
	}
}

func TestFileStoreDirectoryIsNotAnObject(t *testing.T) {
	root := t.TempDir()
	mustMkdir(t, filepath.Join(root, "dir"))
	s := newFileStore(t, root)
	for _, uri := range []string{"file://" + root + "/dir", "file://" + root} {
		if _, err := s.Head(t.Context(), uri); !errors.Is(err, objects.ErrNotFound) {
			t.Errorf("Head(%s) of a directory: %v, want ErrNotFound", uri, err)
		}
		rc, _, err := s.Get(t.Context(), uri, nil)
		if err == nil {
			rc.Close()
		}
		if !errors.Is(err, objects.ErrNotFound) {
			t.Errorf("Get(%s) of a directory: %v, want ErrNotFound", uri, err)
		}
		if _, err := s.Put(t.Context(), uri, strings.NewReader("x")); len(fault.FieldErrors(err)) != 1 {
			t.Errorf("Put(%s) over a directory: %v, want fault.Invalid", uri, err)
		}
	}
	// A directory is not deleted as an object; the root, whose entry is in
	// a directory outside, not at all.
	if err := s.Delete(t.Context(), "file://"+root+"/dir"); len(fault.FieldErrors(err)) != 1 {
		t.Errorf("Delete of a directory: %v, want fault.Invalid", err)
	}
	if err := s.Delete(t.Context(), "file://"+root); !errors.Is(err, fault.ErrPermissionDenied) {
		t.Errorf("Delete of the root: %v, want permission denied", err)
	}
	uri := "file://" + root + "/dir/"
	if _, err := s.Head(t.Context(), uri); len(fault.FieldErrors(err)) != 1 {
		t.Errorf("Head(%s): %v, want fault.Invalid for a URI ending in /", uri, err)
	}
	if _, err := os.Stat(filepath.Join(root, "dir")); err != nil {
		t.Errorf("the directory is gone: %v", err)
	}
}

func TestFileStoreWrongScheme(t *testing.T) {
	s := newFileStore(t, t.TempDir())
	_, err := s.Head(t.Context(), "s3://lake/k.csv")
	if fe := fault.FieldErrors(err); len(fe) != 1 || fe[0].Field != "uri" {
		t.Errorf("Head(s3://...) on the file store: %v, want fault.Invalid for uri", err)
	}
}

func TestFileStorePutLeavesNoTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	s := newFileStore(t, root)
	objectstest.Put(t, s, "file://"+root+"/d/ok.csv", []byte("ok"))
	if _, err := s.Put(t.Context(), "file://"+root+"/d/bad.csv", failingReader{}); err == nil {
		t.Fatal("Put of a failing body succeeded")
	}
	entries, err := os.ReadDir(filepath.Join(root, "d"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"ok.csv"}) {
		t.Errorf("directory holds %q, want only ok.csv", names)
	}
}

func TestFileStoreListSkipsPutsInProgress(t *testing.T) {
	root := t.TempDir()
	s := newFileStore(t, root)
	objectstest.Put(t, s, "file://"+root+"/a.csv", []byte("a"))
	mustWrite(t, filepath.Join(root, ".lakeplane-INPROGRESS.tmp"), "half")
	mustWrite(t, filepath.Join(root, ".hidden.csv"), "mine")
	want := []string{"file://" + root + "/.hidden.csv", "file://" + root + "/a.csv"}
	if got := objectstest.URIs(objectstest.List(t, s, "file://"+root+"/")); !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestFileStoreETagIsContentFree(t *testing.T) {
	root := t.TempDir()
	s := newFileStore(t, root)
	uri := "file://" + root + "/e.csv"
	first := objectstest.Put(t, s, uri, []byte("same"))
	second := objectstest.Put(t, s, uri, []byte("same"))
	// Same content, but a new file: the tag rests on the file, not the bytes.
	if first.ETag == second.ETag {
		t.Errorf("rewriting the file kept the ETag %q", first.ETag)
	}
	if parts := strings.Split(second.ETag, "-"); len(parts) != 3 || parts[0] != "4" {
		t.Errorf("ETag %q, want size-mtime-inode in hex", second.ETag)
	}
}

func TestNewFileStoreRefusesBadRoots(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	mustWrite(t, file, "x")
	for name, roots := range map[string][]string{
		"none":        nil,
		"relative":    {"landing"},
		"missing":     {filepath.Join(dir, "missing")},
		"not a dir":   {file},
		"one bad one": {dir, "rel"},
	} {
		if _, err := objects.NewFileStore(roots); err == nil {
			t.Errorf("%s: NewFileStore(%q) succeeded", name, roots)
		}
	}
}

// snapshot lists every path under dir with its kind, size and link target.
func snapshot(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		entry := fmt.Sprintf("%s %v %d", path, fi.Mode(), fi.Size())
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(path)
			entry += " -> " + target
		}
		out = append(out, entry)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustMkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestFileStoreResolve(t *testing.T) {
	dir := t.TempDir()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustMkdir(t, filepath.Join(dir, "wh", "t"))
	mustWrite(t, filepath.Join(dir, "wh", "t", "0.csv"), "x")
	mustMkdir(t, filepath.Join(dir, "landing"))
	mustSymlink(t, filepath.Join(dir, "wh", "t", "0.csv"), filepath.Join(dir, "landing", "file.csv"))
	mustSymlink(t, filepath.Join(dir, "wh", "t"), filepath.Join(dir, "landing", "dir"))
	s := newFileStore(t, dir)
	for uri, want := range map[string]string{
		"file://" + dir + "/landing/file.csv":  "file://" + real + "/wh/t/0.csv",
		"file://" + dir + "/landing/dir/":      "file://" + real + "/wh/t/",
		"file://" + dir + "/landing/dir/x.csv": "file://" + real + "/wh/t/x.csv",
		"file://" + dir + "/landing/new.csv":   "file://" + real + "/landing/new.csv",
	} {
		got, err := objects.Resolve(t.Context(), s, uri)
		if err != nil || got != want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", uri, got, err, want)
		}
	}
	if _, err := objects.Resolve(t.Context(), s, "file:///etc/passwd"); !errors.Is(err, fault.ErrPermissionDenied) {
		t.Errorf("Resolve outside the roots: %v, want denied", err)
	}
}
