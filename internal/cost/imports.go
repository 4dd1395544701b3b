package cost

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/lakeplane/lakeplane/internal/cost/usage"
)

// Format is the kind of usage data an import reads.
type Format string

// The formats ImportUsage reads.
const (
	// FormatCUR is an AWS Cost and Usage Report file: CUR 2.0 (snake_case
	// columns, a resource_tags JSON map) or legacy CUR (lineItem/...
	// columns, resourceTags/user:... columns), as CSV or gzip CSV; or a
	// CUR 2.0 or legacy CUR Parquet file (resource_tags a map column, or
	// resource_tags_user_... columns).
	FormatCUR Format = "CUR"
	// FormatGlueJobRuns is JSON lines of Glue GetJobRuns output: each line
	// a response ({"JobRuns": [...]}) or one JobRun.
	FormatGlueJobRuns Format = "GLUE_JOB_RUNS"
	// FormatAthenaQueries is JSON lines of Athena BatchGetQueryExecution
	// output: each line a response ({"QueryExecutions": [...]}) or one
	// QueryExecution.
	FormatAthenaQueries Format = "ATHENA_QUERIES"
	// FormatSageMaker is JSON lines of SageMaker ListNotebookInstances
	// output: each line a response ({"NotebookInstances": [...]}) or one
	// NotebookInstanceSummary.
	FormatSageMaker Format = "SAGEMAKER"
)

// maxLineBytes is the longest line (or CSV record) an import reads; a
// longer one is malformed.
const maxLineBytes = 4 << 20

// item is what a parser makes of one line: the records it holds, or why it
// is malformed. A line with neither (a run still running, a notebook not in
// service) holds nothing to record yet.
type item struct {
	line    int64
	records []*usage.Record
	err     error
}

// parser reads usage data from r, calling yield with each line's item in
// order; it stops at yield's first error and returns it. Errors reading r
// are returned too; malformed lines are items.
type parser func(ctx context.Context, r io.Reader, yield func(item) error) error

// Parsing holds what parsers need besides the data: the prices, the tags
// that name a record's team and dataset, and the clock.
type Parsing struct {
	Prices Prices
	// TeamTag and DatasetTag are the user tags (without "user:") whose
	// values are a record's team and dataset, e.g. "team".
	TeamTag, DatasetTag string
	// Now is the time a snapshot (ListNotebookInstances) was taken.
	Now func() time.Time
}

// parser returns the parser of format f.
func (p *Parsing) parser(f Format) (parser, error) {
	switch f {
	case FormatCUR:
		return p.parseCUR, nil
	case FormatGlueJobRuns:
		return jsonLines("JobRuns", p.glueRun), nil
	case FormatAthenaQueries:
		return jsonLines("QueryExecutions", p.athenaQuery), nil
	case FormatSageMaker:
		return jsonLines("NotebookInstances", p.notebook), nil
	}
	return nil, fmt.Errorf("unknown usage format %q", f)
}

// decompress returns r, gunzipped when it starts like gzip data, or
// errParquet when it starts like a Parquet file, which is not read as a
// stream (see Service.read).
func decompress(r io.Reader) (io.Reader, func() error, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, zr.Close, nil
	case bytes.Equal(head, []byte("PAR1")):
		return nil, nil, errParquet
	}
	return br, func() error { return nil }, nil
}

// errParquet is decompress's error for a Parquet file.
var errParquet = errors.New("a Parquet file")

// lines calls fn with each line of r (without its line break) and its
// 1-based number, streaming: a line longer than maxLineBytes is passed as
// nil with errLineTooLong. It stops at fn's first error.
func lines(ctx context.Context, r io.Reader, fn func(n int64, line []byte, err error) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		n   int64
		buf []byte
	)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n++
		buf = buf[:0]
		tooLong := false
		var readErr error
		for {
			chunk, err := br.ReadSlice('\n')
			if !tooLong {
				if len(buf)+len(chunk) > maxLineBytes+1 {
					tooLong, buf = true, buf[:0]
				} else {
					buf = append(buf, chunk...)
				}
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			readErr = err
			break
		}
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return fmt.Errorf("line %d: %w", n, readErr)
		}
		atEOF := readErr != nil
		if atEOF && len(buf) == 0 && !tooLong {
			return nil
		}
		var err error
		if tooLong {
			err = fn(n, nil, errLineTooLong)
		} else {
			err = fn(n, bytes.TrimSuffix(bytes.TrimSuffix(buf, []byte("\n")), []byte("\r")), nil)
		}
		if err != nil {
			return err
		}
		if atEOF {
			return nil
		}
	}
}

// errLineTooLong is the error for a line longer than maxLineBytes.
var errLineTooLong = fmt.Errorf("line is longer than %d bytes", maxLineBytes)

