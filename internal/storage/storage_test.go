package storage_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"golang.org/x/text/encoding/korean"

	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
	"github.com/lakeplane/lakeplane/internal/storage"
)

// denyAll lets the caller read no dataset whose id it holds.
type access map[string]bool

func (a access) CanReadAll(_ context.Context, id string) (bool, string) {
	if a[id] {
		return false, "column \"rrn\" has grade 1, which the caller's groups do not hold"
	}
	return true, ""
}

// env is a Service over one backend, with a warehouse holding the live
// dataset sales.orders, and an engineer's context.
type env struct {
	name  string
	svc   *storage.Service
	store objects.Store
	base  string // the landing zone, ending in "/"
	wh    string
	f     *objectstest.FakeS3 // nil for file://
	deny  access
	ctx   context.Context
}

func envs(t *testing.T) []*env {
	dir := t.TempDir()
	fs, err := objects.NewFileStore([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	f := objectstest.NewFakeS3(t, "lake")
	s3, err := objects.NewS3Store(t.Context(), objects.S3Options{
		Endpoint: f.URL, Region: "us-east-1", PathStyle: true,
		Credentials:   credentials.NewStaticCredentialsProvider("k", "s", ""),
		ListPageSize:  0, // gofakes3 pages versions without markers
		CopyThreshold: objects.MinPartSize, CopyPartSize: objects.MinPartSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []*env
	for _, e := range []*env{
		{name: "file", store: fs, base: "file://" + dir + "/landing/", wh: "file://" + dir + "/wh"},
		{name: "s3", store: s3, base: "s3://lake/landing/", wh: "s3://lake/wh", f: f},
	} {
		e.deny = access{}
		wh := e.wh
		svc, err := storage.New(storage.Config{
			Store:     e.store,
			Warehouse: wh,
			Tables: func(context.Context) ([]storage.TableLocation, error) {
				return []storage.TableLocation{{Dataset: "sales.orders", URI: storage.LocationOf(wh, "sales.orders")}}, nil
			},
			Access:      e.deny,
			Parallelism: 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		e.svc = svc
		e.ctx = auth.NewContext(t.Context(), &auth.Principal{Name: "eve", Groups: []string{"eng"}, Roles: []auth.Role{auth.Engineer}})
		out = append(out, e)
	}
	return out
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, e := range envs(t) {
		t.Run(e.name, func(t *testing.T) { fn(t, e) })
	}
}

func put(t *testing.T, e *env, rel string, data []byte) string {
	t.Helper()
	uri := e.base + rel
	if strings.Contains(rel, "://") {
		uri = rel
	}
	objectstest.Put(t, e.store, uri, data)
	return uri
}

func listed(t *testing.T, e *env, prefix string) []string {
	t.Helper()
	var out []string
	for _, u := range objectstest.URIs(objectstest.List(t, e.store, prefix)) {
		out = append(out, strings.TrimPrefix(u, e.base))
	}
	return out
}

func TestMoveLeavesSiblingAlone(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		put(t, e, "a/b.csv", []byte("1\n"))
		put(t, e, "a/b.csv.bak", []byte("22\n"))
		put(t, e, "a/b.csv2/x.csv", []byte("333\n"))
		res, err := e.svc.Move(e.ctx, e.base+"a/b.csv", e.base+"c/")
		if err != nil {
			t.Fatalf("Move: %v", err)
		}
		if res.ObjectsMoved != 1 || res.BytesMoved != 2 {
			t.Errorf("Move = %+v, want 1 object of 2 bytes", res)
		}
		if got, want := listed(t, e, e.base), []string{"a/b.csv.bak", "a/b.csv2/x.csv", "c/b.csv"}; !slices.Equal(got, want) {
			t.Errorf("after the move: %q, want %q", got, want)
		}
	})
}

func TestMoveFolder(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for _, k := range []string{"d/1.csv", "d/sub/2.csv", "d/3.csv", "d/4.csv", "d2/x.csv", "d.csv"} {
			put(t, e, k, []byte(k))
		}
		res, err := e.svc.Move(e.ctx, e.base+"d/", e.base+"e/")
		if err != nil || res.ObjectsMoved != 4 || len(res.Errors) != 0 {
			t.Fatalf("Move = %+v, %v; want 4 moved", res, err)
		}
		want := []string{"d.csv", "d2/x.csv", "e/1.csv", "e/3.csv", "e/4.csv", "e/sub/2.csv"}
		if got := listed(t, e, e.base); !slices.Equal(got, want) {
			t.Errorf("after the move: %q, want %q", got, want)
		}
		if _, err := e.svc.Move(e.ctx, e.base+"e/", e.base+"e/inner/"); len(fault.FieldErrors(err)) != 1 {
			t.Errorf("move into itself: %v, want fault.Invalid", err)
		}
		if _, err := e.svc.Move(e.ctx, e.base+"e", e.base+"f.csv"); len(fault.FieldErrors(err)) != 1 {
			t.Errorf("moving a folder named without /: %v, want fault.Invalid", err)
		}
	})
}

func TestMoveFailureMidwayReportsWhatMoved(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		if e.f == nil {
			t.Skip("a per-key failure is injected in the fake S3")
		}
		for _, k := range []string{"m/1.csv", "m/2.csv", "m/3.csv"} {
			put(t, e, k, []byte("x"))
		}
		e.f.FailDeletes("lake", "landing/m/2.csv")
		res, err := e.svc.Move(e.ctx, e.base+"m/", e.base+"n/")
		if err != nil {
			t.Fatalf("Move: %v", err)
		}
		if res.ObjectsMoved != 2 || len(res.Errors) != 1 || res.Errors[0].URI != e.base+"m/2.csv" {
			t.Errorf("Move = %+v, want 2 moved and m/2.csv reported", res)
		}
		want := []string{"m/2.csv", "n/1.csv", "n/2.csv", "n/3.csv"}
		if got := listed(t, e, e.base); !slices.Equal(got, want) {
			t.Errorf("after the move: %q, want %q (no key lost)", got, want)
		}
	})
}

