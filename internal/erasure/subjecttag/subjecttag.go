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
//
// Both sides tag, and the erasure compares, a subject key value in its
// Canonical form for the key column's type, so that a subject id "042"
// and a stored 42 of an integer key are one subject.
package subjecttag

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/lakeplane/lakeplane/internal/dataset"
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

// Canonical returns the form in which a value of a subject key of type typ
// is tagged and compared: spaces around it ignored, and for an INT32 or
// INT64 key the integer in canonical decimal form (no sign for a positive
// value, no leading zeros: "042", "+42" and "42" are one subject). A value
// that is not an integer, and a value of any other type, stays as stored.
func Canonical(typ dataset.ColumnType, value string) string {
	v := strings.TrimSpace(value)
	switch typ {
	case dataset.TypeInt32, dataset.TypeInt64:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
	}
	return v
}

// Tag returns the tag, under key, of the Canonical form of a value of a
// subject key of type typ.
func Tag(key []byte, typ dataset.ColumnType, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(Canonical(typ, value)))
	return hex.EncodeToString(m.Sum(nil)[:tagBytes])
}