// jsonLines returns the parser of JSON lines whose every line is either an
// AWS response holding a list under listKey or one element of that list;
// each element becomes records through convert, which returns none for an
// element with nothing to record yet.
func jsonLines[T any](listKey string, convert func(T) ([]*usage.Record, error)) parser {
	return func(ctx context.Context, r io.Reader, yield func(item) error) error {
		return lines(ctx, r, func(n int64, line []byte, err error) error {
			it := item{line: n, err: err}
			if err == nil {
				line = bytes.TrimSpace(line)
				if len(line) == 0 {
					return nil
				}
				it.records, it.err = decodeJSONLine(line, listKey, convert)
			}
			return yield(it)
		})
	}
}

// decodeJSONLine converts one JSON line, as jsonLines describes.
func decodeJSONLine[T any](line []byte, listKey string, convert func(T) ([]*usage.Record, error)) ([]*usage.Record, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(line, &probe); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	elems := []json.RawMessage{line}
	if list, ok := probe[listKey]; ok {
		if err := json.Unmarshal(list, &elems); err != nil {
			return nil, fmt.Errorf("%s: not a list: %w", listKey, err)
		}
	}
	var out []*usage.Record
	for i, raw := range elems {
		var v T
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", listKey, i, err)
		}
		recs, err := convert(v)
		for _, r := range recs {
			if err == nil {
				err = r.Validate()
			}
		}
		if err != nil {
			if len(elems) > 1 {
				return nil, fmt.Errorf("%s[%d]: %w", listKey, i, err)
			}
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// awsTime is a time as AWS exports write it: RFC 3339 text (the CLI) or
// seconds since the epoch (the SDKs' JSON).
type awsTime struct{ time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (t *awsTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		p, err := parseTime(s)
		if err != nil {
			return err
		}
		t.Time = p
		return nil
	}
	d, err := decimal.NewFromString(string(b))
	if err != nil {
		return fmt.Errorf("time %s: neither RFC 3339 text nor epoch seconds", b)
	}
	if d.Abs().GreaterThan(decimal.New(1, 11)) {
		return fmt.Errorf("time %s: epoch seconds out of range", b)
	}
	sec := d.IntPart()
	nanos := d.Sub(decimal.NewFromInt(sec)).Shift(9).IntPart()
	t.Time = time.Unix(sec, nanos).UTC()
	return nil
}

// timeLayouts are the layouts parseTime tries, in order.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04Z07:00"}

// parseTime parses a time as AWS writes them; times without a zone are UTC.
func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not RFC 3339", s)
}

// jsonDecimal parses an optional JSON number; ok is false when it is
// absent.
func jsonDecimal(n json.Number, what string) (d decimal.Decimal, ok bool, err error) {
	if n == "" {
		return decimal.Zero, false, nil
	}
	d, err = decimal.NewFromString(n.String())
	if err != nil {
		return decimal.Zero, false, fmt.Errorf("%s %q: %w", what, n, err)
	}
	return d, true, nil
}

// jsonInt parses an optional JSON integer; absent is 0.
func jsonInt(n json.Number, what string) (int64, error) {
	if n == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not an integer", what, n)
	}
	return v, nil
}

// glueJobRunJSON is a JobRun of Glue's GetJobRuns output.
type glueJobRunJSON struct {
	ID              string            `json:"Id"`
	JobName         string            `json:"JobName"`
	JobRunState     string            `json:"JobRunState"`
	StartedOn       awsTime           `json:"StartedOn"`
	CompletedOn     awsTime           `json:"CompletedOn"`
	ExecutionTime   json.Number       `json:"ExecutionTime"`
	MaxCapacity     json.Number       `json:"MaxCapacity"`
	WorkerType      string            `json:"WorkerType"`
	NumberOfWorkers json.Number       `json:"NumberOfWorkers"`
	DPUSeconds      json.Number       `json:"DPUSeconds"`
	ExecutionClass  string            `json:"ExecutionClass"`
	GlueVersion     string            `json:"GlueVersion"`
	Arguments       map[string]string `json:"Arguments"`
}

// glueFinal are the states of a Glue job run that ended: only those are
// recorded, since a running one has not its final cost yet.
var glueFinal = map[string]bool{"SUCCEEDED": true, "FAILED": true, "STOPPED": true, "TIMEOUT": true, "ERROR": true, "EXPIRED": true}

