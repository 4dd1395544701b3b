package sqlstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lakeplane/lakeplane/internal/store"
)

// pageTokenVersion is the version of the page token format.
const pageTokenVersion = 1

// pageCursor is what a page token holds: the last id of the page it follows,
// for listings in time order also that object's time, and the filter the
// token was issued for, in a form the listing chooses.
type pageCursor struct {
	V      int    `json:"v"`
	After  string `json:"after"`
	At     string `json:"at,omitempty"`
	Filter string `json:"filter,omitempty"`
}

// encodePageToken returns the opaque token of the page after the id after,
// for a listing ordered by id.
func encodePageToken(after, filter string) string {
	return encodeCursor(pageCursor{After: after, Filter: filter})
}

// decodePageToken returns the id a page token of a listing ordered by id
// continues after, "" for the empty token. A token that this store did not
// issue, or issued for another listing or filter, gives
// store.ErrInvalidPageToken.
func decodePageToken(token, filter string) (string, error) {
	c, err := decodeCursor(token, filter)
	if err != nil || token == "" {
		return "", err
	}
	if c.At != "" {
		return "", invalidPageToken(token)
	}
	return c.After, nil
}

// encodeTimePageToken returns the opaque token of the page after the object
// with time at and id after, for a listing ordered by time and then id.
func encodeTimePageToken(at time.Time, after, filter string) string {
	return encodeCursor(pageCursor{After: after, At: at.UTC().Format(time.RFC3339Nano), Filter: filter})
}

// decodeTimePageToken returns the time and id that a page token of a
// listing ordered by time continues after; ok is false for the empty token.
// Bad tokens give store.ErrInvalidPageToken, as for decodePageToken.
func decodeTimePageToken(token, filter string) (at time.Time, after string, ok bool, err error) {
	c, err := decodeCursor(token, filter)
	if err != nil || token == "" {
		return time.Time{}, "", false, err
	}
	at, err = time.Parse(time.RFC3339Nano, c.At)
	if err != nil {
		return time.Time{}, "", false, invalidPageToken(token)
	}
	return at.UTC(), c.After, true, nil
}

// encodeCursor renders c, stamped with the current version, as a token.
func encodeCursor(c pageCursor) string {
	c.V = pageTokenVersion
	b, _ := json.Marshal(c) // cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor parses a non-empty token issued for filter; the empty token
// gives the zero cursor.
func decodeCursor(token, filter string) (pageCursor, error) {
	var c pageCursor
	if token == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return c, invalidPageToken(token)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || dec.More() {
		return c, invalidPageToken(token)
	}
	if c.V != pageTokenVersion || c.After == "" {
		return c, invalidPageToken(token)
	}
	if c.Filter != filter {
		return c, fmt.Errorf("page token %q was issued for filter %q, not %q: %w",
			token, c.Filter, filter, store.ErrInvalidPageToken)
	}
	return c, nil
}

// invalidPageToken is the error for a token that this store did not issue.
func invalidPageToken(token string) error {
	return fmt.Errorf("page token %q: %w", token, store.ErrInvalidPageToken)
}