func TestDeletePrefix(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		put(t, e, "del/1.csv", []byte("abc"))
		put(t, e, "del/x/2.csv", []byte("de"))
		put(t, e, "del.csv", []byte("keep"))
		put(t, e, "delx/3.csv", []byte("keep"))
		dry, err := e.svc.DeletePrefix(e.ctx, e.base+"del", true, false)
		if err != nil || dry.ObjectsDeleted != 2 || dry.BytesDeleted != 5 {
			t.Fatalf("dry run = %+v, %v; want 2 objects, 5 bytes", dry, err)
		}
		if got := listed(t, e, e.base); len(got) != 4 {
			t.Fatalf("the dry run deleted something: %q", got)
		}
		res, err := e.svc.DeletePrefix(e.ctx, e.base+"del/", false, true)
		if err != nil || res.ObjectsDeleted != 2 || res.BytesDeleted != 5 || len(res.Errors) != 0 {
			t.Fatalf("DeletePrefix = %+v, %v; want 2 objects, 5 bytes", res, err)
		}
		if got, want := listed(t, e, e.base), []string{"del.csv", "delx/3.csv"}; !slices.Equal(got, want) {
			t.Errorf("after the delete: %q, want %q", got, want)
		}
	})
}

func TestDeletePrefixReportsKeyErrors(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		if e.f == nil {
			t.Skip("a per-key failure is injected in the fake S3")
		}
		for _, k := range []string{"p/1.csv", "p/2.csv", "p/3.csv"} {
			put(t, e, k, []byte("x"))
		}
		e.f.FailDeletes("lake", "landing/p/2.csv")
		res, err := e.svc.DeletePrefix(e.ctx, e.base+"p/", false, false)
		if err != nil {
			t.Fatal(err)
		}
		if res.ObjectsDeleted != 2 || len(res.Errors) != 1 || res.Errors[0].URI != e.base+"p/2.csv" || !strings.Contains(res.Errors[0].Message, "AccessDenied") {
			t.Errorf("DeletePrefix = %+v, want 2 deleted and p/2.csv reported", res)
		}
		if got := listed(t, e, e.base); !slices.Equal(got, []string{"p/2.csv"}) {
			t.Errorf("left: %q, want only p/2.csv", got)
		}
	})
}