// glueRun converts a Glue JobRun into its usage record, priced.
func (p *Parsing) glueRun(j glueJobRunJSON) ([]*usage.Record, error) {
	if j.ID == "" {
		return nil, errors.New("JobRun has no Id")
	}
	if j.StartedOn.IsZero() {
		return nil, fmt.Errorf("job run %q: no StartedOn", j.ID)
	}
	if !glueFinal[j.JobRunState] {
		return nil, nil
	}
	r := GlueJobRun{ID: j.ID, JobName: j.JobName, State: j.JobRunState, StartedOn: j.StartedOn.Time,
		CompletedOn: j.CompletedOn.Time, WorkerType: j.WorkerType, ExecutionClass: j.ExecutionClass}
	var err error
	if r.ExecutionTime, err = jsonInt(j.ExecutionTime, "ExecutionTime"); err != nil {
		return nil, fmt.Errorf("job run %q: %w", j.ID, err)
	}
	if r.NumberOfWorkers, err = jsonInt(j.NumberOfWorkers, "NumberOfWorkers"); err != nil {
		return nil, fmt.Errorf("job run %q: %w", j.ID, err)
	}
	if r.MaxCapacity, _, err = jsonDecimal(j.MaxCapacity, "MaxCapacity"); err != nil {
		return nil, fmt.Errorf("job run %q: %w", j.ID, err)
	}
	if r.DPUSeconds, r.HasDPUSeconds, err = jsonDecimal(j.DPUSeconds, "DPUSeconds"); err != nil {
		return nil, fmt.Errorf("job run %q: %w", j.ID, err)
	}
	cost, dpuHours, err := p.Prices.GlueRunCost(r)
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{"jobName": j.JobName, "state": j.JobRunState}
	for k, v := range map[string]string{"workerType": j.WorkerType, "executionClass": j.ExecutionClass, "glueVersion": j.GlueVersion,
		"numberOfWorkers": j.NumberOfWorkers.String(), "maxCapacity": j.MaxCapacity.String(), "executionTime": j.ExecutionTime.String()} {
		if v != "" {
			attrs[k] = v
		}
	}
	if r.PythonShell() {
		attrs["pythonShell"] = "true"
	}
	end := r.CompletedOn
	if end.IsZero() {
		end = r.StartedOn.Add(time.Duration(r.ExecutionTime) * time.Second)
	}
	return []*usage.Record{{
		ID:        "glue:" + j.ID,
		Source:    usage.GlueJobRun,
		Resource:  "glue:job/" + j.JobName,
		Dataset:   j.Arguments["--dataset"],
		Team:      j.Arguments["--team"],
		Service:   "AWSGlue",
		StartTime: r.StartedOn, EndTime: end,
		Quantity: dpuHours, Unit: usage.UnitDPUHours,
		Cost: cost, Currency: p.Prices.Currency,
		Attributes: attrs,
	}}, nil
}

// athenaQueryJSON is a QueryExecution of Athena's BatchGetQueryExecution
// output.
type athenaQueryJSON struct {
	QueryExecutionID      string `json:"QueryExecutionId"`
	StatementType         string `json:"StatementType"`
	WorkGroup             string `json:"WorkGroup"`
	QueryExecutionContext struct {
		Database string `json:"Database"`
		Catalog  string `json:"Catalog"`
	} `json:"QueryExecutionContext"`
	Status struct {
		State              string  `json:"State"`
		SubmissionDateTime awsTime `json:"SubmissionDateTime"`
		CompletionDateTime awsTime `json:"CompletionDateTime"`
	} `json:"Status"`
	Statistics struct {
		DataScannedInBytes json.Number `json:"DataScannedInBytes"`
	} `json:"Statistics"`
}

// athenaFinal are the states of a query that ended.
var athenaFinal = map[string]bool{"SUCCEEDED": true, "FAILED": true, "CANCELLED": true}

// athenaQuery converts an Athena QueryExecution into its usage record,
// priced.
func (p *Parsing) athenaQuery(j athenaQueryJSON) ([]*usage.Record, error) {
	if j.QueryExecutionID == "" {
		return nil, errors.New("QueryExecution has no QueryExecutionId")
	}
	if j.Status.SubmissionDateTime.IsZero() {
		return nil, fmt.Errorf("query %q: no Status.SubmissionDateTime", j.QueryExecutionID)
	}
	if !athenaFinal[j.Status.State] {
		return nil, nil
	}
	scanned, err := jsonInt(j.Statistics.DataScannedInBytes, "Statistics.DataScannedInBytes")
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", j.QueryExecutionID, err)
	}
	q := AthenaQuery{ID: j.QueryExecutionID, State: j.Status.State, StatementType: j.StatementType,
		DataScannedInBytes: scanned, WorkGroup: j.WorkGroup, Database: j.QueryExecutionContext.Database,
		SubmittedOn: j.Status.SubmissionDateTime.Time, CompletedOn: j.Status.CompletionDateTime.Time}
	cost, err := p.Prices.AthenaQueryCost(q)
	if err != nil {
		return nil, err
	}
	wg := cmpOr(q.WorkGroup, "primary")
	attrs := map[string]string{"state": q.State, "workGroup": wg}
	for k, v := range map[string]string{"statementType": q.StatementType, "database": q.Database, "catalog": j.QueryExecutionContext.Catalog} {
		if v != "" {
			attrs[k] = v
		}
	}
	return []*usage.Record{{
		ID:        "athena:" + q.ID,
		Source:    usage.AthenaQuery,
		Resource:  "athena:workgroup/" + wg,
		Service:   "AmazonAthena",
		StartTime: q.SubmittedOn, EndTime: q.CompletedOn,
		Quantity: decimal.NewFromInt(scanned), Unit: usage.UnitBytesScanned,
		Cost: cost, Currency: p.Prices.Currency,
		Attributes: attrs,
	}}, nil
}

