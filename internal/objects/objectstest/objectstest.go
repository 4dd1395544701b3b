// Package objectstest is the behaviour suite that every objects.Store
// adapter passes. An adapter's test calls RunStoreTests with a store and an
// empty prefix the suite may fill.
package objectstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
)

// LargeSize is the size of the suite's large object: above MinPartSize
// twice over, so that an S3 store configured with MinPartSize parts and
// threshold uploads it in three parts.
const LargeSize = 12<<20 + 12345

// RunStoreTests runs the suite against store. baseURI is a prefix ending in
// "/" under which nothing is stored yet; every subtest works under its own
// prefix below it, in parallel with the others.
func RunStoreTests(t *testing.T, store objects.Store, baseURI string) {
	if !strings.HasSuffix(baseURI, "/") {
		t.Fatalf("baseURI %q must end in /", baseURI)
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s objects.Store, base string)
	}{
		{"LargeRoundTrip", testLargeRoundTrip},
		{"EmptyObject", testEmptyObject},
		{"RangeGet", testRangeGet},
		{"HeadSizeAndETag", testHeadSizeAndETag},
		{"ETagChangesWithContent", testETagChangesWithContent},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"ListPrefix", testListPrefix},
		{"ListInfoMatchesHead", testListInfoMatchesHead},
		{"ListEmpty", testListEmpty},
		{"ListStopEarly", testListStopEarly},
		{"CanceledContext", testCanceledContext},
		{"CancelDuringList", testCancelDuringList},
		{"CancelDuringRead", testCancelDuringRead},
		{"CanceledPutLeavesOldObject", testCanceledPutLeavesOldObject},
		{"ConcurrentPutsAreAtomic", testConcurrentPutsAreAtomic},
		{"DeleteBatch", testDeleteBatch},
		{"DeleteBatchCanceled", testDeleteBatchCanceled},
		{"Copy", testCopy},
		{"CopyLarge", testCopyLarge},
		{"CopyMissingSource", testCopyMissingSource},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, store, baseURI+tc.name+"/")
		})
	}
}

// Body returns n bytes of deterministic pseudo-random content for seed.
func Body(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// Put writes data to uri through a plain io.Reader (no size, no seeking,
// as a stream) and fails the test on error.
func Put(t testing.TB, s objects.Store, uri string, data []byte) objects.Info {
	t.Helper()
	info, err := s.Put(t.Context(), uri, struct{ io.Reader }{bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("Put(%s): %v", uri, err)
	}
	return info
}

// Get reads the object (or range) at uri and fails the test on error.
func Get(t testing.TB, s objects.Store, uri string, r *objects.Range) ([]byte, objects.Info) {
	t.Helper()
	rc, info, err := s.Get(t.Context(), uri, r)
	if err != nil {
		t.Fatalf("Get(%s, %+v): %v", uri, r, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%s, %+v): read: %v", uri, r, err)
	}
	return data, info
}

// List collects a listing and fails the test on error.
func List(t testing.TB, s objects.Store, prefix string) []objects.Info {
	t.Helper()
	var out []objects.Info
	for info, err := range s.List(t.Context(), prefix) {
		if err != nil {
			t.Fatalf("List(%s): %v", prefix, err)
		}
		out = append(out, info)
	}
	return out
}

// URIs returns the URIs of infos.
func URIs(infos []objects.Info) []string {
	out := make([]string, len(infos))
	for i, info := range infos {
		out[i] = info.URI
	}
	return out
}

func testLargeRoundTrip(t *testing.T, s objects.Store, base string) {
	uri := base + "large.csv"
	data := Body(1, LargeSize)
	put := Put(t, s, uri, data)
	if put.URI != uri || put.Size != int64(len(data)) || put.ETag == "" {
		t.Errorf("Put info = %+v, want URI %s, size %d and an ETag", put, uri, len(data))
	}
	got, info := Get(t, s, uri, nil)
	if len(got) != len(data) || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("Get returned %d bytes that differ from the %d put", len(got), len(data))
	}
	if info.Size != put.Size || info.ETag != put.ETag {
		t.Errorf("Get info = %+v, want size and ETag of %+v", info, put)
	}
}

func testEmptyObject(t *testing.T, s objects.Store, base string) {
	uri := base + "empty.csv"
	put := Put(t, s, uri, nil)
	if put.Size != 0 {
		t.Errorf("Put size = %d, want 0", put.Size)
	}
	for _, r := range []*objects.Range{nil, {Offset: 0, Length: 1}, {Offset: 0, Length: 0}} {
		got, info := Get(t, s, uri, r)
		if len(got) != 0 || info.Size != 0 {
			t.Errorf("Get(%+v) = %d bytes, size %d; want none", r, len(got), info.Size)
		}
	}
}

func testRangeGet(t *testing.T, s objects.Store, base string) {
	uri := base + "range.bin"
	data := Body(2, 1000)
	Put(t, s, uri, data)
	cases := []struct {
		r    objects.Range
		want []byte
	}{
		{objects.Range{Offset: 0, Length: 10}, data[:10]},
		{objects.Range{Offset: 10, Length: 0}, data[10:]},
		{objects.Range{Offset: 500, Length: -1}, data[500:]},
		{objects.Range{Offset: 990, Length: 100}, data[990:]},
		{objects.Range{Offset: 999, Length: 1}, data[999:]},
		{objects.Range{Offset: 0, Length: 1000}, data},
		{objects.Range{Offset: 1000, Length: 0}, nil},
		{objects.Range{Offset: 1000, Length: 5}, nil},
	}
	for _, tc := range cases {
		got, info := Get(t, s, uri, &tc.r)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("Get(%+v) = %d bytes, want %d bytes from the put body", tc.r, len(got), len(tc.want))
		}
		if info.Size != 1000 {
			t.Errorf("Get(%+v) info size = %d, want the whole object's 1000", tc.r, info.Size)
		}
	}
	for _, r := range []objects.Range{{Offset: 1001, Length: 1}, {Offset: -1, Length: 5}} {
		rc, _, err := s.Get(t.Context(), uri, &r)
		if err == nil {
			rc.Close()
			t.Errorf("Get(%+v) succeeded, want an invalid range", r)
			continue
		}
		if fe := fault.FieldErrors(err); len(fe) != 1 || fe[0].Field != "range" {
			t.Errorf("Get(%+v) error = %v, want fault.Invalid for the range", r, err)
		}
	}
}

