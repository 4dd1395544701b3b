package objects

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Store's batch operations.
var (
	_ BatchDeleter = (*S3Store)(nil)
	_ Copier       = (*S3Store)(nil)
	_ Versioned    = (*S3Store)(nil)
)

// s3Target is one key (and maybe version) of a DeleteObjects call.
type s3Target struct {
	uri, bucket, key, version string
}

// DeleteBatch implements BatchDeleter with DeleteObjects calls of up to
// DeleteBatchSize keys, one bucket at a time. Every key of the answer is
// checked: a key S3 reports an error for, and a key it reports neither
// deleted nor failed, is an ObjectError; a call that fails as a whole fails
// each of its keys.
func (s *S3Store) DeleteBatch(ctx context.Context, uris []string) []ObjectError {
	var failed []ObjectError
	targets := make([]s3Target, 0, len(uris))
	for _, uri := range uris {
		bucket, key, err := s.object(uri)
		if err != nil {
			failed = append(failed, ObjectError{URI: uri, Err: err})
			continue
		}
		targets = append(targets, s3Target{uri: uri, bucket: bucket, key: key})
	}
	return append(failed, s.deleteTargets(ctx, targets)...)
}

// DeleteVersions implements Versioned, in DeleteObjects calls like
// DeleteBatch.
func (s *S3Store) DeleteVersions(ctx context.Context, versions []Version) []ObjectError {
	var failed []ObjectError
	targets := make([]s3Target, 0, len(versions))
	for _, v := range versions {
		bucket, key, err := s.object(v.URI)
		if err != nil {
			failed = append(failed, ObjectError{URI: v.URI, Err: err})
			continue
		}
		version := v.VersionID
		if version == "null" {
			// The version of a bucket that never had versioning, or written
			// while it was suspended: a plain delete removes its data
			// everywhere, where some servers refuse the id "null".
			version = ""
		}
		targets = append(targets, s3Target{uri: v.URI, bucket: bucket, key: key, version: version})
	}
	return append(failed, s.deleteTargets(ctx, targets)...)
}

// deleteTargets deletes targets in DeleteObjects calls, grouped by bucket in
// the order they come.
func (s *S3Store) deleteTargets(ctx context.Context, targets []s3Target) []ObjectError {
	var failed []ObjectError
	slices.SortStableFunc(targets, func(a, b s3Target) int { return strings.Compare(a.bucket, b.bucket) })
	for len(targets) > 0 {
		n := 1
		for n < len(targets) && n < s.deleteBatch && targets[n].bucket == targets[0].bucket {
			n++
		}
		batch := targets[:n]
		targets = targets[n:]
		if err := ctx.Err(); err != nil {
			for _, t := range append(batch, targets...) {
				failed = append(failed, ObjectError{URI: t.uri, Err: fmt.Errorf("delete %s: %w", t.uri, err)})
			}
			return failed
		}
		failed = append(failed, s.deleteObjects(ctx, batch)...)
	}
	return failed
}

// deleteObjects makes one DeleteObjects call for batch, all in one bucket,
// and checks the answer for every key.
func (s *S3Store) deleteObjects(ctx context.Context, batch []s3Target) []ObjectError {
	ids := make([]types.ObjectIdentifier, len(batch))
	for i, t := range batch {
		ids[i] = types.ObjectIdentifier{Key: aws.String(t.key)}
		if t.version != "" {
			ids[i].VersionId = aws.String(t.version)
		}
	}
	out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(batch[0].bucket),
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(false)},
	})
	failed := make([]ObjectError, 0)
	if err != nil {
		for _, t := range batch {
			failed = append(failed, ObjectError{URI: t.uri, Err: fmt.Errorf("delete %s: %w", t.uri, err)})
		}
		return failed
	}
	type id struct{ key, version string }
	done := make(map[id]bool, len(out.Deleted))
	for _, d := range out.Deleted {
		done[id{aws.ToString(d.Key), aws.ToString(d.VersionId)}] = true
	}
	problems := make(map[id]string, len(out.Errors))
	for _, e := range out.Errors {
		problems[id{aws.ToString(e.Key), aws.ToString(e.VersionId)}] = fmt.Sprintf("%s: %s", aws.ToString(e.Code), aws.ToString(e.Message))
	}
	for _, t := range batch {
		k := id{t.key, t.version}
		if msg, bad := problems[k]; bad {
			failed = append(failed, ObjectError{URI: t.uri, Err: fmt.Errorf("delete %s%s: %s", t.uri, versionNote(t.version), msg)})
			continue
		}
		// Some servers leave the version out of the answer for a plain key.
		if done[k] || done[id{t.key, ""}] {
			continue
		}
		failed = append(failed, ObjectError{URI: t.uri, Err: fmt.Errorf("delete %s%s: the server confirmed neither its deletion nor an error", t.uri, versionNote(t.version))})
	}
	return failed
}

// versionNote names a version in an error message.
func versionNote(version string) string {
	if version == "" {
		return ""
	}
	return " (version " + version + ")"
}