func TestDeleteAndMoveRefuseWarehouseAndTables(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tbl := storage.LocationOf(e.wh, "sales.orders")
		put(t, e, tbl+"/data/0.parquet", []byte("x"))
		put(t, e, e.wh+"/sales.db/dropped/data/0.parquet", []byte("y"))
		for _, uri := range []string{e.wh, e.wh + "/", tbl, tbl + "/data/", e.wh + "/sales.db/", strings.TrimSuffix(e.base, "landing/")} {
			_, err := e.svc.DeletePrefix(e.ctx, uri, true, false)
			if !errors.Is(err, fault.ErrFailedPrecondition) {
				t.Errorf("DeletePrefix(%s): %v, want a failed precondition", uri, err)
			}
		}
		if _, err := e.svc.Move(e.ctx, tbl+"/data/", e.base+"stolen/"); !errors.Is(err, fault.ErrFailedPrecondition) {
			t.Errorf("moving a table's files: %v, want a failed precondition", err)
		}
		if _, err := e.svc.Move(e.ctx, e.base+"x.csv", tbl+"/data/x.csv"); !errors.Is(err, fault.ErrFailedPrecondition) {
			t.Errorf("moving into a table: %v, want a failed precondition", err)
		}
		res, err := e.svc.DeletePrefix(e.ctx, e.wh+"/sales.db/dropped/", false, false)
		if err != nil || res.ObjectsDeleted != 1 {
			t.Errorf("deleting a dropped table's leftovers = %+v, %v; want 1 deleted", res, err)
		}
	})
}

func gz(t *testing.T, data string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(data))
	w.Close()
	return b.Bytes()
}

func TestCountLines(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		csvText := "id,memo\n1,\"two\nlines\"\n2,\"say \"\"hi\"\"\r\nagain\"\n\n3,plain"
		put(t, e, "cnt/a.csv", []byte(csvText))
		put(t, e, "cnt/b.csv.gz", gz(t, "id,memo\n4,x\n5,\"y\nz\"\n"))
		put(t, e, "cnt/c.bin", gz(t, "l1\nl2\n")) // gzip by its magic bytes
		put(t, e, "cnt.csv", []byte("not counted\n"))
		res, err := e.svc.CountLines(e.ctx, e.base+"cnt", true, storage.Format{})
		if err != nil {
			t.Fatal(err)
		}
		// a.csv: 3 records; b.csv.gz: 2; c.bin read as CSV: 2 lines, less a header.
		if res.Lines != 3+2+1 || res.Objects != 3 {
			t.Errorf("csv count = %+v, want 6 records in 3 objects", res)
		}
		res, err = e.svc.CountLines(e.ctx, e.base+"cnt/", false, storage.Format{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Lines != 7+4+2 {
			t.Errorf("line count = %+v, want 13 lines (a last line without a break counts)", res)
		}
	})
}

func TestGrep(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		var b strings.Builder
		for i := range 3000 {
			if i%100 == 7 {
				b.WriteString("id-900101-1234567 found\n")
			} else {
				b.WriteString("nothing here at all\n")
			}
		}
		put(t, e, "g/1.csv.gz", gz(t, b.String()))
		put(t, e, "g/2.csv", []byte("first\r\nsecond 000000-0000000\n"))
		var got []storage.Match
		batches := 0
		err := e.svc.Grep(e.ctx, e.base+"g/", `\d{6}-\d{7} found$|^second`, 0, func(ms []storage.Match) error {
			batches++
			got = append(got, ms...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 31 {
			t.Fatalf("Grep found %d matches, want 31", len(got))
		}
		if got[0].Line != 8 || got[0].URI != e.base+"g/1.csv.gz" || got[29].Line != 2908 || got[30].Line != 2 || got[30].Text != "second 000000-0000000" {
			t.Errorf("matches: first %+v, 30th %+v, last %+v", got[0], got[29], got[30])
		}
		got = nil
		err = e.svc.Grep(e.ctx, e.base+"g/", `found`, 5, func(ms []storage.Match) error { got = append(got, ms...); return nil })
		if err != nil || len(got) != 5 || got[4].Line != 408 {
			t.Errorf("Grep with maxMatches 5 = %d matches (%v), want 5 ending at line 408", len(got), err)
		}
		if err := e.svc.Grep(e.ctx, e.base+"g/", `(`, 0, func([]storage.Match) error { return nil }); len(fault.FieldErrors(err)) != 1 {
			t.Errorf("a bad pattern: %v, want fault.Invalid", err)
		}
	})
}

func TestGovernance(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tbl := storage.LocationOf(e.wh, "sales.orders")
		put(t, e, tbl+"/data/0.csv", []byte("rrn\n900101-1234567\n"))
		put(t, e, "land.csv", []byte("a\n1\n"))
		analyst := auth.NewContext(t.Context(), &auth.Principal{Name: "ann", Groups: []string{"analysts"}, Roles: []auth.Role{auth.Analyst}})
		noop := func([]storage.Match) error { return nil }
		e.deny["sales.orders"] = true
		if err := e.svc.Grep(analyst, tbl+"/", `\d`, 0, noop); !errors.Is(err, fault.ErrPermissionDenied) || !strings.Contains(err.Error(), "grade 1") {
			t.Errorf("grep in a dataset with grade-1 columns: %v, want denied naming the grade", err)
		}
		if _, err := e.svc.CountLines(e.ctx, e.wh+"/", false, storage.Format{}); !errors.Is(err, fault.ErrPermissionDenied) {
			t.Errorf("count over the warehouse holding a denied dataset: %v, want denied", err)
		}
		if _, err := e.svc.DiscoverSchema(e.ctx, tbl+"/", storage.Format{}, 0); !errors.Is(err, fault.ErrPermissionDenied) {
			t.Errorf("discovery in a denied dataset: %v, want denied", err)
		}
		if err := e.svc.Grep(analyst, e.base+"land.csv", `\d`, 0, noop); !errors.Is(err, fault.ErrPermissionDenied) {
			t.Errorf("an analyst grepping the landing zone: %v, want denied", err)
		}
		if _, err := e.svc.CountLines(t.Context(), e.base, false, storage.Format{}); !errors.Is(err, fault.ErrPermissionDenied) {
			t.Errorf("no principal: %v, want denied", err)
		}
		delete(e.deny, "sales.orders")
		if err := e.svc.Grep(analyst, tbl+"/", `\d`, 0, noop); err != nil {
			t.Errorf("grep by a caller allowed every column: %v", err)
		}
		if _, err := e.svc.CountLines(e.ctx, e.base, false, storage.Format{}); err != nil {
			t.Errorf("an engineer counting the landing zone: %v", err)
		}
	})
}

