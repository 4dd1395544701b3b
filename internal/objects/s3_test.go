package objects_test

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
)

// s3Store returns an S3Store on the fake, with static credentials, a small
// list page and the smallest parts S3 allows, so that the suite's large
// object goes up in parts and a listing of a few keys takes several pages.
func s3Store(t *testing.T, f *objectstest.FakeS3, tweak ...func(*objects.S3Options)) *objects.S3Store {
	t.Helper()
	opts := objects.S3Options{
		Endpoint:           f.URL,
		Region:             "us-east-1",
		PathStyle:          true,
		Credentials:        credentials.NewStaticCredentialsProvider("test-access-key", "test-secret-key", ""),
		ListPageSize:       2,
		PartSize:           objects.MinPartSize,
		MultipartThreshold: objects.MinPartSize,
		CopyThreshold:      objects.MinPartSize,
		CopyPartSize:       objects.MinPartSize,
		DeleteBatchSize:    3,
	}
	for _, fn := range tweak {
		fn(&opts)
	}
	s, err := objects.NewS3Store(t.Context(), opts)
	if err != nil {
		t.Fatalf("NewS3Store: %v", err)
	}
	return s
}

func TestS3Store(t *testing.T) {
	f := objectstest.NewFakeS3(t, "lake")
	objectstest.RunStoreTests(t, s3Store(t, f), "s3://lake/suite/")
}

func TestS3StoreListPages(t *testing.T) {
	f := objectstest.NewFakeS3(t, "lake")
	s := s3Store(t, f)
	var want []string
	for i := range 7 {
		uri := fmt.Sprintf("s3://lake/paged/k%02d.csv", i)
		objectstest.Put(t, s, uri, []byte("x"))
		want = append(want, uri)
	}
	objectstest.Put(t, s, "s3://lake/paged.csv", []byte("not under paged/"))
	objectstest.Put(t, s, "s3://lake/pagedx/k.csv", []byte("not under paged/"))
	before := f.Lists.Load()
	got := objectstest.URIs(objectstest.List(t, s, "s3://lake/paged/"))
	if !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	if calls := f.Lists.Load() - before; calls != 4 {
		t.Errorf("listing 7 keys 2 to a page took %d ListObjectsV2 calls, want 4", calls)
	}
}

func TestS3StoreMultipartPut(t *testing.T) {
	f := objectstest.NewFakeS3(t, "lake")
	s := s3Store(t, f)
	data := objectstest.Body(7, objectstest.LargeSize)
	put := objectstest.Put(t, s, "s3://lake/big.bin", data)
	if f.Multiparts.Load() != 1 || f.Parts.Load() != 3 {
		t.Errorf("a %d-byte Put made %d multipart uploads of %d parts, want 1 of 3", len(data), f.Multiparts.Load(), f.Parts.Load())
	}
	got, info := objectstest.Get(t, s, "s3://lake/big.bin", nil)
	if string(got) != string(data) || info.ETag != put.ETag || info.Size != int64(len(data)) {
		t.Errorf("Get after a multipart Put: %d bytes, %+v; want the %d put, %+v", len(got), info, len(data), put)
	}

	small := objectstest.Put(t, s, "s3://lake/small.bin", []byte("small"))
	if f.Multiparts.Load() != 1 {
		t.Errorf("a 5-byte Put started a multipart upload")
	}
	if sum := md5.Sum([]byte("small")); small.ETag != hex.EncodeToString(sum[:]) {
		t.Errorf("single-part Put ETag = %q, want the content's MD5 without quotes", small.ETag)
	}
}

