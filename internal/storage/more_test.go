package storage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/storage"
)

func TestListPages(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for _, k := range []string{"l/1.csv", "l/2.csv", "l/3.csv", "l/sub/4.csv", "l.csv", "lx/5.csv"} {
			put(t, e, k, []byte("x"))
		}
		var got []string
		token := ""
		for pages := 0; ; pages++ {
			page, err := e.svc.List(e.ctx, e.base+"l", false, 2, token)
			if err != nil {
				t.Fatal(err)
			}
			if pages > 5 || len(page.Objects) > 2 {
				t.Fatalf("page %d holds %d objects", pages, len(page.Objects))
			}
			for _, o := range page.Objects {
				got = append(got, strings.TrimPrefix(o.URI, e.base))
			}
			if token = page.NextPageToken; token == "" {
				break
			}
		}
		if want := []string{"l/1.csv", "l/2.csv", "l/3.csv", "l/sub/4.csv"}; !slices.Equal(got, want) {
			t.Errorf("paged listing = %q, want %q", got, want)
		}
		page, err := e.svc.List(e.ctx, e.base+"l", true, 0, "")
		if err != nil || len(page.Objects) != 6 {
			t.Errorf("raw prefix listing = %d objects (%v), want 6", len(page.Objects), err)
		}
		if _, err := e.svc.List(e.ctx, e.base, false, 0, "bogus"); len(fault.FieldErrors(err)) != 1 {
			t.Errorf("a bad token: %v, want fault.Invalid", err)
		}
	})
}

func TestDeleteAllVersions(t *testing.T) {
	for _, e := range envs(t) {
		if e.f == nil {
			continue
		}
		e.f.EnableVersioning(t, "lake")
		put(t, e, "v/a.csv", []byte("1"))
		put(t, e, "v/a.csv", []byte("22"))
		put(t, e, "v/b.csv", []byte("333"))
		res, err := e.svc.DeletePrefix(e.ctx, e.base+"v/", true, true)
		if err != nil || res.ObjectsDeleted != 3 || res.BytesDeleted != 6 {
			t.Fatalf("dry run over all versions = %+v, %v; want 3 versions, 6 bytes", res, err)
		}
		res, err = e.svc.DeletePrefix(e.ctx, e.base+"v/", false, true)
		if err != nil || res.ObjectsDeleted != 3 || len(res.Errors) != 0 {
			t.Fatalf("DeletePrefix all versions = %+v, %v; want 3 deleted", res, err)
		}
		if res, _ := e.svc.DeletePrefix(e.ctx, e.base+"v/", true, true); res.ObjectsDeleted != 0 {
			t.Errorf("versions left after the delete: %+v", res)
		}
	}
}

func TestSymlinkIntoTableIsGoverned(t *testing.T) {
	e := envs(t)[0] // file://
	tbl := storage.LocationOf(e.wh, "sales.orders")
	put(t, e, tbl+"/data/0.csv", []byte("rrn\n900101-1234567\n"))
	landing := strings.TrimPrefix(e.base, "file://")
	put(t, e, "other.csv", []byte("x\n"))
	if err := os.Symlink(strings.TrimPrefix(tbl, "file://")+"/data/0.csv", filepath.Join(landing, "innocent.csv")); err != nil {
		t.Fatal(err)
	}
	e.deny["sales.orders"] = true
	err := e.svc.Grep(e.ctx, e.base, `\d`, 0, func([]storage.Match) error { return nil })
	if !errors.Is(err, fault.ErrPermissionDenied) {
		t.Errorf("grep through a symlink into a denied table: %v, want denied", err)
	}
	if _, err := e.svc.CountLines(e.ctx, e.base+"innocent.csv", false, storage.Format{}); !errors.Is(err, fault.ErrPermissionDenied) {
		t.Errorf("count through a symlink into a denied table: %v, want denied", err)
	}
	if _, err := e.svc.Move(e.ctx, e.base+"innocent.csv", e.base+"out/x.csv"); !errors.Is(err, fault.ErrFailedPrecondition) {
		t.Errorf("moving a symlink into a table: %v, want a failed precondition", err)
	}
}

