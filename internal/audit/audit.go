// Package audit defines the tamper-evident audit trail: every mutating call
// leaves an Event, and each event carries the hash of the one before it, so
// that changing, removing or reordering any stored event breaks the chain
// from that event on.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Event is one entry of the audit trail.
type Event struct {
	// Sequence numbers the events 1, 2, 3, ... in the order they were
	// appended; ID is a stable name for the event.
	Sequence int64
	ID       string
	Time     time.Time
	// Principal and Groups are who called.
	Principal string
	Groups    []string
	// Method is the full gRPC method called.
	Method string
	// Resource is what the call was about (a dataset id, a job id, a URI, ...).
	Resource string
	// RequestDigest is the SHA-256 of the request message, hex.
	RequestDigest string
	// Outcome is the gRPC code the call ended with, e.g. OK or INVALID_ARGUMENT.
	Outcome string
	// PreviousHash is the Hash of the event before (empty for the first).
	PreviousHash string
	// Hash is the SHA-256 over PreviousHash and this event's canonical form.
	Hash string
}

// canonical is the form an event's hash covers: every field but Hash, in a
// fixed order, times in UTC with microseconds.
type canonical struct {
	Sequence      int64    `json:"sequence"`
	ID            string   `json:"id"`
	Time          string   `json:"time"`
	Principal     string   `json:"principal"`
	Groups        []string `json:"groups"`
	Method        string   `json:"method"`
	Resource      string   `json:"resource"`
	RequestDigest string   `json:"requestDigest"`
	Outcome       string   `json:"outcome"`
	PreviousHash  string   `json:"previousHash"`
}

// ComputeHash returns the hash the event must carry.
func (e *Event) ComputeHash() string {
	groups := e.Groups
	if groups == nil {
		groups = []string{}
	}
	body, _ := json.Marshal(canonical{
		Sequence: e.Sequence, ID: e.ID, Time: e.Time.UTC().Format("2006-01-02T15:04:05.000000Z"),
		Principal: e.Principal, Groups: groups, Method: e.Method, Resource: e.Resource,
		RequestDigest: e.RequestDigest, Outcome: e.Outcome, PreviousHash: e.PreviousHash,
	}) // a struct of strings and ints always marshals
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// Seal links e after prev (nil for the first event): it sets the sequence,
// the previous hash and the hash. The time must already be final.
func (e *Event) Seal(prev *Event) {
	e.Sequence, e.PreviousHash = 1, ""
	if prev != nil {
		e.Sequence, e.PreviousHash = prev.Sequence+1, prev.Hash
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	e.Hash = e.ComputeHash()
}

// Verifier walks a trail in sequence order and finds the first event that
// does not fit: a wrong hash, a broken link or a gap in the sequence.
type Verifier struct {
	prev     *Event
	checked  int64
	firstBad string
}

// Add checks the next event; it reports false once the chain is broken.
func (v *Verifier) Add(e *Event) bool {
	if v.firstBad != "" {
		return false
	}
	v.checked++
	wantSeq, wantPrev := int64(1), ""
	if v.prev != nil {
		wantSeq, wantPrev = v.prev.Sequence+1, v.prev.Hash
	}
	if e.Sequence != wantSeq || e.PreviousHash != wantPrev || e.Hash != e.ComputeHash() {
		v.firstBad = e.ID
		return false
	}
	v.prev = e
	return true
}

// Result reports whether every event checked fits, the first that does not,
// and how many were checked.
func (v *Verifier) Result() (valid bool, firstBad string, checked int64) {
	return v.firstBad == "", v.firstBad, v.checked
}