func testHeadSizeAndETag(t *testing.T, s objects.Store, base string) {
	uri := base + "head.csv"
	before := time.Now()
	put := Put(t, s, uri, []byte("id,name\n1,kim\n"))
	info, err := s.Head(t.Context(), uri)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if info.URI != uri || info.Size != 14 {
		t.Errorf("Head = %+v, want URI %s and size 14", info, uri)
	}
	if info.ETag == "" || strings.ContainsAny(info.ETag, `"`) || info.ETag != put.ETag {
		t.Errorf("Head ETag = %q, want Put's %q, unquoted and not empty", info.ETag, put.ETag)
	}
	// S3 keeps whole seconds; allow for them and a little clock skew.
	if info.ModifyTime.Before(before.Add(-2*time.Second)) || info.ModifyTime.After(time.Now().Add(2*time.Second)) {
		t.Errorf("Head ModifyTime = %v, want about %v", info.ModifyTime, before)
	}
	again, err := s.Head(t.Context(), uri)
	if err != nil || again.ETag != info.ETag {
		t.Errorf("second Head ETag = %q (%v), want the same %q", again.ETag, err, info.ETag)
	}
}

func testETagChangesWithContent(t *testing.T, s objects.Store, base string) {
	uri := base + "etag.csv"
	first := Put(t, s, uri, []byte("aaaa"))
	second := Put(t, s, uri, []byte("bbbb"))
	if first.ETag == second.ETag {
		t.Errorf("ETag %q did not change when the content did", first.ETag)
	}
	got, info := Get(t, s, uri, nil)
	if string(got) != "bbbb" || info.ETag != second.ETag {
		t.Errorf("Get = %q with ETag %q, want %q with %q", got, info.ETag, "bbbb", second.ETag)
	}
}

