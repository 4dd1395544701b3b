package tables

import (
	"strconv"

	// Registers the s3:// scheme of iceberg-go's file IO (gocloud blob on
	// aws-sdk-go-v2), for an s3://bucket/prefix warehouse.
	_ "github.com/apache/iceberg-go/io/gocloud/s3"
)

// WithS3 configures the file IO of an s3:// warehouse: endpoint overrides
// AWS's (for an S3-compatible server), region overrides the AWS
// configuration chain's, and pathStyle addresses buckets by path
// (http://host/bucket/key). Empty values leave the AWS defaults;
// credentials always come from the AWS configuration chain.
func WithS3(endpoint, region string, pathStyle bool) Option {
	props := map[string]string{}
	if endpoint != "" {
		props["s3.endpoint"] = endpoint
	}
	if region != "" {
		props["s3.region"] = region
	}
	if endpoint != "" || pathStyle {
		props["s3.force-virtual-addressing"] = strconv.FormatBool(!pathStyle)
	}
	return WithIOProperties(props)
}