// grepStream collects what a Grep handler sends.
type grepStream struct {
	grpc.ServerStreamingServer[lakeplanev1.GrepResponse]
	ctx  context.Context
	sent []*lakeplanev1.GrepResponse
}

func (s *grepStream) Context() context.Context { return s.ctx }
func (s *grepStream) Send(r *lakeplanev1.GrepResponse) error {
	s.sent = append(s.sent, r)
	return nil
}

func TestHandler(t *testing.T) {
	e := envs(t)[1] // s3://
	h := storage.NewHandler(e.svc)
	var b strings.Builder
	for range 250 {
		b.WriteString("match me\n")
	}
	put(t, e, "h/1.csv", []byte(b.String()))
	st := &grepStream{ctx: e.ctx}
	if err := h.Grep(&lakeplanev1.GrepRequest{Uri: e.base + "h/", Pattern: "match", MaxMatches: 220}, st); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range st.sent {
		n += len(r.GetMatches())
	}
	if len(st.sent) != 3 || n != 220 || st.sent[2].GetMatches()[19].GetLine() != 220 {
		t.Errorf("Grep sent %d messages with %d matches, want 3 with 220 (100, 100, 20)", len(st.sent), n)
	}
	list, err := h.ListObjects(e.ctx, &lakeplanev1.ListObjectsRequest{PrefixUri: e.base + "h"})
	if err != nil || len(list.GetObjects()) != 1 || list.GetObjects()[0].GetSize() != 2250 {
		t.Errorf("ListObjects = %v, %v", list, err)
	}
	put(t, e, "disc/t/a.csv", []byte("id\tname\n1\tkim\n"))
	d, err := h.DiscoverSchema(e.ctx, &lakeplanev1.DiscoverSchemaRequest{Uri: e.base + "disc/t/"})
	if err != nil {
		t.Fatal(err)
	}
	if d.GetFormat().GetDelimiter() != "\t" || d.GetFormat().GetEncoding() != lakeplanev1.Encoding_UTF8 ||
		d.GetDataset().GetId() != "disc.t" || len(d.GetDataset().GetColumns()) != 2 || d.GetDataset().GetColumns()[0].GetType() != lakeplanev1.ColumnType_INT32 {
		t.Errorf("DiscoverSchema = %v", d)
	}
	mv, err := h.MoveObjects(e.ctx, &lakeplanev1.MoveObjectsRequest{SourceUri: e.base + "h/1.csv", DestinationUri: e.base + "h2/1.csv"})
	if err != nil || mv.GetObjectsMoved() != 1 || mv.GetBytesMoved() != 2250 {
		t.Errorf("MoveObjects = %v, %v", mv, err)
	}
	del, err := h.DeletePrefix(e.ctx, &lakeplanev1.DeletePrefixRequest{Uri: e.base + "h2/"})
	if err != nil || del.GetObjectsDeleted() != 1 {
		t.Errorf("DeletePrefix = %v, %v", del, err)
	}
	cnt, err := h.CountLines(e.ctx, &lakeplanev1.CountLinesRequest{Uri: e.base + "disc/", Csv: true, Format: &lakeplanev1.CsvFormat{Delimiter: "\t"}})
	if err != nil || cnt.GetLines() != 1 || cnt.GetObjects() != 1 {
		t.Errorf("CountLines = %v, %v", cnt, err)
	}
	if _, err := h.CountLines(e.ctx, &lakeplanev1.CountLinesRequest{Uri: e.base, Format: &lakeplanev1.CsvFormat{Delimiter: ";;"}}); len(fault.FieldErrors(err)) != 1 {
		t.Errorf("a two-character delimiter: %v, want fault.Invalid", err)
	}
}
