package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/audit"
	"github.com/lakeplane/lakeplane/internal/store"
)

var auditTests = []conformanceTest{
	{"AuditAppendChains", testAuditAppendChains},
	{"AuditConcurrentAppendsNeverFork", testAuditConcurrentAppends},
	{"AuditListFiltersAndPages", testAuditList},
	{"AuditIsAppendOnlyAndTamperEvident", testAuditTamper},
}

func auditEvent(principal, method, resource string) *audit.Event {
	return &audit.Event{Principal: principal, Groups: []string{"data-eng", "분석"}, Method: method, Resource: resource, RequestDigest: "d1", Outcome: "OK"}
}

func verifyTrail(t *testing.T, s store.Store) (bool, string, int64) {
	t.Helper()
	var v audit.Verifier
	if err := s.ScanAuditEvents(context.Background(), v.Add); err != nil {
		t.Fatalf("ScanAuditEvents: %v", err)
	}
	return v.Result()
}

func testAuditAppendChains(t *testing.T, s store.Store) {
	ctx := context.Background()
	var prev *audit.Event
	for i := 0; i < 3; i++ {
		e, err := s.AppendAuditEvent(ctx, auditEvent("erin", "/lakeplane.v1.IngestService/CreateDataset", fmt.Sprintf("a.t%d", i)))
		if err != nil {
			t.Fatalf("AppendAuditEvent: %v", err)
		}
		if e.Sequence != int64(i+1) || e.ID == "" || e.Time.IsZero() || e.Hash != e.ComputeHash() {
			t.Fatalf("appended event: %+v", e)
		}
		if prev != nil && e.PreviousHash != prev.Hash {
			t.Fatalf("event %d does not link to the one before", e.Sequence)
		}
		prev = e
	}
	if valid, bad, n := verifyTrail(t, s); !valid || n != 3 {
		t.Fatalf("verify: %v %q %d", valid, bad, n)
	}
}

func testAuditConcurrentAppends(t *testing.T, s store.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for w := 0; w < 8; w++ {
		wg.Go(func() {
			for i := 0; i < 5; i++ {
				if _, err := s.AppendAuditEvent(ctx, auditEvent(fmt.Sprintf("w%d", w), "/m", "r")); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent append: %v", err)
	}
	if valid, bad, n := verifyTrail(t, s); !valid || n != 40 {
		t.Fatalf("after 40 concurrent appends: valid %v, first bad %q, %d events", valid, bad, n)
	}
}

func testAuditList(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := 0; i < 7; i++ {
		who := "erin"
		if i%2 == 1 {
			who = "anna"
		}
		if _, err := s.AppendAuditEvent(ctx, auditEvent(who, "/lakeplane.v1.IngestService/UpdateDataset", fmt.Sprintf("a.t%d", i%3))); err != nil {
			t.Fatal(err)
		}
	}
	var seqs []int64
	opts := store.ListAuditEventsOptions{PageSize: 2, Principal: "erin"}
	for {
		page, err := s.ListAuditEvents(ctx, opts)
		if err != nil {
			t.Fatalf("ListAuditEvents: %v", err)
		}
		for _, e := range page.Items {
			if e.Principal != "erin" {
				t.Fatalf("filter let through %+v", e)
			}
			seqs = append(seqs, e.Sequence)
		}
		if page.NextPageToken == "" {
			break
		}
		opts.PageToken = page.NextPageToken
	}
	if fmt.Sprint(seqs) != "[1 3 5 7]" {
		t.Fatalf("erin's events: %v", seqs)
	}
	page, err := s.ListAuditEvents(ctx, store.ListAuditEventsOptions{Resource: "a.t1"})
	if err != nil || len(page.Items) != 2 {
		t.Fatalf("by resource: %v %v", page.Items, err)
	}
	future := time.Now().Add(time.Hour)
	page, err = s.ListAuditEvents(ctx, store.ListAuditEventsOptions{Start: future})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("events after an hour from now: %v %v", page.Items, err)
	}
	if _, err := s.ListAuditEvents(ctx, store.ListAuditEventsOptions{PageToken: "bogus"}); err == nil {
		t.Fatal("a garbled page token was accepted")
	}
}

func testAuditTamper(t *testing.T, s store.Store) {
	ctx := context.Background()
	var third *audit.Event
	for i := 0; i < 5; i++ {
		e, err := s.AppendAuditEvent(ctx, auditEvent("erin", "/m", fmt.Sprintf("r%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			third = e
		}
	}
	db := s.(interface{ DB() *sql.DB }).DB()
	if _, err := db.ExecContext(ctx, `UPDATE audit_events SET outcome = 'OK?' WHERE sequence = 3`); err == nil {
		t.Fatal("the store let an audit event be changed")
	}
	// Someone with the database's keys drops the guard and edits by hand.
	for _, stmt := range []string{`DROP TRIGGER audit_events_no_update`, `DROP TRIGGER audit_events_no_change ON audit_events`} {
		_, _ = db.ExecContext(ctx, stmt)
	}
	if _, err := db.ExecContext(ctx, `UPDATE audit_events SET principal = 'mallory' WHERE sequence = 3`); err != nil {
		t.Fatalf("hand edit: %v", err)
	}
	if valid, bad, _ := verifyTrail(t, s); valid || bad != third.ID {
		t.Fatalf("after editing event 3: valid %v, first bad %q, want %q", valid, bad, third.ID)
	}
}
