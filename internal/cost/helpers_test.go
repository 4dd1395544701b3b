package cost

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
	"github.com/lakeplane/lakeplane/internal/store/storetest"
)

// cur2CSV is a CUR 2.0 file. By resource: glue nightly 1.1 + 2.2 - 0.05 =
// 3.25, athena 0.0123456785 rounded to 0.012345679, the tax line 0.33;
// total 3.592345679. By month: 2026-01 1.112345679, 2026-02 2.48.
const cur2CSV = `identity_line_item_id,identity_time_interval,line_item_line_item_type,line_item_usage_start_date,line_item_usage_end_date,line_item_product_code,line_item_usage_type,line_item_operation,line_item_resource_id,line_item_usage_amount,line_item_unblended_cost,line_item_currency_code,pricing_unit,resource_tags
li-1,2026-01-01T00:00:00Z/2026-01-01T01:00:00Z,Usage,2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,AWSGlue,USE1-ETL-DPU-Hour,Jobrun,arn:aws:glue:us-east-1:1:job/nightly,2.5,1.1,USD,DPU-Hour,"{""user_team"":""data"",""user_dataset"":""sales.orders""}"
li-2,2026-01-02T00:00:00Z/2026-01-02T01:00:00Z,Usage,2026-01-02T00:00:00Z,2026-01-02T01:00:00Z,AmazonAthena,USE1-DataScannedInTB,RunQuery,arn:aws:athena:us-east-1:1:workgroup/primary,0.002,0.0123456785,USD,Terabytes,"{""user_team"":""bi"",
""user_note"":""a, b""}"
li-3,2026-02-01T00:00:00Z/2026-02-01T01:00:00Z,Usage,2026-02-01T00:00:00Z,2026-02-01T01:00:00Z,AWSGlue,USE1-ETL-DPU-Hour,Jobrun,arn:aws:glue:us-east-1:1:job/nightly,5,2.2,USD,DPU-Hour,"{""user_team"":""data"",""user_dataset"":""sales.orders""}"
li-4,2026-02-01T00:00:00Z/2026-03-01T00:00:00Z,Tax,2026-02-01T00:00:00Z,2026-03-01T00:00:00Z,AWSGlue,,,,,0.33,USD,,
li-5,2026-02-03T00:00:00Z/2026-02-03T01:00:00Z,Credit,2026-02-03T00:00:00Z,2026-02-03T01:00:00Z,AWSGlue,USE1-ETL-DPU-Hour,Jobrun,arn:aws:glue:us-east-1:1:job/nightly,0,-0.05,USD,DPU-Hour,"{""user_team"":""data""}"
`

// legacyCSV is a legacy CUR file, with a BOM and CRLF line ends. Total
// 1.800000001: notebook nb1 1.2 + 0.6, the bucket 0.000000001.
const legacyCSV = "\ufeffidentity/LineItemId,identity/TimeInterval,lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/ProductCode,lineItem/UsageType,lineItem/ResourceId,lineItem/UsageAmount,lineItem/UnblendedCost,lineItem/CurrencyCode,pricing/unit,resourceTags/user:team,resourceTags/user:dataset\r\n" +
	"L1,2026-01-05T00:00:00Z/2026-01-06T00:00:00Z,Usage,2026-01-05T00:00:00Z,2026-01-06T00:00:00Z,AmazonSageMaker,USE1-Notebk:ml.t3.medium,arn:aws:sagemaker:us-east-1:1:notebook-instance/nb1,24,1.2,USD,Hrs,ml,\r\n" +
	"L2,2026-01-06T00:00:00Z/2026-01-07T00:00:00Z,Usage,2026-01-06T00:00:00Z,2026-01-07T00:00:00Z,AmazonS3,TimedStorage-ByteHrs,lake,0.00001,0.000000001,USD,GB-Mo,data,sales.orders\r\n" +
	"L3,2026-02-06T00:00:00Z/2026-02-06T12:00:00Z,Usage,2026-02-06T00:00:00Z,2026-02-06T12:00:00Z,AmazonSageMaker,USE1-Notebk:ml.t3.medium,arn:aws:sagemaker:us-east-1:1:notebook-instance/nb1,12,0.6,USD,Hrs,ml,\r\n"

// glueJSONL holds runs costing 0.073333333 (30 s, 10 DPU), 0.074555556
// (61 s, 5 × G.2X) and 0.099445833 (Flex, 1234.5 DPU-s), total
// 0.247334722; a running run; and a malformed line 4.
const glueJSONL = `{"JobRuns":[{"Id":"jr_a","JobName":"nightly","StartedOn":"2026-01-10T00:00:00.000000+00:00","CompletedOn":"2026-01-10T00:00:30+00:00","JobRunState":"SUCCEEDED","ExecutionTime":30,"MaxCapacity":10.0,"Arguments":{"--team":"data","--dataset":"sales.orders"}},{"Id":"jr_b","JobName":"nightly","StartedOn":"2026-01-11T00:00:00Z","JobRunState":"FAILED","ExecutionTime":61,"WorkerType":"G.2X","NumberOfWorkers":5}]}
{"Id":"jr_c","JobName":"flex","StartedOn":1768435200,"CompletedOn":1768436434.5,"JobRunState":"SUCCEEDED","ExecutionTime":1234,"ExecutionClass":"FLEX","WorkerType":"G.1X","NumberOfWorkers":2,"DPUSeconds":1234.5}

{"Id":"jr_d","JobName":"nightly","StartedOn":"2026-01-12T00:00:00Z","JobRunState":"RUNNING"}
{"Id":
`

