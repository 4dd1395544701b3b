package objects_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"path"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
)

// validURIs are URIs ParseURI accepts, with their parts.
var validURIs = []struct {
	uri, scheme, bucket, key string
}{
	{"file:///data/landing/a.csv", "file", "", "/data/landing/a.csv"},
	{"file:///data/landing/", "file", "", "/data/landing/"},
	{"file:///", "file", "", "/"},
	{"file:///data/고객 명단.csv", "file", "", "/data/고객 명단.csv"},
	{"file:///a/.hidden/..x/x..", "file", "", "/a/.hidden/..x/x.."},
	{"s3://lake/a/b.csv", "s3", "lake", "a/b.csv"},
	{"s3://lake/a/", "s3", "lake", "a/"},
	{"s3://lake/", "s3", "lake", ""},
	{"s3://lake", "s3", "lake", ""},
	{"s3://abc/k", "s3", "abc", "k"},
	{"s3://my.bucket-1/x", "s3", "my.bucket-1", "x"},
	{"s3://" + strings.Repeat("b", 63) + "/k", "s3", strings.Repeat("b", 63), "k"},
	{"s3://lake/a b%20c?d#e.csv", "s3", "lake", "a b%20c?d#e.csv"},
	{"s3://lake/" + strings.Repeat("k", 1024), "s3", "lake", strings.Repeat("k", 1024)},
}

// invalidURIs are URIs ParseURI refuses.
var invalidURIs = []string{
	"",
	"data.csv",
	"/data/landing/a.csv",
	"file:/data/a.csv",
	"http://host/a.csv",
	"gs://lake/a.csv",
	"S3://lake/a.csv",
	"FILE:///data/a.csv",
	"file://host/data/a.csv",
	"file://relative/a.csv",
	"file://",
	"file://./a.csv",
	"file:///data/../etc/passwd",
	"file:///data/..",
	"file:///data/./a.csv",
	"file:///data//a.csv",
	"file:////",
	"file:///data/a\x00.csv",
	"file:///data/a\n.csv",
	"s3://",
	"s3:///key",
	"s3://ab/k",
	"s3://" + strings.Repeat("b", 64) + "/k",
	"s3://Lake/k",
	"s3://la_ke/k",
	"s3://-lake/k",
	"s3://lake-/k",
	"s3://la..ke/k",
	"s3://192.168.1.1/k",
	"s3://xn--lake/k",
	"s3://sthree-lake/k",
	"s3://lake//k",
	"s3://lake//",
	"s3://lake/a//b",
	"s3://lake/a/../k",
	"s3://lake/..",
	"s3://lake/./k",
	"s3://lake/k\x00",
	"s3://lake/k\x7f",
	"s3://lake/\xff.csv",
	"s3://lake/" + strings.Repeat("k", 1025),
}

