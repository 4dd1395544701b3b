// Package quality is the home of lakeplane's data quality checks: rule
// suites written in AWS Glue DQDL (package dqdl) and their one-pass
// evaluation over Arrow record batches (package eval).
package quality
