// Package subjecttag is the contract between the ingest loader, which
// writes rejects files with the subject key masked, and the erasure runner,
// which must still find a subject's rejected rows: each rejects file
// <job>.csv has an index <job>.csv.subjects that tags the rejected records
// (by their source line) with keyed hashes of their subject key.
//
// A tag is HMAC-SHA256 under a secret key that the control-plane store
// keeps (see KeyStore), never beside the rejects: the index reveals no id,
// and one who holds the rejects but not the key cannot test guesses
// against it, as one could against a plain or salted hash of a small id
// space (customer numbers, resident registration numbers).
package subjecttag

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// IndexSuffix follows a rejects file's name to name its index.
const IndexSuffix = ".subjects"

// IndexHeader is the header record of an index: a record's source line,
// and its tags separated by spaces.
var IndexHeader = []string{"line", "tags"}

// KeyName is the name under which the store keeps the key.
const KeyName = "rejects-subject-tag"

// KeyStore is implemented by the control-plane stores: Secret returns the
// secret of the given name, made (32 random bytes) on first use and the
// same ever after, for every replica sharing the store.
type KeyStore interface {
	Secret(ctx context.Context, name string) ([]byte, error)
}

// tagBytes is how much of the HMAC a tag keeps: 128 bits, which no
// accidental collision reaches.
const tagBytes = 16

// Tag returns the tag of a subject key value (spaces around it ignored,
// as the erasure compares ids) under key.
func Tag(key []byte, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.TrimSpace(value)))
	return hex.EncodeToString(m.Sum(nil)[:tagBytes])
}
