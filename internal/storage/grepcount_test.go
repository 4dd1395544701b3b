package storage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/errcode"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/storage"
)

// rrnLines returns n lines, every third holding a registration number,
// and how many do.
func rrnLines(n int, eol string) (string, int64) {
	var b strings.Builder
	var with int64
	for i := range n {
		if i%3 == 0 {
			fmt.Fprintf(&b, "%d,김민준,%06d-%07d,2024-01-%02d%s", i, i%1000000, i*7919%10000000, 1+i%28, eol)
			with++
		} else {
			fmt.Fprintf(&b, "%d,이서연,no number,2024-01-%02d%s", i, 1+i%28, eol)
		}
	}
	return b.String(), with
}

// grepCounts runs a count-only Grep and returns the counts by URI.
func grepCounts(t *testing.T, e *env, uri, pattern string) (map[string]storage.GrepCount, error) {
	t.Helper()
	got := map[string]storage.GrepCount{}
	err := e.svc.GrepCounts(e.ctx, uri, pattern, func(c storage.GrepCount) error {
		if _, dup := got[c.URI]; dup {
			t.Errorf("%s counted twice", c.URI)
		}
		got[c.URI] = c
		return nil
	})
	return got, err
}

func TestGrepCounts(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		storage.SetGrepRangeSize(e.svc, 700) // several ranges an object
		plain, plainN := rrnLines(200, "\n")
		crlf, crlfN := rrnLines(100, "\r\n")
		zipped, zippedN := rrnLines(300, "\n")
		big := gz(t, zipped)
		if len(big) <= 700 {
			t.Fatalf("the gzip object is %d bytes, too small to be split", len(big))
		}
		uris := map[string]string{
			"plain": put(t, e, "gc/plain.csv", []byte(plain+"123456-1234567")), // no final line break
			"crlf":  put(t, e, "gc/sub/crlf.csv", []byte(crlf)),
			"gz":    put(t, e, "gc/z.csv.gz", gz(t, zipped)),
			"magic": put(t, e, "gc/z.bin", big), // gzip by its magic bytes, large enough to split
			"empty": put(t, e, "gc/empty.csv", nil),
		}
		put(t, e, "gc.csv", []byte("000000-0000000\n")) // a sibling, not named
		want := map[string]int64{"plain": plainN + 1, "crlf": crlfN, "gz": zippedN, "magic": zippedN, "empty": 0}
		got, err := grepCounts(t, e, e.base+"gc", `\d{6}-\d{7}`)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("counts for %d objects, want %d: %+v", len(got), len(want), got)
		}
		for name, n := range want {
			c := got[uris[name]]
			if c.MatchingLines != n {
				t.Errorf("%s: %d matching lines, want %d", name, c.MatchingLines, n)
			}
		}
		if c := got[uris["plain"]]; c.BytesRead != int64(len(plain)+14) {
			t.Errorf("plain: %d bytes read, want %d", c.BytesRead, len(plain)+14)
		}
		// "$" before the "\r" of a CRLF line, and a line split in ranges.
		got, err = grepCounts(t, e, uris["crlf"], `-\d{2}$`)
		if err != nil || got[uris["crlf"]].MatchingLines != 100 {
			t.Errorf("lines ending in a date: %+v, %v; want all 100", got, err)
		}
		_, err = grepCounts(t, e, e.base+"gc/", `[0-9`)
		if fe := fault.FieldErrors(err); len(fe) != 1 || fe[0].Field != "pattern" {
			t.Errorf("a bad pattern: %v, want fault.Invalid naming pattern", err)
		}
		if st := errcode.Status(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "pattern") {
			t.Errorf("a bad pattern as a status: %v, want INVALID_ARGUMENT naming pattern", st)
		}
	})
}

func TestGrepCountsStops(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		storage.SetGrepRangeSize(e.svc, 100)
		text, _ := rrnLines(100, "\n")
		for i := range 4 {
			put(t, e, fmt.Sprintf("stop/%d.csv", i), []byte(text))
		}
		stop := errors.New("the client went away")
		sends := 0
		err := e.svc.GrepCounts(e.ctx, e.base+"stop/", `\d`, func(storage.GrepCount) error {
			sends++
			return stop
		})
		if !errors.Is(err, stop) || sends != 1 {
			t.Errorf("after a send error: %v after %d sends, want the send error after 1", err, sends)
		}
		ctx, cancel := context.WithCancel(e.ctx)
		cancel()
		err = e.svc.GrepCounts(ctx, e.base+"stop/", `\d`, func(storage.GrepCount) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("a cancelled count: %v, want context.Canceled", err)
		}
	})
}

func TestGrepCountsGovernance(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tbl := storage.LocationOf(e.wh, "sales.orders")
		put(t, e, tbl+"/data/0.csv", []byte("rrn\n900101-1234567\n"))
		put(t, e, "land.csv", []byte("a\n1\n"))
		analyst := auth.NewContext(t.Context(), &auth.Principal{Name: "ann", Groups: []string{"analysts"}, Roles: []auth.Role{auth.Analyst}})
		noop := func(storage.GrepCount) error { return nil }
		e.deny["sales.orders"] = true
		if err := e.svc.GrepCounts(analyst, tbl+"/", `\d`, noop); !errors.Is(err, fault.ErrPermissionDenied) || !strings.Contains(err.Error(), "grade 1") {
			t.Errorf("count in a dataset with grade-1 columns: %v, want denied naming the grade", err)
		}
		if err := e.svc.GrepCounts(analyst, e.base+"land.csv", `\d`, noop); !errors.Is(err, fault.ErrPermissionDenied) {
			t.Errorf("an analyst counting in the landing zone: %v, want denied", err)
		}
		delete(e.deny, "sales.orders")
		var got []storage.GrepCount
		err := e.svc.GrepCounts(analyst, tbl+"/", `\d`, func(c storage.GrepCount) error { got = append(got, c); return nil })
		if err != nil || len(got) != 1 || got[0].MatchingLines != 1 {
			t.Errorf("count by a caller allowed every column: %+v, %v; want 1 line", got, err)
		}
	})
}

func TestHandlerGrepCountOnly(t *testing.T) {
	e := envs(t)[1] // s3://
	h := storage.NewHandler(e.svc)
	text, n := rrnLines(500, "\n")
	put(t, e, "hc/1.csv", []byte(text))
	put(t, e, "hc/2.csv.gz", gz(t, text))
	st := &grepStream{ctx: e.ctx}
	req := &lakeplanev1.GrepRequest{Uri: e.base + "hc/", Pattern: `\d{6}-\d{7}`, CountOnly: true, MaxMatches: 1}
	if err := h.Grep(req, st); err != nil {
		t.Fatal(err)
	}
	if len(st.sent) != 2 {
		t.Fatalf("sent %d messages, want one per object: %v", len(st.sent), st.sent)
	}
	for _, r := range st.sent {
		if len(r.GetMatches()) != 0 || len(r.GetCounts()) != 1 || r.GetCounts()[0].GetMatchingLines() != n {
			t.Errorf("message %v, want one count of %d lines (max_matches does not apply) and no matches", r, n)
		}
	}
}
