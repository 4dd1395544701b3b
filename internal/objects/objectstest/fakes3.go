package objectstest

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

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

	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatalf("create bucket %s: %v", b, err)
		}
	}
	f := &FakeS3{}
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
		case r.Method == http.MethodPut && q.Has("uploadId"):
			f.Parts.Add(1)
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}
