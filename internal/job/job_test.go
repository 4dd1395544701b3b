package job

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestStateDone(t *testing.T) {
	for _, tc := range []struct {
		s    State
		done bool
	}{
		{Queued, false},
		{Running, false},
		{Succeeded, true},
		{Failed, true},
		{Cancelled, true},
		{"", false},
		{"PAUSED", false},
	} {
		if got := tc.s.Done(); got != tc.done {
			t.Errorf("State(%q).Done() = %v, want %v", tc.s, got, tc.done)
		}
	}
}

func TestValid(t *testing.T) {
	for _, s := range States {
		if !s.Valid() {
			t.Errorf("State(%q).Valid() = false", s)
		}
	}
	for _, k := range Kinds {
		if !k.Valid() {
			t.Errorf("Kind(%q).Valid() = false", k)
		}
	}
	for _, s := range []State{"", "queued", "DONE"} {
		if s.Valid() {
			t.Errorf("State(%q).Valid() = true", s)
		}
	}
	for _, k := range []Kind{"", "ingest", "DELETE"} {
		if k.Valid() {
			t.Errorf("Kind(%q).Valid() = true", k)
		}
	}
}

func TestClone(t *testing.T) {
	now := time.Now()
	j := &Job{
		ID: "j1", Kind: Ingest, Dataset: "sales.clients", State: Failed, Phase: "LOADING",
		Progress:    Progress{BytesRead: 1, BytesTotal: 2, RowsRead: 3, RowsWritten: 4, RowsRejected: 5},
		SnapshotID:  7,
		Validations: []string{"v1", "v2"},
		Error:       &Error{Code: "INVALID_ARGUMENT", Message: "bad", Row: 3, Column: "x"},
		Spec:        json.RawMessage(`{"a":1}`),
		Result:      json.RawMessage(`{"b":2}`),
		RequestID:   "r", Principal: "p", CancelRequested: true, Attempt: 2,
		LeaseOwner: "w", LeaseExpires: now, CreateTime: now, StartTime: now, EndTime: now, UpdateTime: now,
	}
	c := j.Clone()
	if !reflect.DeepEqual(c, j) {
		t.Fatalf("Clone = %#v, want %#v", c, j)
	}
	c.Validations[0] = "changed"
	c.Spec[1] = 'X'
	c.Result[1] = 'X'
	c.Error.Message = "changed"
	if j.Validations[0] != "v1" || string(j.Spec) != `{"a":1}` || string(j.Result) != `{"b":2}` || j.Error.Message != "bad" {
		t.Errorf("changing the clone changed the original: %#v", j)
	}
	if (*Job)(nil).Clone() != nil {
		t.Error("nil.Clone() != nil")
	}
	if c := (&Job{ID: "bare"}).Clone(); c.Validations != nil || c.Spec != nil || c.Result != nil || c.Error != nil {
		t.Errorf("Clone of a bare job = %#v, want nil slices and error", c)
	}
}