// Copy implements Copier: one CopyObject up to the copy threshold, a
// multipart upload of UploadPartCopy parts above it. Both copy the version
// of src that a HeadObject saw (If-Match on its ETag), so a source that
// changes meanwhile fails the copy instead of copying a mix.
func (s *S3Store) Copy(ctx context.Context, src, dst string) (Info, error) {
	srcBucket, srcKey, err := s.object(src)
	if err != nil {
		return Info{}, err
	}
	dstBucket, dstKey, err := s.object(dst)
	if err != nil {
		return Info{}, err
	}
	if src == dst {
		return Info{}, selfCopy(src, dst)
	}
	head, err := s.Head(ctx, src)
	if err != nil {
		return Info{}, err
	}
	source := copySource(srcBucket, srcKey)
	etag := `"` + head.ETag + `"`
	if head.Size <= s.copyThreshold {
		_, err = s.client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket:            aws.String(dstBucket),
			Key:               aws.String(dstKey),
			CopySource:        aws.String(source),
			CopySourceIfMatch: aws.String(etag),
		})
		if err != nil {
			return Info{}, s.fail("copy "+src+" to", dst, err)
		}
	} else if err := s.copyParts(ctx, dstBucket, dstKey, source, etag, head.Size); err != nil {
		return Info{}, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return s.Head(ctx, dst)
}

// copySource is the x-amz-copy-source value of a key: bucket/key with each
// segment percent-encoded ("+" too, which some servers read as a space).
func copySource(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(seg), "+", "%2B")
	}
	return bucket + "/" + strings.Join(segs, "/")
}

// copyParts copies size bytes of source into bucket/key with a multipart
// upload of UploadPartCopy parts, a few at a time, and aborts the upload on
// any failure.
func (s *S3Store) copyParts(ctx context.Context, bucket, key, source, etag string, size int64) (err error) {
	partSize := max(s.copyPartSize, (size+maxParts-1)/maxParts)
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	uploadID := created.UploadId
	defer func() {
		if err != nil {
			abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			defer cancel()
			_, _ = s.client.AbortMultipartUpload(abortCtx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: uploadID})
		}
	}()
	n := int((size + partSize - 1) / partSize)
	parts := make([]types.CompletedPart, n)
	errs := make([]error, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, defaultCopyConcurrency)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			first := int64(i) * partSize
			last := min(first+partSize, size) - 1
			out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
				Bucket:            aws.String(bucket),
				Key:               aws.String(key),
				UploadId:          uploadID,
				PartNumber:        aws.Int32(int32(i + 1)),
				CopySource:        aws.String(source),
				CopySourceIfMatch: aws.String(etag),
				CopySourceRange:   aws.String(fmt.Sprintf("bytes=%d-%d", first, last)),
			})
			if err != nil {
				errs[i] = fmt.Errorf("part %d: %w", i+1, err)
				cancel()
				return
			}
			if out.CopyPartResult == nil || out.CopyPartResult.ETag == nil {
				errs[i] = fmt.Errorf("part %d: the server returned no ETag", i+1)
				cancel()
				return
			}
			parts[i] = types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(int32(i + 1))}
		})
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(bucket),
		Key:             aws.String(key),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return err
}

// ListVersions implements Versioned with the ListObjectVersions paginator.
// On a bucket that never had versioning, each object has the one version
// "null".
func (s *S3Store) ListVersions(ctx context.Context, prefixURI string) iter.Seq2[Version, error] {
	return func(yield func(Version, error) bool) {
		bucket, prefix, err := s.parse(prefixURI)
		if err != nil {
			yield(Version{}, err)
			return
		}
		in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)}
		if prefix != "" {
			in.Prefix = aws.String(prefix)
		}
		if s.pageSize > 0 {
			in.MaxKeys = aws.Int32(s.pageSize)
		}
		for {
			page, err := s.client.ListObjectVersions(ctx, in)
			if err != nil {
				yield(Version{}, fmt.Errorf("list versions %s: %w", prefixURI, err))
				return
			}
			// A page holds versions and delete markers apart; merge them
			// back into key order, newest first.
			var vs []Version
			for _, v := range page.Versions {
				vs = append(vs, Version{
					Info: Info{
						URI:        SchemeS3 + "://" + bucket + "/" + aws.ToString(v.Key),
						Size:       aws.ToInt64(v.Size),
						ModifyTime: aws.ToTime(v.LastModified),
						ETag:       unquote(v.ETag),
					},
					VersionID: aws.ToString(v.VersionId),
					Latest:    aws.ToBool(v.IsLatest),
				})
			}
			for _, m := range page.DeleteMarkers {
				vs = append(vs, Version{
					Info: Info{
						URI:        SchemeS3 + "://" + bucket + "/" + aws.ToString(m.Key),
						ModifyTime: aws.ToTime(m.LastModified),
					},
					VersionID:    aws.ToString(m.VersionId),
					Latest:       aws.ToBool(m.IsLatest),
					DeleteMarker: true,
				})
			}
			slices.SortStableFunc(vs, func(a, b Version) int {
				if c := strings.Compare(a.URI, b.URI); c != 0 {
					return c
				}
				if a.Latest != b.Latest {
					if a.Latest {
						return -1
					}
					return 1
				}
				return b.ModifyTime.Compare(a.ModifyTime)
			})
			for _, v := range vs {
				if err := ctx.Err(); err != nil {
					yield(Version{}, fmt.Errorf("list versions %s: %w", prefixURI, err))
					return
				}
				if !yield(v, nil) {
					return
				}
			}
			if !aws.ToBool(page.IsTruncated) {
				return
			}
			// A server that pages without saying where to go on would
			// make this loop forever; S3 always says.
			next, nextVersion := aws.ToString(page.NextKeyMarker), aws.ToString(page.NextVersionIdMarker)
			if next == "" || (next == aws.ToString(in.KeyMarker) && nextVersion == aws.ToString(in.VersionIdMarker)) {
				yield(Version{}, fmt.Errorf("list versions %s: the server returned a truncated page without a new marker", prefixURI))
				return
			}
			in.KeyMarker = aws.String(next)
			in.VersionIdMarker = nil
			if nextVersion != "" {
				in.VersionIdMarker = aws.String(nextVersion)
			}
		}
	}
}
