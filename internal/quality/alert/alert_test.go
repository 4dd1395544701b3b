package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/quality/alert"
	"github.com/lakeplane/lakeplane/internal/quality/eval"
	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
)

var secret = []byte("whsec-test-0123456789")

// openStore returns a fresh SQLite store.
func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "lakeplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// failed returns a FAIL result whose failing rule has a sample of a masked
// column, and a passing rule.
func failed(id string) *suite.Validation {
	results, _ := json.Marshal([]eval.Result{
		{Rule: `ColumnValues "rrn" matches "^\\d{6}-\\d{7}$"`, Outcome: eval.Fail, Observed: "0.5", Expected: "= 1.0", FailingRows: 1,
			Samples: []eval.Sample{{Row: 2, Value: "900101-1234567-SECRET"}}},
		{Rule: "RowCount > 0", Outcome: eval.Pass, Observed: "2", Expected: "> 0"},
	})
	return &suite.Validation{ID: id, Suite: "customers", Target: "file:///landing/c.csv", Dataset: "insure.customers", JobID: "job-1",
		Outcome: suite.Fail, RowsEvaluated: 2, RuleResults: results, StartTime: time.Now(), EndTime: time.Now()}
}

func newWebhook(t *testing.T, url string) *alert.Webhook {
	t.Helper()
	w, err := alert.NewWebhook("ops", url, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// waitFor polls the deliveries of a validation until one is in state.
func waitFor(t *testing.T, st store.Alerts, id string, state store.AlertState) *store.AlertDelivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ds, err := st.ListAlertDeliveries(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 && ds[0].State == state {
			return ds[0]
		}
		time.Sleep(5 * time.Millisecond)
	}
	ds, _ := st.ListAlertDeliveries(context.Background(), id)
	t.Fatalf("no %s delivery of %s: %+v", state, id, ds)
	return nil
}

// A receiver sees the alert, signed over the timestamp and the body, with
// the failing rule's measurements but no sample value.
func TestWebhookDeliversSignedAlert(t *testing.T) {
	type got struct {
		body             []byte
		sig, ts, ct, evt string
	}
	received := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		received <- got{body, r.Header.Get(alert.SignatureHeader), r.Header.Get(alert.TimestampHeader), r.Header.Get("Content-Type"), r.Header.Get(alert.EventHeader)}
	}))
	defer srv.Close()
	st := openStore(t)
	d := alert.New(st, []alert.Sink{newWebhook(t, srv.URL)}, alert.Options{InitialBackoff: time.Millisecond})
	defer d.Close()

	d.Notify(context.Background(), failed("v-1"))
	var g got
	select {
	case g = <-received:
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver saw no alert")
	}
	if err := alert.Verify(secret, g.ts, g.body, g.sig, time.Minute, time.Now()); err != nil {
		t.Fatalf("signature %q over %q: %v", g.sig, g.ts, err)
	}
	if !strings.HasPrefix(g.sig, "sha256=") || len(g.sig) != len("sha256=")+64 {
		t.Fatalf("signature header %q", g.sig)
	}
	if err := alert.Verify([]byte("other"), g.ts, g.body, g.sig, 0, time.Now()); !errors.Is(err, alert.ErrBadSignature) {
		t.Fatalf("verify with another secret: %v", err)
	}
	if err := alert.Verify(secret, "1", g.body, g.sig, 0, time.Now()); !errors.Is(err, alert.ErrBadSignature) {
		t.Fatal("the timestamp is not signed")
	}
	if g.ct != "application/json" || g.evt != alert.EventValidationFailed {
		t.Fatalf("headers: content type %q, event %q", g.ct, g.evt)
	}
	if strings.Contains(string(g.body), "SECRET") || strings.Contains(string(g.body), "1234567") {
		t.Fatalf("the alert leaks a sample value: %s", g.body)
	}
	var a alert.Alert
	if err := json.Unmarshal(g.body, &a); err != nil {
		t.Fatal(err)
	}
	if a.ValidationID != "v-1" || a.Suite != "customers" || a.JobID != "job-1" || a.Dataset != "insure.customers" || a.Outcome != suite.Fail ||
		a.RowsEvaluated != 2 || len(a.FailingRules) != 1 || a.FailingRules[0].Observed != "0.5" || a.FailingRules[0].Expected != "= 1.0" || a.FailingRules[0].FailingRows != 1 {
		t.Fatalf("alert: %+v", a)
	}
	rec := waitFor(t, st, "v-1", store.AlertDelivered)
	if rec.Attempts != 1 || rec.Sink != "ops" || string(rec.Payload) != string(g.body) {
		t.Fatalf("delivery record: %+v", rec)
	}
}

