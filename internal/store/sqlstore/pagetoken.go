package sqlstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/lakeplane/lakeplane/internal/store"
)

// pageTokenVersion is the version of the page token format.
const pageTokenVersion = 1

// pageCursor is what a page token holds: the last id of the page it follows
// and the namespace filter it was issued for.
type pageCursor struct {
	V         int    `json:"v"`
	After     string `json:"after"`
	Namespace string `json:"ns,omitempty"`
}

// encodePageToken returns the opaque token of the page after the id after.
func encodePageToken(after, namespace string) string {
	b, _ := json.Marshal(pageCursor{V: pageTokenVersion, After: after, Namespace: namespace}) // cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodePageToken returns the id a page token continues after, "" for the
// empty token. A token that this store did not issue, or that was issued for
// another namespace filter, gives store.ErrInvalidPageToken.
func decodePageToken(token, namespace string) (string, error) {
	if token == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", fmt.Errorf("page token %q: %w", token, store.ErrInvalidPageToken)
	}
	var c pageCursor
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || dec.More() {
		return "", fmt.Errorf("page token %q: %w", token, store.ErrInvalidPageToken)
	}
	if c.V != pageTokenVersion || c.After == "" {
		return "", fmt.Errorf("page token %q: %w", token, store.ErrInvalidPageToken)
	}
	if c.Namespace != namespace {
		return "", fmt.Errorf("page token %q was issued for namespace %q, not %q: %w",
			token, c.Namespace, namespace, store.ErrInvalidPageToken)
	}
	return c.After, nil
}
