package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/lakeplane/lakeplane/internal/store"
)

// alertTests check store.Alerts.
var alertTests = []conformanceTest{
	{"AlertDeliveriesRecordedPerSink", testAlertDeliveries},
	{"DeadLettersListed", testDeadLetters},
}

func testAlertDeliveries(t *testing.T, s store.Store) {
	ctx := context.Background()
	if got, err := s.ListAlertDeliveries(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListAlertDeliveries of no validation: %v %v", got, err)
	}
	first, err := s.RecordAlertDelivery(ctx, &store.AlertDelivery{
		ValidationID: "v1", Sink: "pager", State: store.AlertRetrying, Attempts: 1,
		LastError: "500 Internal Server Error", Payload: []byte(`{"validationId":"v1"}`),
	})
	if err != nil || first.ID == "" {
		t.Fatalf("RecordAlertDelivery: %+v %v", first, err)
	}
	assertStoredTime(t, "CreateTime", first.CreateTime)
	if _, err := s.RecordAlertDelivery(ctx, &store.AlertDelivery{ValidationID: "v1", Sink: "audit", State: store.AlertDelivered, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordAlertDelivery(ctx, &store.AlertDelivery{ValidationID: "v2", Sink: "pager", State: store.AlertDelivered, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	// The second attempt replaces the first's record; its creation stays.
	second, err := s.RecordAlertDelivery(ctx, &store.AlertDelivery{
		ValidationID: "v1", Sink: "pager", State: store.AlertDelivered, Attempts: 2, Payload: []byte(`{"validationId":"v1"}`),
	})
	if err != nil || second.ID != first.ID || !second.CreateTime.Equal(first.CreateTime) || second.UpdateTime.Before(first.UpdateTime) {
		t.Fatalf("second RecordAlertDelivery: %+v (first %+v) %v", second, first, err)
	}
	got, err := s.ListAlertDeliveries(ctx, "v1")
	if err != nil {
		t.Fatalf("ListAlertDeliveries: %v", err)
	}
	if len(got) != 2 || got[0].Sink != "audit" || got[1].Sink != "pager" {
		t.Fatalf("deliveries of v1: %+v", got)
	}
	p := got[1]
	if p.State != store.AlertDelivered || p.Attempts != 2 || p.LastError != "" || string(p.Payload) != `{"validationId":"v1"}` || p.ID != first.ID {
		t.Fatalf("pager delivery of v1: %+v", p)
	}
	both, err := s.ListAlertDeliveries(ctx, "v2", "v1", "missing")
	if err != nil || len(both) != 3 || both[0].ValidationID != "v1" || both[2].ValidationID != "v2" {
		t.Fatalf("deliveries of v1 and v2: %+v %v", both, err)
	}
}

func testDeadLetters(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 5 {
		state := store.AlertDeadLetter
		if i == 2 {
			state = store.AlertDelivered
		}
		if _, err := s.RecordAlertDelivery(ctx, &store.AlertDelivery{
			ValidationID: fmt.Sprintf("v%d", i), Sink: "hook", State: state, Attempts: 5, LastError: "connection refused",
		}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	pages := walkPages(t, "ListDeadLetters", "", func(token string) (store.Page[*store.AlertDelivery], error) {
		return s.ListDeadLetters(ctx, 3, token)
	}, func(d *store.AlertDelivery) string { return d.ValidationID })
	for _, p := range pages {
		seen = append(seen, p...)
	}
	if fmt.Sprint(seen) != "[v4 v3 v1 v0]" || len(pages) != 2 {
		t.Fatalf("dead letters: %v in pages %v", seen, pages)
	}
	if _, err := s.ListDeadLetters(ctx, 3, "garbage!!"); err == nil {
		t.Fatal("ListDeadLetters with a bad token succeeded")
	}
}