func TestParseURI(t *testing.T) {
	for _, tc := range validURIs {
		scheme, bucket, key, err := objects.ParseURI(tc.uri)
		if err != nil || scheme != tc.scheme || bucket != tc.bucket || key != tc.key {
			t.Errorf("ParseURI(%q) = %q, %q, %q, %v; want %q, %q, %q", tc.uri, scheme, bucket, key, err, tc.scheme, tc.bucket, tc.key)
		}
	}
	for _, uri := range invalidURIs {
		_, _, _, err := objects.ParseURI(uri)
		fe := fault.FieldErrors(err)
		if len(fe) != 1 || fe[0].Field != "uri" {
			t.Errorf("ParseURI(%q) error = %v, want fault.Invalid for uri", uri, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("%q", uri)) || !strings.Contains(msg, "file:///absolute/path or s3://bucket/key") {
			t.Errorf("ParseURI(%q) error = %q, want it to name the URI and the forms accepted", uri, msg)
		}
	}
}

// FuzzParseURI checks that ParseURI never panics, refuses with a
// fault.Invalid for "uri" only, and accepts only canonical URIs: ones that
// hold no control character, no "." or ".." segment, whose parts put back
// together give the URI again, and whose file paths are already clean.
func FuzzParseURI(f *testing.F) {
	for _, tc := range validURIs {
		f.Add(tc.uri)
	}
	for _, uri := range invalidURIs {
		f.Add(uri)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		scheme, bucket, key, err := objects.ParseURI(uri)
		if err != nil {
			if fe := fault.FieldErrors(err); len(fe) != 1 || fe[0].Field != "uri" {
				t.Fatalf("ParseURI(%q) error = %v, want one fault.Invalid for uri", uri, err)
			}
			return
		}
		if strings.ContainsFunc(uri, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("ParseURI(%q) accepted a control character", uri)
		}
		var rebuilt string
		switch scheme {
		case objects.SchemeFile:
			if bucket != "" || !strings.HasPrefix(key, "/") {
				t.Fatalf("ParseURI(%q) = file %q %q, want no bucket and an absolute path", uri, bucket, key)
			}
			if clean := path.Clean(key); clean != strings.TrimSuffix(key, "/") && key != "/" {
				t.Fatalf("ParseURI(%q) accepted the unclean path %q (clean: %q)", uri, key, clean)
			}
			rebuilt = "file://" + key
		case objects.SchemeS3:
			if len(bucket) < 3 || len(bucket) > 63 || strings.ContainsAny(bucket, "/_") || bucket != strings.ToLower(bucket) {
				t.Fatalf("ParseURI(%q) accepted the bucket %q", uri, bucket)
			}
			rebuilt = "s3://" + bucket + "/" + key
			if uri == "s3://"+bucket {
				rebuilt = uri
			}
		default:
			t.Fatalf("ParseURI(%q) returned the scheme %q", uri, scheme)
		}
		if rebuilt != uri {
			t.Fatalf("ParseURI(%q) = %q %q %q, which rebuild %q", uri, scheme, bucket, key, rebuilt)
		}
		for seg := range strings.SplitSeq(strings.Trim(key, "/"), "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("ParseURI(%q) accepted a %q segment", uri, seg)
			}
		}
		s2, b2, k2, err := objects.ParseURI(rebuilt)
		if err != nil || s2 != scheme || b2 != bucket || k2 != key {
			t.Fatalf("ParseURI(%q) = %q %q %q %v, not the parts of %q", rebuilt, s2, b2, k2, err, uri)
		}
	})
}

// recordingStore is a Store that records the URIs it was called with.
type recordingStore struct {
	name  string
	calls []string
}

func (r *recordingStore) record(op, uri string) { r.calls = append(r.calls, op+" "+uri) }

func (r *recordingStore) Get(_ context.Context, uri string, _ *objects.Range) (io.ReadCloser, objects.Info, error) {
	r.record("get", uri)
	return io.NopCloser(strings.NewReader(r.name)), objects.Info{URI: uri}, nil
}

func (r *recordingStore) Head(_ context.Context, uri string) (objects.Info, error) {
	r.record("head", uri)
	return objects.Info{URI: uri, ETag: r.name}, nil
}

func (r *recordingStore) Put(_ context.Context, uri string, _ io.Reader) (objects.Info, error) {
	r.record("put", uri)
	return objects.Info{URI: uri}, nil
}

func (r *recordingStore) Delete(_ context.Context, uri string) error {
	r.record("delete", uri)
	return nil
}

func (r *recordingStore) List(_ context.Context, prefix string) iter.Seq2[objects.Info, error] {
	r.record("list", prefix)
	return func(yield func(objects.Info, error) bool) { yield(objects.Info{URI: prefix + "x"}, nil) }
}