func TestS3StoreServerIgnoringRanges(t *testing.T) {
	f := objectstest.NewFakeS3(t, "lake")
	s := s3Store(t, f)
	uri := "s3://lake/r.bin"
	data := objectstest.Body(8, 1000)
	objectstest.Put(t, s, uri, data)
	f.NoRanges.Store(true)
	for _, tc := range []struct {
		r    objects.Range
		want []byte
	}{
		{objects.Range{Offset: 10, Length: 20}, data[10:30]},
		{objects.Range{Offset: 990}, data[990:]},
		{objects.Range{Offset: 1000, Length: 1}, nil},
	} {
		got, info := objectstest.Get(t, s, uri, &tc.r)
		if string(got) != string(tc.want) || info.Size != 1000 {
			t.Errorf("Get(%+v) from a server ignoring ranges = %d bytes (size %d), want %d (size 1000)", tc.r, len(got), info.Size, len(tc.want))
		}
	}
	_, _, err := s.Get(t.Context(), uri, &objects.Range{Offset: 1001})
	if fe := fault.FieldErrors(err); len(fe) != 1 || fe[0].Field != "range" {
		t.Errorf("Get past the end from a server ignoring ranges: %v, want fault.Invalid for range", err)
	}
}

func TestS3StoreInvalidURIs(t *testing.T) {
	f := objectstest.NewFakeS3(t, "lake")
	s := s3Store(t, f)
	for _, uri := range []string{
		"s3://lake",
		"s3://lake/",
		"s3://Lake/k.csv",
		"s3://la/k.csv",
		"s3://lake//k.csv",
		"s3://lake/a/../k.csv",
		"s3://lake/a\x00b.csv",
		"file:///tmp/k.csv",
		"k.csv",
	} {
		_, err := s.Head(t.Context(), uri)
		if fe := fault.FieldErrors(err); len(fe) != 1 || fe[0].Field != "uri" || !strings.Contains(err.Error(), fmt.Sprintf("%q", uri)) {
			t.Errorf("Head(%q) error = %v, want fault.Invalid for uri naming it", uri, err)
		}
	}
	// A bucket alone is a fine prefix, but not a bad one.
	if got := objectstest.List(t, s, "s3://lake"); len(got) != 0 {
		t.Errorf("List(s3://lake) = %q, want nothing", objectstest.URIs(got))
	}
	for _, err := range s.List(t.Context(), "s3://no_such/") {
		if fe := fault.FieldErrors(err); len(fe) != 1 {
			t.Errorf("List(s3://no_such/) error = %v, want fault.Invalid", err)
		}
	}
}

func TestS3StoreMissingBucket(t *testing.T) {
	f := objectstest.NewFakeS3(t, "lake")
	s := s3Store(t, f)
	rc, _, err := s.Get(t.Context(), "s3://absent/k.csv", nil)
	if err == nil {
		rc.Close()
		t.Fatal("Get from a missing bucket succeeded")
	}
	if errors.Is(err, objects.ErrNotFound) || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Errorf("Get from a missing bucket: %v, want NoSuchBucket, not ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), "s3://absent/k.csv"); err == nil {
		t.Error("Delete in a missing bucket succeeded, want NoSuchBucket")
	}
}

func TestNewS3StoreRefusesBadOptions(t *testing.T) {
	objectstest.NewFakeS3(t)
	for name, opts := range map[string]objects.S3Options{
		"endpoint not a URL":   {Endpoint: "localhost:9000", Region: "us-east-1"},
		"endpoint ftp":         {Endpoint: "ftp://host", Region: "us-east-1"},
		"page size too large":  {Region: "us-east-1", ListPageSize: 1001},
		"page size negative":   {Region: "us-east-1", ListPageSize: -1},
		"part size too small":  {Region: "us-east-1", PartSize: 1 << 20},
		"negative threshold":   {Region: "us-east-1", MultipartThreshold: -1},
		"negative concurrency": {Region: "us-east-1", Concurrency: -1},
		"no region anywhere":   {},
	} {
		if _, err := objects.NewS3Store(t.Context(), opts); err == nil {
			t.Errorf("%s: NewS3Store(%+v) succeeded", name, opts)
		}
	}
}