// athenaJSONL holds queries costing 0.000047684 (nothing scanned, the
// minimum), 0.000052452 (10 MB and a byte) and 0 (DDL), and a running one.
const athenaJSONL = `{"QueryExecutions":[{"QueryExecutionId":"q1","StatementType":"DML","WorkGroup":"primary","QueryExecutionContext":{"Database":"sales"},"Status":{"State":"SUCCEEDED","SubmissionDateTime":"2026-01-03T00:00:00Z","CompletionDateTime":"2026-01-03T00:00:01Z"},"Statistics":{"DataScannedInBytes":0}},{"QueryExecutionId":"q2","StatementType":"DML","WorkGroup":"etl","Status":{"State":"SUCCEEDED","SubmissionDateTime":"2026-01-03T01:00:00Z"},"Statistics":{"DataScannedInBytes":10485761}}],"UnprocessedQueryExecutionIds":[]}
{"QueryExecutionId":"q3","StatementType":"DDL","Status":{"State":"SUCCEEDED","SubmissionDateTime":"2026-01-04T00:00:00Z"},"Statistics":{"DataScannedInBytes":0}}
{"QueryExecutionId":"q4","StatementType":"DML","Status":{"State":"RUNNING","SubmissionDateTime":"2026-01-04T00:00:00Z"}}
`

// sageMakerJSONL holds a notebook in service since 2026-01-01 18:00 and a
// stopped one.
const sageMakerJSONL = `{"NotebookInstances":[{"NotebookInstanceName":"nb1","NotebookInstanceArn":"arn:aws:sagemaker:us-east-1:1:notebook-instance/nb1","NotebookInstanceStatus":"InService","InstanceType":"ml.t3.medium","CreationTime":"2025-12-01T00:00:00Z","LastModifiedTime":"2026-01-01T18:00:00Z"},{"NotebookInstanceName":"nb2","NotebookInstanceStatus":"Stopped","InstanceType":"ml.t3.large","LastModifiedTime":1767225600}]}
`

// gz compresses s.
func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fixture is a service over a fresh SQLite store, a file root and a fake
// S3 bucket "lake".
type fixture struct {
	svc     *Service
	store   store.Store
	objects objects.Store
	dir     string
	now     time.Time
}

// newFixture opens a fixture; withS3 starts the fake S3.
func newFixture(t *testing.T, withS3 bool) *fixture {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "lakeplane.db"))
	st := storetest.Opened(t, s, err)
	return newFixtureOn(t, st, withS3)
}

// newFixtureOn opens a fixture on st.
func newFixtureOn(t *testing.T, st store.Store, withS3 bool) *fixture {
	t.Helper()
	f := &fixture{store: st, dir: t.TempDir(), now: time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC)}
	fs, err := objects.NewFileStore([]string{f.dir})
	if err != nil {
		t.Fatal(err)
	}
	stores := map[string]objects.Store{objects.SchemeFile: fs}
	if withS3 {
		fake := objectstest.NewFakeS3(t, "lake")
		s3, err := objects.NewS3Store(t.Context(), objects.S3Options{
			Endpoint: fake.URL, Region: "us-east-1", PathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider("test-access-key", "test-secret-key", ""),
		})
		if err != nil {
			t.Fatal(err)
		}
		stores[objects.SchemeS3] = s3
	}
	rt, err := objects.NewRouter(stores)
	if err != nil {
		t.Fatal(err)
	}
	f.objects = rt
	svc, err := NewService(Deps{Store: st.(store.Usage), Objects: rt, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

// put stores data under name, at a file:// URI or, when the name starts
// with "s3/", at s3://lake/<rest>, and returns the URI.
func (f *fixture) put(t *testing.T, name string, data []byte) string {
	t.Helper()
	if key, ok := strings.CutPrefix(name, "s3/"); ok {
		uri := "s3://lake/" + key
		objectstest.Put(t, f.objects, uri, data)
		return uri
	}
	path := filepath.Join(f.dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return "file://" + path
}

// importOK imports uri and checks the counts.
func (f *fixture) importOK(t *testing.T, format Format, uri string, skip bool, imported, skipped int64) *ImportResult {
	t.Helper()
	res, err := f.svc.Import(context.Background(), ImportRequest{Format: format, URI: uri, SkipMalformed: skip})
	if err != nil {
		t.Fatalf("Import(%s): %v", uri, err)
	}
	if res.Imported != imported || res.Skipped != skipped {
		t.Errorf("Import(%s) imported %d, skipped %d; want %d, %d (errors %+v)", uri, res.Imported, res.Skipped, imported, skipped, res.Errors)
	}
	return res
}

// report returns the report of the whole store grouped by groupBy.
func (f *fixture) report(t *testing.T, groupBy store.UsageGroupBy) *Report {
	t.Helper()
	rep, err := f.svc.Report(context.Background(), ReportRequest{GroupBy: groupBy})
	if err != nil {
		t.Fatalf("Report: %v", err)
	}
	return rep
}
