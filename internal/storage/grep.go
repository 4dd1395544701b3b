package storage

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// Match is one line that matched a Grep.
type Match struct {
	URI  string
	Line int64 // 1-based
	Text string
}

// Limits of Grep.
const (
	// DefaultMaxMatches is the number of matches a Grep stops at when the
	// request sets none.
	DefaultMaxMatches = 1000
	// maxMatchesLimit caps what a request may ask for.
	maxMatchesLimit = 1_000_000
	// grepBatch is the number of matches sent at once.
	grepBatch = 100
	// grepChunk is the buffer a Grep searches at a time. A line longer
	// than half of it comes in pieces: a pattern the DFA decides still
	// decides the whole line (counted once, its Match text the piece the
	// match ended in); one with empty-width assertions decides each piece.
	grepChunk = 1 << 20
	// maxMatchText is the most of a matching line a Match carries.
	maxMatchText = 8 << 10
)

// Grep searches the objects uri names, one after another in key order, for
// lines matching the RE2 pattern, and calls send with batches of matches
// as it finds them, until maxMatches (DefaultMaxMatches when 0) or the
// end. gzip objects are decompressed. A send error ends the search.
func (s *Service) Grep(ctx context.Context, uri, pattern string, maxMatches int64, send func([]Match) error) error {
	t, err := parseTarget("uri", uri)
	if err != nil {
		return err
	}
	if maxMatches < 0 || maxMatches > maxMatchesLimit {
		return fault.Invalid("maxMatches", "%d is outside 0..%d", maxMatches, maxMatchesLimit)
	}
	if maxMatches == 0 {
		maxMatches = DefaultMaxMatches
	}
	g, err := newGrepper(pattern)
	if err != nil {
		return err
	}
	guard, err := s.guardRead(ctx, t)
	if err != nil {
		return err
	}
	var batch []Match
	var found int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := send(batch)
		batch = nil
		return err
	}
	errStop := fmt.Errorf("enough matches")
	buf := make([]byte, grepChunk)
	for info, err := range s.store.List(ctx, t.listPrefix()) {
		if err != nil {
			return err
		}
		if !t.contains(info.URI) {
			continue
		}
		if err := guard.object(ctx, info.URI); err != nil {
			return err
		}
		r, closeFn, err := s.openText(ctx, info)
		if err != nil {
			return err
		}
		err = g.search(ctx, r, buf, func(line int64, text []byte) error {
			batch = append(batch, Match{URI: info.URI, Line: line, Text: matchText(text)})
			found++
			if len(batch) == grepBatch {
				if err := flush(); err != nil {
					return err
				}
			}
			if found == maxMatches {
				return errStop
			}
			return nil
		})
		closeFn()
		if err == errStop {
			break
		}
		if err != nil {
			return fmt.Errorf("grep %s: %w", info.URI, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return flush()
}

// matchText is the text a Match carries for a line: valid UTF-8 (proto
// strings must be), without the "\r" of a CRLF line, cut at maxMatchText.
func matchText(line []byte) string {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(line) > maxMatchText {
		cut := maxMatchText
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut]
	}
	if utf8.Valid(line) {
		return string(line)
	}
	return strings.ToValidUTF8(string(line), "\uFFFD")
}
