package ingest

import (
	"encoding/base64"
	"strconv"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

// pageBounds pages a list held in memory: it returns the slice bounds of
// the page and the token of the next one.
func pageBounds(total, pageSize int, token string) (start, end int, next string, err error) {
	if pageSize < 0 {
		return 0, 0, "", fault.Invalid("pageSize", "must not be negative")
	}
	size := store.NormalizePageSize(pageSize)
	if token != "" {
		raw, derr := base64.RawURLEncoding.DecodeString(token)
		n, perr := strconv.Atoi(string(raw))
		if derr != nil || perr != nil || n < 0 || n > total {
			return 0, 0, "", fault.Invalid("pageToken", "is not a token this listing issued")
		}
		start = n
	}
	end = min(start+size, total)
	if end < total {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return start, end, next, nil
}
