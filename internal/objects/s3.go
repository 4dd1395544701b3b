package objects

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Limits of S3Options, from S3's own limits.
const (
	// MinPartSize is the smallest part S3 accepts in a multipart upload
	// (but for the last part).
	MinPartSize = 5 << 20
	// MaxListPageSize is the most keys one ListObjectsV2 call returns.
	MaxListPageSize = 1000
	// MaxCopyObjectSize is the largest object one CopyObject call copies;
	// Copy copies larger ones in parts (UploadPartCopy).
	MaxCopyObjectSize = 5 << 30
	// maxParts is the most parts one multipart upload may have.
	maxParts = 10000
	// defaultCopyPartSize is the part size of a multipart copy.
	defaultCopyPartSize = 512 << 20
	// defaultCopyConcurrency is the number of parts a multipart copy copies
	// at once.
	defaultCopyConcurrency = 8
)

// abortTimeout bounds the cleanup (the abort of a multipart upload) after
// a Put failed, which runs on a fresh context when the Put's was cancelled.
const abortTimeout = 30 * time.Second

// S3Options configures an S3Store. The zero value talks to AWS with the
// standard configuration chain (environment, shared files, SSO, container
// and instance roles) and the transfer manager's defaults.
type S3Options struct {
	// Endpoint is the base URL (http:// or https://) of an S3-compatible
	// server; empty means AWS's own endpoints.
	Endpoint string
	// Region is the signing region. Empty lets the configuration chain
	// decide; with an Endpoint and no region anywhere, "us-east-1".
	Region string
	// PathStyle addresses buckets by path (http://host/bucket/key) instead
	// of by host name, as most S3-compatible servers need.
	PathStyle bool
	// Credentials replaces the standard credential chain when set (for
	// example credentials.NewStaticCredentialsProvider).
	Credentials aws.CredentialsProvider
	// ListPageSize is the number of keys List asks for per ListObjectsV2
	// call, 1 to MaxListPageSize; 0 leaves it to the server (1000 on S3).
	ListPageSize int32
	// PartSize is the size of a multipart upload's parts, at least
	// MinPartSize; 0 means the transfer manager's default (8 MiB). A Put
	// holds up to Concurrency parts in memory.
	PartSize int64
	// MultipartThreshold is the body size from which Put uploads in parts;
	// smaller bodies go in one PutObject. 0 means the transfer manager's
	// default (16 MiB).
	MultipartThreshold int64
	// Concurrency is the number of parts a Put uploads at once; 0 means the
	// transfer manager's default.
	Concurrency int
	// DeleteBatchSize is the number of keys per DeleteObjects call of
	// DeleteBatch, 1 to MaxDeleteBatch; 0 means MaxDeleteBatch.
	DeleteBatchSize int
	// CopyThreshold is the object size above which Copy copies in parts
	// (UploadPartCopy) instead of one CopyObject, at most
	// MaxCopyObjectSize; 0 means MaxCopyObjectSize, S3's limit.
	CopyThreshold int64
	// CopyPartSize is the part size of a multipart copy, at least
	// MinPartSize; 0 means 512 MiB. It grows where an object would
	// otherwise need more than 10,000 parts.
	CopyPartSize int64
}

// validate checks the options that S3 would refuse later, less clearly.
func (o S3Options) validate() error {
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("objects: s3 endpoint %q is not an http:// or https:// URL", o.Endpoint)
		}
	}
	if o.ListPageSize < 0 || o.ListPageSize > MaxListPageSize {
		return fmt.Errorf("objects: s3 list page size %d is not between 1 and %d (or 0 for the default)", o.ListPageSize, MaxListPageSize)
	}
	if o.PartSize != 0 && o.PartSize < MinPartSize {
		return fmt.Errorf("objects: s3 part size %d is below S3's minimum of %d bytes", o.PartSize, MinPartSize)
	}
	if o.MultipartThreshold < 0 {
		return fmt.Errorf("objects: s3 multipart threshold %d is negative", o.MultipartThreshold)
	}
	if o.Concurrency < 0 {
		return fmt.Errorf("objects: s3 concurrency %d is negative", o.Concurrency)
	}
	if o.DeleteBatchSize < 0 || o.DeleteBatchSize > MaxDeleteBatch {
		return fmt.Errorf("objects: s3 delete batch size %d is not between 1 and %d (or 0 for the default)", o.DeleteBatchSize, MaxDeleteBatch)
	}
	if o.CopyThreshold < 0 || o.CopyThreshold > MaxCopyObjectSize {
		return fmt.Errorf("objects: s3 copy threshold %d is not between 1 and %d (or 0 for the default)", o.CopyThreshold, int64(MaxCopyObjectSize))
	}
	if o.CopyPartSize != 0 && o.CopyPartSize < MinPartSize {
		return fmt.Errorf("objects: s3 copy part size %d is below S3's minimum of %d bytes", o.CopyPartSize, MinPartSize)
	}
	return nil
}