func testNotFound(t *testing.T, s objects.Store, base string) {
	for _, uri := range []string{base + "missing.csv", base + "no/such/dir/x.csv"} {
		_, err := s.Head(t.Context(), uri)
		checkNotFound(t, "Head", uri, err)
		rc, _, err := s.Get(t.Context(), uri, nil)
		if err == nil {
			rc.Close()
		}
		checkNotFound(t, "Get", uri, err)
		rc, _, err = s.Get(t.Context(), uri, &objects.Range{Offset: 1, Length: 1})
		if err == nil {
			rc.Close()
		}
		checkNotFound(t, "Get with a range", uri, err)
	}
}

func checkNotFound(t *testing.T, op, uri string, err error) {
	t.Helper()
	if !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("%s(%s) error = %v, want ErrNotFound", op, uri, err)
	} else if !strings.Contains(err.Error(), uri) {
		t.Errorf("%s(%s) error = %q, want it to name the URI", op, uri, err)
	}
}

func testDelete(t *testing.T, s objects.Store, base string) {
	uri := base + "doomed.csv"
	keep := base + "doomed.csv.bak"
	Put(t, s, uri, []byte("x"))
	Put(t, s, keep, []byte("y"))
	if err := s.Delete(t.Context(), uri); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Head(t.Context(), uri)
	checkNotFound(t, "Head after Delete", uri, err)
	if err := s.Delete(t.Context(), uri); err != nil {
		t.Errorf("Delete of a deleted object: %v, want nil", err)
	}
	if err := s.Delete(t.Context(), base+"never/was.csv"); err != nil {
		t.Errorf("Delete of an object that never was: %v, want nil", err)
	}
	if got := URIs(List(t, s, base)); !slices.Equal(got, []string{keep}) {
		t.Errorf("List after Delete = %q, want only %s", got, keep)
	}
}

// listKeys are the keys testListPrefix stores: names that sort differently
// as whole keys than directory by directory ('-' and '.' sort before '/').
var listKeys = []string{
	"a.csv", "a/1.csv", "a/2.csv", "a/b.csv", "a/b.csv.bak", "a/b/3.csv",
	"a/b/c/4.csv", "a-b/5.csv", "ab/6.csv", "b/7.csv",
}

func testListPrefix(t *testing.T, s objects.Store, base string) {
	for i, key := range listKeys {
		Put(t, s, base+key, []byte(fmt.Sprintf("row %d\n", i)))
	}
	all := slices.Clone(listKeys)
	slices.Sort(all)
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"a/", []string{"a/1.csv", "a/2.csv", "a/b.csv", "a/b.csv.bak", "a/b/3.csv", "a/b/c/4.csv"}},
		{"a/b/", []string{"a/b/3.csv", "a/b/c/4.csv"}},
		{"a/b", []string{"a/b.csv", "a/b.csv.bak", "a/b/3.csv", "a/b/c/4.csv"}},
		{"a/b.csv", []string{"a/b.csv", "a/b.csv.bak"}},
		{"a", []string{"a-b/5.csv", "a.csv", "a/1.csv", "a/2.csv", "a/b.csv", "a/b.csv.bak", "a/b/3.csv", "a/b/c/4.csv", "ab/6.csv"}},
		{"b/7.csv", []string{"b/7.csv"}},
		{"c/", nil},
		{"a/b/c/4.csv/", nil},
	}
	for _, tc := range cases {
		want := make([]string, len(tc.want))
		for i, key := range tc.want {
			want[i] = base + key
		}
		if got := URIs(List(t, s, base+tc.prefix)); !slices.Equal(got, want) {
			t.Errorf("List(%s) =\n  %q\nwant\n  %q", base+tc.prefix, got, want)
		}
	}
}

func testListInfoMatchesHead(t *testing.T, s objects.Store, base string) {
	for i := range 5 {
		Put(t, s, fmt.Sprintf("%sf%d.csv", base, i), Body(uint64(i), 100*i))
	}
	listed := List(t, s, base)
	if len(listed) != 5 {
		t.Fatalf("List = %q, want 5 objects", URIs(listed))
	}
	for _, info := range listed {
		head, err := s.Head(t.Context(), info.URI)
		if err != nil {
			t.Fatalf("Head(%s): %v", info.URI, err)
		}
		if info.Size != head.Size || info.ETag != head.ETag ||
			!info.ModifyTime.Truncate(time.Second).Equal(head.ModifyTime.Truncate(time.Second)) {
			t.Errorf("List gave %+v, Head %+v", info, head)
		}
	}
}