func TestDiscoverSchema(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		enc := func(s string) []byte {
			b, err := korean.EUCKR.NewEncoder().Bytes([]byte(s))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		put(t, e, "raw/insurance/claims/dt=2024-01-01/part-0.csv", enc(
			"고객명;claim_id;Amount;paid_on;active;note\n김철수;1;1234.50;2024-01-01;true;\"a;b\"\n이영희;2;99.9;2024-01-02;false;\n"))
		put(t, e, "raw/insurance/claims/dt=2024-01-02/part-0.csv", enc(
			"고객명;claim_id;Amount;paid_on;active;note\n박민수;3000000000;12345678.125;2024-02-01;true;x\n"))
		put(t, e, "raw/insurance/claims/dt=2024-01-02/_SUCCESS", []byte("x"))
		got, err := e.svc.DiscoverSchema(e.ctx, e.base+"raw/insurance/claims/", storage.Format{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		d := got.Dataset
		if d.ID != "insurance.claims" {
			t.Errorf("id = %q, want insurance.claims", d.ID)
		}
		if got.Format.Delimiter != ';' || got.Format.Encoding != csvstream.CP949 || got.Format.DateFormat != "2006-01-02" {
			t.Errorf("format = %+v, want ';', CP949 and dates 2006-01-02", got.Format)
		}
		want := []dataset.Column{
			{Name: "col_1", Type: dataset.TypeString, Description: "source header: 고객명"},
			{Name: "claim_id", Type: dataset.TypeInt64},
			{Name: "amount", Type: dataset.TypeDecimal, Precision: 11, Scale: 3, Description: "source header: Amount"},
			{Name: "paid_on", Type: dataset.TypeDate},
			{Name: "active", Type: dataset.TypeBoolean},
			{Name: "note", Type: dataset.TypeString, Nullable: true},
			{Name: "dt", Type: dataset.TypeDate},
		}
		if !slices.Equal(d.Columns, want) {
			t.Errorf("columns =\n  %+v\nwant\n  %+v", d.Columns, want)
		}
		if len(d.PartitionBy) != 1 || d.PartitionBy[0] != (dataset.PartitionField{Column: "dt", Transform: dataset.TransformIdentity}) {
			t.Errorf("partitionBy = %+v, want IDENTITY(dt)", d.PartitionBy)
		}
		joined := strings.Join(got.Warnings, "\n")
		if !strings.Contains(joined, `"claim_id" is INT32`) || !strings.Contains(joined, "widened to INT64") || !strings.Contains(joined, "widened to DECIMAL(11,3)") {
			t.Errorf("warnings = %q, want the claim_id and amount widenings", got.Warnings)
		}
		if err := dataset.Validate(d, 0); err != nil {
			t.Errorf("the proposal is not valid: %v", err)
		}
	})
}