// S3Store is the Store for s3://bucket/key URIs, on aws-sdk-go-v2. Put
// streams through the SDK's transfer manager (feature/s3/transfermanager):
// one PutObject below the multipart threshold, a multipart upload above it,
// both atomic on S3. Its ETag is S3's, without the quotes: the MD5 of the
// content for a single-part upload, another digest with a "-N" suffix for a
// multipart one, so compare ETags for change, not for equal content.
type S3Store struct {
	client   *s3.Client
	uploader *transfermanager.Client
	pageSize int32

	deleteBatch   int   // keys per DeleteObjects call
	copyThreshold int64 // sizes above are copied in parts
	copyPartSize  int64
}

var _ Store = (*S3Store)(nil)

// NewS3Store returns an S3Store configured by opts.
func NewS3Store(ctx context.Context, opts S3Options) (*S3Store, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	var load []func(*config.LoadOptions) error
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	if opts.Credentials != nil {
		load = append(load, config.WithCredentialsProvider(opts.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("objects: s3: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		if opts.Endpoint == "" {
			return nil, errors.New("objects: s3: no region: set one in the options, AWS_REGION or the AWS config file")
		}
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = opts.PathStyle
		// Objects uploaded in parts, or by other tools, often carry no
		// checksum to validate a download against; that is no news.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	uploader := transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = opts.PartSize
		o.MultipartUploadThreshold = opts.MultipartThreshold
		o.Concurrency = opts.Concurrency
		o.FailTimeout = abortTimeout
	})
	st := &S3Store{
		client:        client,
		uploader:      uploader,
		pageSize:      opts.ListPageSize,
		deleteBatch:   cmp.Or(opts.DeleteBatchSize, MaxDeleteBatch),
		copyThreshold: cmp.Or(opts.CopyThreshold, MaxCopyObjectSize),
		copyPartSize:  cmp.Or(opts.CopyPartSize, defaultCopyPartSize),
	}
	return st, nil
}

// object parses uri, which must name an S3 object.
func (s *S3Store) object(uri string) (bucket, key string, err error) {
	bucket, key, err = s.parse(uri)
	if err == nil && key == "" {
		err = invalidURI(uri, "names a bucket, not an object")
	}
	return bucket, key, err
}

// parse parses uri, which must be an s3:// URI.
func (s *S3Store) parse(uri string) (bucket, key string, err error) {
	scheme, bucket, key, err := ParseURI(uri)
	if err != nil {
		return "", "", err
	}
	if scheme != SchemeS3 {
		return "", "", invalidURI(uri, "is not an s3:// URI")
	}
	return bucket, key, nil
}

// Get implements Store.
func (s *S3Store) Get(ctx context.Context, uri string, r *Range) (io.ReadCloser, Info, error) {
	if err := checkRange(r); err != nil {
		return nil, Info{}, err
	}
	bucket, key, err := s.object(uri)
	if err != nil {
		return nil, Info{}, err
	}
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	ranged := r != nil && (r.Offset > 0 || r.Length > 0)
	if ranged {
		in.Range = aws.String(httpRange(r))
	}
	out, err := s.client.GetObject(ctx, in, func(o *s3.Options) {
		if ranged {
			// A part cannot be checked against the whole object's checksum,
			// which some S3-compatible servers send with it anyway.
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	if err != nil {
		if ranged && isInvalidRange(err) {
			return s.emptyOrPastEnd(ctx, uri, r)
		}
		return nil, Info{}, s.fail("get", uri, err)
	}
	info := Info{
		URI:        uri,
		Size:       aws.ToInt64(out.ContentLength),
		ModifyTime: aws.ToTime(out.LastModified),
		ETag:       unquote(out.ETag),
	}
	var body io.Reader = out.Body
	if ranged {
		if total, ok := contentRangeTotal(aws.ToString(out.ContentRange)); ok {
			info.Size = total
		} else {
			// The server ignored the range and sent the whole object: cut
			// the range out of it here.
			if r.Offset > info.Size {
				out.Body.Close()
				return nil, Info{}, pastEnd(uri, r, info.Size)
			}
			if _, err := io.CopyN(io.Discard, out.Body, r.Offset); err != nil {
				out.Body.Close()
				return nil, Info{}, fmt.Errorf("get %s: %w", uri, err)
			}
			if r.Length > 0 {
				body = io.LimitReader(out.Body, r.Length)
			}
		}
	}
	// The HTTP body may be buffered already; make cancellation stop the
	// reading all the same.
	return readCloser{Reader: ctxReader{ctx: ctx, r: body}, Closer: out.Body}, info, nil
}

// emptyOrPastEnd answers a range S3 refused as unsatisfiable: one that
// starts right at the end reads nothing, any later one is invalid.
func (s *S3Store) emptyOrPastEnd(ctx context.Context, uri string, r *Range) (io.ReadCloser, Info, error) {
	info, err := s.Head(ctx, uri)
	if err != nil {
		return nil, Info{}, err
	}
	if r.Offset == info.Size {
		return io.NopCloser(strings.NewReader("")), info, nil
	}
	return nil, Info{}, pastEnd(uri, r, info.Size)
}

// httpRange is the HTTP Range header value for r.
func httpRange(r *Range) string {
	if r.Length <= 0 {
		return fmt.Sprintf("bytes=%d-", r.Offset)
	}
	return fmt.Sprintf("bytes=%d-%d", r.Offset, r.Offset+r.Length-1)
}

// contentRangeTotal returns the complete length from a Content-Range header
// value ("bytes 0-9/1000").
func contentRangeTotal(v string) (int64, bool) {
	_, total, ok := strings.Cut(v, "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil
}

// Head implements Store.
func (s *S3Store) Head(ctx context.Context, uri string) (Info, error) {
	bucket, key, err := s.object(uri)
	if err != nil {
		return Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return Info{}, s.fail("head", uri, err)
	}
	return Info{
		URI:        uri,
		Size:       aws.ToInt64(out.ContentLength),
		ModifyTime: aws.ToTime(out.LastModified),
		ETag:       unquote(out.ETag),
	}, nil
}

// Put implements Store.
func (s *S3Store) Put(ctx context.Context, uri string, body io.Reader) (Info, error) {
	bucket, key, err := s.object(uri)
	if err != nil {
		return Info{}, err
	}
	_, err = s.uploader.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
		Body:   ctxReader{ctx: ctx, r: body},
	})
	if err != nil {
		return Info{}, fmt.Errorf("put %s: %w", uri, err)
	}
	// The upload's answer lacks the modification time; ask for all of it.
	return s.Head(ctx, uri)
}

// Delete implements Store.
func (s *S3Store) Delete(ctx context.Context, uri string) error {
	bucket, key, err := s.object(uri)
	if err != nil {
		return err
	}
	_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", uri, err)
	}
	return nil
}

// List implements Store, with the ListObjectsV2 paginator.
func (s *S3Store) List(ctx context.Context, prefixURI string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		bucket, prefix, err := s.parse(prefixURI)
		if err != nil {
			yield(Info{}, err)
			return
		}
		in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}
		if prefix != "" {
			in.Prefix = aws.String(prefix)
		}
		pages := s3.NewListObjectsV2Paginator(s.client, in, func(o *s3.ListObjectsV2PaginatorOptions) {
			o.Limit = s.pageSize
			o.StopOnDuplicateToken = true
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				yield(Info{}, fmt.Errorf("list %s: %w", prefixURI, err))
				return
			}
			for _, obj := range page.Contents {
				if err := ctx.Err(); err != nil {
					yield(Info{}, fmt.Errorf("list %s: %w", prefixURI, err))
					return
				}
				info := Info{
					URI:        SchemeS3 + "://" + bucket + "/" + aws.ToString(obj.Key),
					Size:       aws.ToInt64(obj.Size),
					ModifyTime: aws.ToTime(obj.LastModified),
					ETag:       unquote(obj.ETag),
				}
				if !yield(info, nil) {
					return
				}
			}
		}
	}
}

