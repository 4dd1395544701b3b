package audit

import (
	"fmt"
	"testing"
	"time"
)

func chain(n int) []*Event {
	var out []*Event
	var prev *Event
	for i := 0; i < n; i++ {
		e := &Event{ID: fmt.Sprintf("e%d", i+1), Time: time.Date(2026, 12, 1, 6, 0, i, 123456789, time.UTC),
			Principal: "erin", Groups: []string{"data-eng"}, Method: "/lakeplane.v1.IngestService/CreateDataset",
			Resource: "credit.loans", RequestDigest: "abc", Outcome: "OK"}
		e.Seal(prev)
		out = append(out, e)
		prev = e
	}
	return out
}

func verify(events []*Event) (bool, string, int64) {
	var v Verifier
	for _, e := range events {
		if !v.Add(e) {
			break
		}
	}
	return v.Result()
}

func TestAnIntactChainVerifies(t *testing.T) {
	events := chain(5)
	if events[0].Sequence != 1 || events[4].Sequence != 5 || events[1].PreviousHash != events[0].Hash {
		t.Fatalf("chain not linked: %+v", events[1])
	}
	if valid, bad, n := verify(events); !valid || bad != "" || n != 5 {
		t.Fatalf("verify = %v %q %d", valid, bad, n)
	}
}

func TestTamperingNamesTheFirstBadEvent(t *testing.T) {
	tests := map[string]func(events []*Event) []*Event{
		"changed outcome":   func(e []*Event) []*Event { e[2].Outcome = "PERMISSION_DENIED"; return e },
		"changed principal": func(e []*Event) []*Event { e[2].Principal = "mallory"; return e },
		"removed event":     func(e []*Event) []*Event { return append(e[:2], e[3:]...) },
		"rehashed alone":    func(e []*Event) []*Event { e[2].Resource = "x.y"; e[2].Hash = e[2].ComputeHash(); return e },
		"reordered":         func(e []*Event) []*Event { e[2], e[3] = e[3], e[2]; return e },
	}
	want := map[string]string{"changed outcome": "e3", "changed principal": "e3", "removed event": "e4", "rehashed alone": "e4", "reordered": "e4"}
	for name, tamper := range tests {
		t.Run(name, func(t *testing.T) {
			valid, bad, _ := verify(tamper(chain(5)))
			if valid || bad != want[name] {
				t.Fatalf("verify = %v, first bad %q; want %s", valid, bad, want[name])
			}
		})
	}
}
