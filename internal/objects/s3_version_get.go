package objects

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// VersionReader is implemented by stores that read a given version of an
// object (S3), such as one that ListVersions yields as not the latest.
type VersionReader interface {
	// GetVersion opens the version versionID of the object at uri for
	// reading. The caller must close the reader.
	GetVersion(ctx context.Context, uri, versionID string) (io.ReadCloser, Info, error)
}

var _ VersionReader = (*S3Store)(nil)

// GetVersion implements VersionReader. The version "null" is read as the
// version written while versioning was off.
func (s *S3Store) GetVersion(ctx context.Context, uri, versionID string) (io.ReadCloser, Info, error) {
	bucket, key, err := s.object(uri)
	if err != nil {
		return nil, Info{}, err
	}
	if versionID == "" {
		return nil, Info{}, invalidURI(uri, "needs a version id to read a version")
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(versionID),
	})
	if err != nil {
		return nil, Info{}, s.fail("get"+versionNote(versionID), uri, err)
	}
	info := Info{
		URI:        uri,
		Size:       aws.ToInt64(out.ContentLength),
		ModifyTime: aws.ToTime(out.LastModified),
		ETag:       unquote(out.ETag),
	}
	return readCloser{Reader: ctxReader{ctx: ctx, r: out.Body}, Closer: out.Body}, info, nil
}

// ReadVersion opens a version of the object at uri through s, or fails
// with ErrNoVersions when s reads no versions.
func ReadVersion(ctx context.Context, s Store, uri, versionID string) (io.ReadCloser, Info, error) {
	if v, ok := s.(VersionReader); ok {
		return v.GetVersion(ctx, uri, versionID)
	}
	return nil, Info{}, fmt.Errorf("get %s%s: %w", uri, versionNote(versionID), ErrNoVersions)
}