// cmpOr returns s, or def when s is empty.
func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// notebookJSON is a NotebookInstanceSummary of SageMaker's
// ListNotebookInstances output.
type notebookJSON struct {
	Name             string  `json:"NotebookInstanceName"`
	ARN              string  `json:"NotebookInstanceArn"`
	Status           string  `json:"NotebookInstanceStatus"`
	InstanceType     string  `json:"InstanceType"`
	CreationTime     awsTime `json:"CreationTime"`
	LastModifiedTime awsTime `json:"LastModifiedTime"`
}

// notebook converts a notebook instance in service into usage records:
// ListNotebookInstances is a snapshot, so an instance InService since its
// LastModifiedTime is recorded for each UTC day of that period that ended
// by the time of the import (Now), one record per day keyed by the
// instance and the day's start. Importing later snapshots adds the days
// that ended since and counts none twice; the day in progress is recorded
// by a later import.
func (p *Parsing) notebook(j notebookJSON) ([]*usage.Record, error) {
	if j.Name == "" {
		return nil, errors.New("notebook instance has no NotebookInstanceName")
	}
	if j.Status != "InService" {
		return nil, nil
	}
	since := j.LastModifiedTime.Time
	if since.IsZero() {
		since = j.CreationTime.Time
	}
	if since.IsZero() {
		return nil, fmt.Errorf("notebook %q: neither LastModifiedTime nor CreationTime", j.Name)
	}
	if _, ok := p.Prices.NotebookHourly[j.InstanceType]; !ok {
		return nil, fmt.Errorf("notebook %q: no hourly rate for instance type %q", j.Name, j.InstanceType)
	}
	key := cmpOr(j.ARN, j.Name)
	now := p.Now().UTC()
	start := since.UTC()
	if oldest := now.AddDate(0, 0, -maxNotebookDays).Truncate(24 * time.Hour); start.Before(oldest) {
		// Older days are for the snapshots of their time to record.
		start = oldest
	}
	var out []*usage.Record
	for {
		end := time.Date(start.Year(), start.Month(), start.Day()+1, 0, 0, 0, 0, time.UTC)
		if end.After(now) {
			break
		}
		seconds := int64(end.Sub(start) / time.Second)
		cost, hours, err := p.Prices.NotebookCost(j.InstanceType, seconds)
		if err != nil {
			return nil, fmt.Errorf("notebook %q: %w", j.Name, err)
		}
		out = append(out, &usage.Record{
			ID:        "sagemaker:" + key + "@" + start.Format(time.RFC3339Nano),
			Source:    usage.SageMakerNotebook,
			Resource:  "sagemaker:notebook/" + j.Name,
			Service:   "AmazonSageMaker",
			StartTime: start, EndTime: end,
			Quantity: hours, Unit: usage.UnitInstanceHours,
			Cost: cost, Currency: p.Prices.Currency,
			Attributes: map[string]string{"instanceType": j.InstanceType, "status": j.Status, "inServiceSince": since.UTC().Format(time.RFC3339)},
		})
		start = end
	}
	return out, nil
}

// maxNotebookDays is how many days back from the import a notebook's time
// in service is recorded, at most.
const maxNotebookDays = 400

// tagKey normalizes a resource tag key the way CUR 2.0 names its
// resource_tags entries, so that "resourceTags/user:Cost Center" and
// "user_cost_center" match: lower case, and every character but letters
// and digits an underscore.
func tagKey(k string) string {
	k = strings.TrimPrefix(k, "resourceTags/")
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, k)
}

// tagAttributes returns the attributes a record gets for its tags: one
// "tag:<key>" per tag, with the key as the report wrote it.
func tagAttributes(tags map[string]string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out["tag:"+k] = v
	}
	return out
}
