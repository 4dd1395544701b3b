// Package paging pages lists that are held in memory (a table's snapshots,
// an index's tables) with opaque tokens, for the services whose lists do
// not come page by page from the store.
package paging

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

// Bounds returns the slice bounds of the page a token asks for in a list of
// total items, and the token of the next page ("" after the last one).
func Bounds(total, pageSize int, token string) (start, end int, next string, err error) {
	if pageSize < 0 {
		return 0, 0, "", fault.Invalid("pageSize", "must not be negative")
	}
	size := store.NormalizePageSize(pageSize)
	if token != "" {
		raw, derr := base64.RawURLEncoding.DecodeString(token)
		offset, found := strings.CutPrefix(string(raw), "o:")
		n, perr := strconv.Atoi(offset)
		if derr != nil || !found || perr != nil || n < 0 || n > total {
			return 0, 0, "", fault.Invalid("pageToken", "is not a token this listing issued")
		}
		start = n
	}
	end = min(start+size, total)
	if end < total {
		next = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end)))
	}
	return start, end, next, nil
}