// A receiver that is down gets every try, backing off, and then the alert is
// a dead letter with its payload.
func TestReceiverDownGetsRetriesThenDeadLetter(t *testing.T) {
	var hits atomic.Int32
	var times []time.Time
	var mu sync.Mutex
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		http.Error(w, "database on fire", http.StatusInternalServerError)
	}))
	defer down.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	st := openStore(t)
	refused, err := alert.NewWebhook("refused", closedURL, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := alert.New(st, []alert.Sink{newWebhook(t, down.URL), refused}, alert.Options{Attempts: 3, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	defer d.Close()
	d.Notify(context.Background(), failed("v-2"))

	deadline := time.Now().Add(10 * time.Second)
	var ds []*store.AlertDelivery
	for time.Now().Before(deadline) {
		if ds, err = st.ListAlertDeliveries(context.Background(), "v-2"); err != nil {
			t.Fatal(err)
		}
		if len(ds) == 2 && ds[0].State == store.AlertDeadLetter && ds[1].State == store.AlertDeadLetter {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(ds) != 2 {
		t.Fatalf("deliveries: %+v", ds)
	}
	for _, rec := range ds {
		if rec.State != store.AlertDeadLetter || rec.Attempts != 3 || !strings.Contains(string(rec.Payload), `"validationId":"v-2"`) {
			t.Fatalf("delivery to %s: %+v", rec.Sink, rec)
		}
	}
	if ops := ds[0]; ops.Sink != "ops" || !strings.Contains(ops.LastError, "500") || !strings.Contains(ops.LastError, "database on fire") {
		t.Fatalf("delivery to the failing receiver: %+v", ops)
	}
	if ref := ds[1]; ref.Sink != "refused" || !strings.Contains(ref.LastError, "refused") {
		t.Fatalf("delivery to the closed receiver: %+v", ref)
	}
	if n := hits.Load(); n != 3 {
		t.Fatalf("the failing receiver got %d tries, want 3", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if gap1, gap2 := times[1].Sub(times[0]), times[2].Sub(times[1]); gap1 < 20*time.Millisecond || gap2 < 40*time.Millisecond {
		t.Fatalf("backoff between tries: %v, %v; want >= 20ms, 40ms", gap1, gap2)
	}
	page, err := st.ListDeadLetters(context.Background(), 10, "")
	if err != nil || len(page.Items) != 2 {
		t.Fatalf("dead letters: %+v %v", page.Items, err)
	}
}

// blockingSink holds every Send until released or cancelled.
type blockingSink struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockingSink) Name() string { return "slow" }
func (b *blockingSink) Send(ctx context.Context, _ *alert.Alert, _ []byte) error {
	b.started <- struct{}{}
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Notify never waits: a full queue makes a dead letter at once, and Close
// records the deliveries under way or waiting as dead letters.
func TestFullQueueAndShutdownMakeDeadLetters(t *testing.T) {
	st := openStore(t)
	sink := &blockingSink{started: make(chan struct{}, 10), release: make(chan struct{})}
	d := alert.New(st, []alert.Sink{sink}, alert.Options{Workers: 1, QueueSize: 1, AttemptTimeout: time.Minute})
	d.Notify(context.Background(), failed("busy"))
	<-sink.started // the worker is busy with "busy"
	start := time.Now()
	d.Notify(context.Background(), failed("queued"))
	d.Notify(context.Background(), failed("overflow"))
	if time.Since(start) > time.Second {
		t.Fatal("Notify waited for the sink")
	}
	if rec := waitFor(t, st, "overflow", store.AlertDeadLetter); !strings.Contains(rec.LastError, "queue was full") || rec.Attempts != 0 {
		t.Fatalf("overflow: %+v", rec)
	}
	d.Close()
	for _, id := range []string{"busy", "queued"} {
		rec := waitFor(t, st, id, store.AlertDeadLetter)
		if !strings.Contains(rec.LastError, "stopped") || len(rec.Payload) == 0 {
			t.Fatalf("%s after Close: %+v", id, rec)
		}
	}
	d.Notify(context.Background(), failed("late"))
	if rec := waitFor(t, st, "late", store.AlertDeadLetter); !strings.Contains(rec.LastError, "stopping") {
		t.Fatalf("late: %+v", rec)
	}
	d.Close() // a second Close does nothing
}

// A passing validation alerts no one.
func TestPassIsNotAlerted(t *testing.T) {
	st := openStore(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	d := alert.New(st, []alert.Sink{newWebhook(t, srv.URL)}, alert.Options{})
	v := failed("ok")
	v.Outcome = suite.Pass
	d.Notify(context.Background(), v)
	d.Close()
	if ds, err := st.ListAlertDeliveries(context.Background(), "ok"); err != nil || len(ds) != 0 || hits.Load() != 0 {
		t.Fatalf("a PASS was alerted: %+v %v, %d hits", ds, err, hits.Load())
	}
}

func TestBackoffDoublesUpToTheMax(t *testing.T) {
	o := alert.Options{InitialBackoff: time.Second, MaxBackoff: 5 * time.Second}
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, o.Backoff(n))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backoffs %v, want %v", got, want)
		}
	}
}

func TestNewWebhookChecksItsSettings(t *testing.T) {
	for _, u := range []string{"", "ftp://x/y", "/relative", "http://"} {
		if _, err := alert.NewWebhook("x", u, secret, nil); err == nil {
			t.Errorf("url %q accepted", u)
		}
	}
	if _, err := alert.NewWebhook("x", "https://example.com/hook", nil, nil); err == nil {
		t.Error("an empty secret accepted")
	}
}
