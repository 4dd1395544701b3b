package objectstest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// FakeS3 is an S3-compatible server in memory (gofakes3) on a loopback
// listener, counting the requests the tests care about.
type FakeS3 struct {
	// URL is the endpoint to give S3 clients.
	URL        string
	Lists      atomic.Int64 // ListObjectsV2 calls
	Multiparts atomic.Int64 // CreateMultipartUpload calls
	Parts      atomic.Int64 // UploadPart calls
	NoRanges   atomic.Bool  // drop Range headers, as some servers ignore them
	Deletes    atomic.Int64 // DeleteObjects calls
	Copies     atomic.Int64 // CopyObject calls
	PartCopies atomic.Int64 // UploadPartCopy calls

	backend *failingBackend
}

// failingBackend is the in-memory backend with keys whose deletion fails,
// as S3 reports a key it may not delete in a DeleteObjects answer.
type failingBackend struct {
	*s3mem.Backend
	mu   sync.Mutex
	fail map[string]bool // "bucket/key"
}

func (b *failingBackend) failing(bucket, key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fail[bucket+"/"+key]
}

// DeleteMulti implements gofakes3.Backend.
func (b *failingBackend) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	var ok []string
	var refused []gofakes3.ErrorResult
	for _, k := range keys {
		if b.failing(bucket, k) {
			refused = append(refused, accessDenied(k))
		} else {
			ok = append(ok, k)
		}
	}
	out, err := b.Backend.DeleteMulti(bucket, ok...)
	out.Error = append(out.Error, refused...)
	return out, err
}

// DeleteMultiVersions implements gofakes3.VersionedBackend.
func (b *failingBackend) DeleteMultiVersions(bucket string, ids ...gofakes3.ObjectID) (gofakes3.MultiDeleteResult, error) {
	var ok []gofakes3.ObjectID
	var refused []gofakes3.ErrorResult
	for _, id := range ids {
		if b.failing(bucket, id.Key) {
			refused = append(refused, accessDenied(id.Key))
		} else {
			ok = append(ok, id)
		}
	}
	out, err := b.Backend.DeleteMultiVersions(bucket, ok...)
	out.Error = append(out.Error, refused...)
	return out, err
}

func accessDenied(key string) gofakes3.ErrorResult {
	return gofakes3.ErrorResult{Key: key, Code: "AccessDenied", Message: "Access Denied (injected by the test)"}
}

// FailDeletes makes every later deletion of the given keys of bucket fail
// with AccessDenied in the DeleteObjects answer.
func (f *FakeS3) FailDeletes(bucket string, keys ...string) {
	f.backend.mu.Lock()
	defer f.backend.mu.Unlock()
	for _, k := range keys {
		f.backend.fail[bucket+"/"+k] = true
	}
}

// EnableVersioning turns versioning on for bucket.
func (f *FakeS3) EnableVersioning(t testing.TB, bucket string) {
	t.Helper()
	err := f.backend.SetVersioningConfiguration(bucket, gofakes3.VersioningConfiguration{Status: gofakes3.VersioningEnabled})
	if err != nil {
		t.Fatalf("enable versioning on %s: %v", bucket, err)
	}
}

// uploadPartCopy serves UploadPartCopy, which gofakes3 lacks, as the
// UploadPart of the source's range, and answers as S3 does.
func (f *FakeS3) uploadPartCopy(handler http.Handler, w http.ResponseWriter, r *http.Request) {
	source, err := url.PathUnescape(strings.TrimPrefix(r.Header.Get("X-Amz-Copy-Source"), "/"))
	bucket, key, ok := strings.Cut(source, "/")
	if err != nil || !ok {
		http.Error(w, "bad x-amz-copy-source", http.StatusBadRequest)
		return
	}
	var rng *gofakes3.ObjectRangeRequest
	if v := r.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
		first, last, _ := strings.Cut(strings.TrimPrefix(v, "bytes="), "-")
		a, err1 := strconv.ParseInt(first, 10, 64)
		b, err2 := strconv.ParseInt(last, 10, 64)
		if err1 != nil || err2 != nil {
			http.Error(w, "bad x-amz-copy-source-range", http.StatusBadRequest)
			return
		}
		rng = &gofakes3.ObjectRangeRequest{Start: a, End: b}
	}
	obj, err := f.backend.GetObject(bucket, key, rng)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	data, err := io.ReadAll(obj.Contents)
	obj.Contents.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	part := r.Clone(r.Context())
	part.Header.Del("X-Amz-Copy-Source")
	part.Header.Del("X-Amz-Copy-Source-Range")
	part.Header.Del("X-Amz-Copy-Source-If-Match")
	part.Header.Set("Content-Length", strconv.Itoa(len(data)))
	part.ContentLength = int64(len(data))
	part.Body = io.NopCloser(bytes.NewReader(data))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, part)
	if rec.Code != http.StatusOK {
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	type copyPartResult struct {
		XMLName      xml.Name `xml:"CopyPartResult"`
		ETag         string   `xml:"ETag"`
		LastModified string   `xml:"LastModified"`
	}
	out, _ := xml.Marshal(copyPartResult{ETag: rec.Header().Get("ETag"), LastModified: time.Now().UTC().Format(time.RFC3339)})
	w.Header().Set("Content-Type", "application/xml")
	_, _ = fmt.Fprintf(w, "%s%s", xml.Header, out)
}

// NewFakeS3 starts a fake S3 with the given buckets, and isolates the AWS
// configuration chain from the machine's: no shared files, no instance
// metadata, no real credentials.
func NewFakeS3(t testing.TB, buckets ...string) *FakeS3 {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "test-access-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")

	backend := &failingBackend{Backend: s3mem.New(), fail: map[string]bool{}}
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatalf("create bucket %s: %v", b, err)
		}
	}
	f := &FakeS3{backend: backend}
	handler := gofakes3.New(backend).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.NoRanges.Load() {
			r.Header.Del("Range")
		}
		q := r.URL.Query()
		switch {
		case r.Method == http.MethodGet && q.Get("list-type") == "2":
			f.Lists.Add(1)
		case r.Method == http.MethodPost && q.Has("uploads"):
			f.Multiparts.Add(1)
		case r.Method == http.MethodPut && q.Has("uploadId") && r.Header.Get("X-Amz-Copy-Source") != "":
			f.PartCopies.Add(1)
			f.uploadPartCopy(handler, w, r)
			return
		case r.Method == http.MethodPut && q.Has("uploadId"):
			f.Parts.Add(1)
		case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
			f.Copies.Add(1)
		case r.Method == http.MethodPost && q.Has("delete"):
			f.Deletes.Add(1)
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}