// fail wraps an SDK error of op on uri, as ErrNotFound when it says the
// object does not exist.
func (s *S3Store) fail(op, uri string, err error) error {
	if isNotFound(err) {
		return notFound(uri)
	}
	return fmt.Errorf("%s %s: %w", op, uri, err)
}

// isNotFound reports whether err says that the object does not exist: the
// modelled NoSuchKey (GetObject) and NotFound (HeadObject, whose 404 has no
// body to tell more) errors, their codes, or a bare HTTP 404. A missing
// bucket is a setup problem, not a missing object, where S3 says so.
func isNotFound(err error) bool {
	var noSuchKey *types.NoSuchKey
	var notFound *types.NotFound
	if errors.As(err, &noSuchKey) || errors.As(err, &notFound) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		case "NoSuchBucket":
			return false
		}
	}
	return httpStatus(err) == http.StatusNotFound
}

// isInvalidRange reports whether err is S3 refusing a range that starts at
// or after the end of the object.
func isInvalidRange(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "InvalidRange" {
		return true
	}
	return httpStatus(err) == http.StatusRequestedRangeNotSatisfiable
}

// httpStatus is the HTTP status code of the response an SDK error came
// from, or 0.
func httpStatus(err error) int {
	var resp interface{ HTTPStatusCode() int }
	if errors.As(err, &resp) {
		return resp.HTTPStatusCode()
	}
	return 0
}

// unquote strips the quotes S3 puts around ETags.
func unquote(etag *string) string {
	return strings.Trim(aws.ToString(etag), `"`)
}