func testListEmpty(t *testing.T, s objects.Store, base string) {
	if got := List(t, s, base); len(got) != 0 {
		t.Errorf("List of an empty prefix = %q, want nothing", URIs(got))
	}
}

func testListStopEarly(t *testing.T, s objects.Store, base string) {
	for i := range 5 {
		Put(t, s, fmt.Sprintf("%s%d.csv", base, i), []byte("x"))
	}
	n := 0
	for _, err := range s.List(t.Context(), base) {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("listed %d objects before stopping, want 2", n)
	}
}

func testCanceledContext(t *testing.T, s objects.Store, base string) {
	uri := base + "present.csv"
	Put(t, s, uri, []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: error = %v, want context.Canceled", op, err)
		}
	}
	rc, _, err := s.Get(ctx, uri, nil)
	if err == nil {
		rc.Close()
	}
	check("Get", err)
	_, err = s.Head(ctx, uri)
	check("Head", err)
	_, err = s.Put(ctx, base+"new.csv", strings.NewReader("y"))
	check("Put", err)
	check("Delete", s.Delete(ctx, uri))
	var listErr error
	for _, err := range s.List(ctx, base) {
		if err != nil {
			listErr = err
			break
		}
	}
	check("List", listErr)
	if got := URIs(List(t, s, base)); !slices.Equal(got, []string{uri}) {
		t.Errorf("after the cancelled calls List = %q, want only %s", got, uri)
	}
}

func testCancelDuringList(t *testing.T, s objects.Store, base string) {
	for i := range 6 {
		Put(t, s, fmt.Sprintf("%s%d.csv", base, i), []byte("x"))
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	n := 0
	var listErr error
	for _, err := range s.List(ctx, base) {
		if err != nil {
			listErr = err
			break
		}
		n++
		cancel()
	}
	if n != 1 || !errors.Is(listErr, context.Canceled) {
		t.Errorf("List cancelled after the first object gave %d objects and error %v, want 1 and context.Canceled", n, listErr)
	}
}

func testCancelDuringRead(t *testing.T, s objects.Store, base string) {
	uri := base + "read.bin"
	Put(t, s, uri, Body(3, 4<<20))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rc, _, err := s.Get(ctx, uri, nil)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
		t.Fatalf("read: %v", err)
	}
	cancel()
	if n, err := io.Copy(io.Discard, rc); !errors.Is(err, context.Canceled) {
		t.Errorf("reading on after cancel: %d bytes, error %v; want context.Canceled", n, err)
	}
}

// cancelingReader serves n bytes and then cancels its context and fails
// like a reader whose context was cancelled.
type cancelingReader struct {
	data   []byte
	n      int
	cancel context.CancelFunc
}

func (r *cancelingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		r.cancel()
		return 0, context.Canceled
	}
	p = p[:min(len(p), r.n, len(r.data))]
	copy(p, r.data)
	r.data = r.data[len(p):]
	r.n -= len(p)
	return len(p), nil
}

func testCanceledPutLeavesOldObject(t *testing.T, s objects.Store, base string) {
	uri := base + "keep.csv"
	old := Put(t, s, uri, []byte("old content\n"))
	for _, size := range []int{1 << 10, 7 << 20} {
		ctx, cancel := context.WithCancel(t.Context())
		body := &cancelingReader{data: Body(4, size*2), n: size, cancel: cancel}
		_, err := s.Put(ctx, uri, body)
		cancel()
		if err == nil {
			t.Fatalf("Put cancelled after %d bytes succeeded", size)
		}
		got, info := Get(t, s, uri, nil)
		if string(got) != "old content\n" || info.ETag != old.ETag {
			t.Errorf("after a Put cancelled after %d bytes the object holds %d bytes, ETag %q; want the old ones", size, len(got), info.ETag)
		}
	}
	if got := URIs(List(t, s, base)); !slices.Equal(got, []string{uri}) {
		t.Errorf("after cancelled Puts List = %q, want only %s", got, uri)
	}
}