func TestRouterDispatchesOnScheme(t *testing.T) {
	file, s3 := &recordingStore{name: "file"}, &recordingStore{name: "s3"}
	rt, err := objects.NewRouter(map[string]objects.Store{objects.SchemeFile: file, objects.SchemeS3: s3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, uri := range []string{"file:///data/a.csv", "s3://lake/a.csv"} {
		if _, err := rt.Head(ctx, uri); err != nil {
			t.Fatal(err)
		}
		rc, _, err := rt.Get(ctx, uri, nil)
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if _, err := rt.Put(ctx, uri, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		if err := rt.Delete(ctx, uri); err != nil {
			t.Fatal(err)
		}
		for _, err := range rt.List(ctx, uri) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	want := func(uri string) string {
		return fmt.Sprint([]string{"head " + uri, "get " + uri, "put " + uri, "delete " + uri, "list " + uri})
	}
	if got := fmt.Sprint(file.calls); got != want("file:///data/a.csv") {
		t.Errorf("file store calls = %s", got)
	}
	if got := fmt.Sprint(s3.calls); got != want("s3://lake/a.csv") {
		t.Errorf("s3 store calls = %s", got)
	}
}

func TestRouterRefusesUnknownSchemes(t *testing.T) {
	both, err := objects.NewRouter(map[string]objects.Store{objects.SchemeFile: &recordingStore{}, objects.SchemeS3: &recordingStore{}})
	if err != nil {
		t.Fatal(err)
	}
	fileOnly, err := objects.NewRouter(map[string]objects.Store{objects.SchemeFile: &recordingStore{}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		rt       *objects.Router
		uri      string
		accepted string
	}{
		{both, "gs://lake/a.csv", "accepted: file:///absolute/path or s3://bucket/key"},
		{both, "data.csv", "accepted: file:///absolute/path or s3://bucket/key"},
		{both, "", "accepted: file:///absolute/path or s3://bucket/key"},
		{fileOnly, "s3://lake/a.csv", "accepted: file:///absolute/path"},
	}
	for _, tc := range cases {
		check := func(op string, err error) {
			t.Helper()
			fe := fault.FieldErrors(err)
			if len(fe) != 1 || fe[0].Field != "uri" {
				t.Errorf("%s(%q) error = %v, want fault.Invalid for uri", op, tc.uri, err)
				return
			}
			if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("%q", tc.uri)) || !strings.HasSuffix(msg, tc.accepted) {
				t.Errorf("%s(%q) error = %q, want it to name the URI and end %q", op, tc.uri, msg, tc.accepted)
			}
		}
		_, err := tc.rt.Head(t.Context(), tc.uri)
		check("Head", err)
		_, _, err = tc.rt.Get(t.Context(), tc.uri, nil)
		check("Get", err)
		_, err = tc.rt.Put(t.Context(), tc.uri, strings.NewReader("x"))
		check("Put", err)
		check("Delete", tc.rt.Delete(t.Context(), tc.uri))
		n := 0
		for _, err := range tc.rt.List(t.Context(), tc.uri) {
			n++
			check("List", err)
		}
		if n != 1 {
			t.Errorf("List(%q) yielded %d times, want one error", tc.uri, n)
		}
	}
}

func TestNewRouterRefusesBadAdapters(t *testing.T) {
	if _, err := objects.NewRouter(map[string]objects.Store{"gs": &recordingStore{}}); err == nil {
		t.Error("NewRouter took an adapter for gs://")
	}
	if _, err := objects.NewRouter(map[string]objects.Store{objects.SchemeS3: nil}); err == nil {
		t.Error("NewRouter took a nil adapter")
	}
}

func TestRouterKeepsAdapterErrors(t *testing.T) {
	root := t.TempDir()
	fs, err := objects.NewFileStore([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := objects.NewRouter(map[string]objects.Store{objects.SchemeFile: fs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Head(t.Context(), "file://"+root+"/../etc/passwd"); !errors.Is(err, fault.ErrPermissionDenied) {
		t.Errorf("Head through the router of a path out: %v, want permission denied", err)
	}
	if _, err := rt.Head(t.Context(), "file://"+root+"/missing.csv"); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("Head through the router of a missing file: %v, want ErrNotFound", err)
	}
}