func testConcurrentPutsAreAtomic(t *testing.T, s objects.Store, base string) {
	uri := base + "contended.bin"
	const writers = 6
	bodies := make([][]byte, writers)
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		bodies[i] = Body(uint64(100+i), 256<<10)
		wg.Go(func() {
			_, errs[i] = s.Put(t.Context(), uri, bytes.NewReader(bodies[i]))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	got, _ := Get(t, s, uri, nil)
	if !slices.ContainsFunc(bodies, func(b []byte) bool { return bytes.Equal(b, got) }) {
		t.Errorf("after concurrent Puts the object (%d bytes) is none of the bodies written", len(got))
	}
	if got := URIs(List(t, s, base)); !slices.Equal(got, []string{uri}) {
		t.Errorf("after concurrent Puts List = %q, want only %s", got, uri)
	}
}

func testDeleteBatch(t *testing.T, s objects.Store, base string) {
	var doomed []string
	for i := range 7 {
		uri := fmt.Sprintf("%sdir/%d.csv", base, i)
		Put(t, s, uri, []byte("x"))
		doomed = append(doomed, uri)
	}
	keep := []string{base + "dir/0.csv.bak", base + "dir2/0.csv"}
	for _, uri := range keep {
		Put(t, s, uri, []byte("y"))
	}
	doomed = append(doomed, base+"dir/never-was.csv")
	if failed := objects.DeleteBatch(t.Context(), s, doomed); len(failed) != 0 {
		t.Fatalf("DeleteBatch failed for %v", failed)
	}
	if got := URIs(List(t, s, base)); !slices.Equal(got, keep) {
		t.Errorf("after DeleteBatch List = %q, want only %q", got, keep)
	}
	if failed := objects.DeleteBatch(t.Context(), s, nil); len(failed) != 0 {
		t.Errorf("DeleteBatch of nothing failed: %v", failed)
	}
}

func testDeleteBatchCanceled(t *testing.T, s objects.Store, base string) {
	uris := []string{base + "a.csv", base + "b.csv"}
	for _, uri := range uris {
		Put(t, s, uri, []byte("x"))
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	failed := objects.DeleteBatch(ctx, s, uris)
	if len(failed) != len(uris) {
		t.Fatalf("DeleteBatch with a cancelled context reported %d failures, want %d", len(failed), len(uris))
	}
	for i, f := range failed {
		if f.URI != uris[i] || !errors.Is(f.Err, context.Canceled) || !strings.Contains(f.Error(), f.URI) {
			t.Errorf("failure %d = %s: %v, want %s with context.Canceled naming it", i, f.URI, f.Err, uris[i])
		}
	}
	if got := URIs(List(t, s, base)); !slices.Equal(got, uris) {
		t.Errorf("after a cancelled DeleteBatch List = %q, want %q", got, uris)
	}
}

func testCopy(t *testing.T, s objects.Store, base string) {
	src, dst := base+"src/a+b c.csv", base+"dst/a+b c.csv"
	data := []byte("id,name\n1,kim\n")
	Put(t, s, src, data)
	Put(t, s, dst, []byte("old"))
	info, err := objects.Copy(t.Context(), s, src, dst)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if info.URI != dst || info.Size != int64(len(data)) {
		t.Errorf("Copy info = %+v, want URI %s and size %d", info, dst, len(data))
	}
	for _, uri := range []string{src, dst} {
		if got, _ := Get(t, s, uri, nil); !bytes.Equal(got, data) {
			t.Errorf("after Copy %s holds %q, want %q", uri, got, data)
		}
	}
	if _, err := objects.Copy(t.Context(), s, src, src); err == nil {
		t.Error("Copy of an object onto itself succeeded")
	}
}

func testCopyLarge(t *testing.T, s objects.Store, base string) {
	src, dst := base+"big.bin", base+"copy/big.bin"
	data := Body(9, LargeSize)
	Put(t, s, src, data)
	info, err := objects.Copy(t.Context(), s, src, dst)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	got, _ := Get(t, s, dst, nil)
	if info.Size != int64(len(data)) || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Errorf("Copy of %d bytes gave %d bytes (info size %d) that differ", len(data), len(got), info.Size)
	}
}

func testCopyMissingSource(t *testing.T, s objects.Store, base string) {
	_, err := objects.Copy(t.Context(), s, base+"missing.csv", base+"dst.csv")
	checkNotFound(t, "Copy", base+"missing.csv", err)
	if got := List(t, s, base); len(got) != 0 {
		t.Errorf("a failed Copy left %q", URIs(got))
	}
}
