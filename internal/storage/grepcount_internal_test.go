package storage

import (
	"bytes"
	"context"
	"io"
	"iter"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/objects"
)

// memStore is an objects.Store in memory, fast enough to fuzz with.
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
	gets int // ranged Gets served
}

func newMemStore() *memStore { return &memStore{objs: map[string][]byte{}} }

func (m *memStore) Get(ctx context.Context, uri string, r *objects.Range) (io.ReadCloser, objects.Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[uri]
	if !ok {
		return nil, objects.Info{}, objects.ErrNotFound
	}
	info := objects.Info{URI: uri, Size: int64(len(b)), ModifyTime: time.Unix(0, 0)}
	if r != nil {
		m.gets++
		if r.Offset > int64(len(b)) {
			return nil, objects.Info{}, io.ErrUnexpectedEOF
		}
		b = b[r.Offset:]
		if r.Length > 0 && r.Length < int64(len(b)) {
			b = b[:r.Length]
		}
	}
	return io.NopCloser(bytes.NewReader(b)), info, ctx.Err()
}

func (m *memStore) Head(ctx context.Context, uri string) (objects.Info, error) {
	rc, info, err := m.Get(ctx, uri, nil)
	if err == nil {
		rc.Close()
	}
	return info, err
}

func (m *memStore) Put(_ context.Context, uri string, body io.Reader) (objects.Info, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return objects.Info{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[uri] = b
	return objects.Info{URI: uri, Size: int64(len(b))}, nil
}

func (m *memStore) Delete(_ context.Context, uri string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, uri)
	return nil
}

func (m *memStore) List(_ context.Context, prefix string) iter.Seq2[objects.Info, error] {
	return func(yield func(objects.Info, error) bool) {
		m.mu.Lock()
		keys := slices.Sorted(maps.Keys(m.objs))
		m.mu.Unlock()
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) && !yield(objects.Info{URI: k, Size: int64(len(m.objs[k]))}, nil) {
				return
			}
		}
	}
}

// allowAll lets every caller read every dataset.
type allowAll struct{}

func (allowAll) CanReadAll(context.Context, string) (bool, string) { return true, "" }

// memService is a Service over a memStore, counting in ranges of
// rangeSize bytes, and an engineer's context.
func memService(t testing.TB, rangeSize int64) (*Service, *memStore, context.Context) {
	m := newMemStore()
	s, err := New(Config{
		Store: m, Warehouse: "file:///wh", Access: allowAll{},
		Tables: func(context.Context) ([]TableLocation, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	s.grepRangeSize = rangeSize
	ctx := auth.NewContext(context.Background(), &auth.Principal{Name: "eve", Roles: []auth.Role{auth.Engineer}})
	return s, m, ctx
}

// referenceCount counts the lines of text that match re as Grep defines
// it: a line without its "\n" and the "\r" before one, the last line
// counting also without a line break.
func referenceCount(re *regexp.Regexp, text string) int64 {
	lines := strings.Split(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var n int64
	for _, line := range lines {
		if re.MatchString(strings.TrimSuffix(line, "\r")) {
			n++
		}
	}
	return n
}

// countOne puts text at one URI and returns GrepCounts' counts for it.
func countOne(t testing.TB, s *Service, m *memStore, ctx context.Context, text, pattern string) ([]GrepCount, error) {
	const uri = "file:///land/x.txt"
	m.objs[uri] = []byte(text)
	var got []GrepCount
	err := s.GrepCounts(ctx, uri, pattern, func(c GrepCount) error {
		got = append(got, c)
		return nil
	})
	return got, err
}

// TestGrepCountsRangeBoundaries counts with every small range size, so
// that every line straddles some range boundary, and compares with
// regexp line by line.
func TestGrepCountsRangeBoundaries(t *testing.T) {
	text := "900101-1234567 a\nshort\n\nx 800202-7654321 y\r\n" +
		strings.Repeat("long line without a number, ", 5) + "\n" +
		"김민준,900101-1234567,2024-01-01\r\n-\n--\n123456-1234567" // no final line break
	patterns := []string{`\d{6}-\d{7}`, `-`, `^-`, `a$`, `^$`, `민준`, `(?i)LONG`, `x|y`, `\d+`}
	for _, pattern := range patterns {
		want := referenceCount(regexp.MustCompile(pattern), text)
		for _, size := range rangeSizes(int64(len(text))) {
			s, m, ctx := memService(t, size)
			got, err := countOne(t, s, m, ctx, text, pattern)
			if err != nil {
				t.Fatalf("%q, ranges of %d: %v", pattern, size, err)
			}
			if len(got) != 1 || got[0].MatchingLines != want || got[0].BytesRead != int64(len(text)) {
				t.Fatalf("%q, ranges of %d: counts %+v, want %d matching lines of %d bytes", pattern, size, got, want, len(text))
			}
		}
	}
}

// rangeSizes returns the range sizes to try on an object of size bytes:
// every small one, and those around the object's size.
func rangeSizes(size int64) []int64 {
	var out []int64
	for n := int64(1); n <= 40; n++ {
		out = append(out, n)
	}
	return append(out, size/2, size-1, size, size+1)
}

// TestGrepCountsReadsLittleBeyondRanges checks that a range's scanner asks
// the store for its range and its last line, not for the rest of the
// object.
func TestGrepCountsReadsLittleBeyondRanges(t *testing.T) {
	s, m, ctx := memService(t, 1000)
	text := strings.Repeat("0123456789012345678-\n", 10_000)
	got, err := countOne(t, s, m, ctx, text, `-`)
	if err != nil || len(got) != 1 || got[0].MatchingLines != 10_000 {
		t.Fatalf("counts %+v, %v; want 10000 lines", got, err)
	}
	ranges := (len(text) + 999) / 1000
	if m.gets > ranges+1 { // one more for the gzip check
		t.Errorf("%d ranged Gets for %d ranges", m.gets, ranges)
	}
}

// TestLineRange checks the bytes a lineRange gives: the lines starting in
// its range, each whole.
func TestLineRange(t *testing.T) {
	m := newMemStore()
	text := "ab\ncd\n\nefg"
	m.objs["file:///x"] = []byte(text)
	info := objects.Info{URI: "file:///x", Size: int64(len(text))}
	for _, c := range []struct {
		off, length int64
		want        string
	}{
		{0, 1, "ab\n"},
		{0, 3, "ab\n"},
		{1, 2, ""},
		{2, 2, "cd\n"},
		{3, 1, "cd\n"},
		{4, 3, "\n"},
		{6, 1, "\n"},
		{7, 1, "efg"},
		{8, 2, ""},
		{0, 10, text},
	} {
		lr := newLineRange(context.Background(), m, info, objects.Range{Offset: c.off, Length: c.length})
		got, err := io.ReadAll(lr)
		lr.Close()
		if err != nil || string(got) != c.want {
			t.Errorf("range [%d,+%d): %q (%v), want %q", c.off, c.length, got, err, c.want)
		}
	}
}

// FuzzGrepCounts checks count-only Grep, in ranges of a fuzzed size,
// against regexp line by line.
func FuzzGrepCounts(f *testing.F) {
	f.Add("a\nb\nab\n", "a", int64(2))
	f.Add("x1\n\ny22\r\nz", `\d+$`, int64(3))
	f.Add("900101-1234567\n-\n12-\r\n", `\d{6}-\d{7}`, int64(5))
	f.Add("k\n\u212a\nK", `(?i)k`, int64(1))
	f.Add("\xff-\n\xe2\x82-", `[^a]-`, int64(2))
	f.Add("aaa-b\nab-", `a{2,3}-b?`, int64(4))
	f.Add(strings.Repeat("x", 40)+"123456-1234567"+strings.Repeat("y", 30)+"\r\n"+strings.Repeat("민", 20), `\d{6}-\d{7}|민$`, int64(3))
	f.Add(strings.Repeat("ab", 30)+"\nab", `^(ab)+$`, int64(0))
	f.Fuzz(func(t *testing.T, text, pattern string, size int64) {
		re, err := regexp.Compile(pattern)
		if err != nil || pattern == "" {
			return // Grep refuses these
		}
		size = 1 + max(size, -size)%64
		s, m, ctx := memService(t, size)
		got, err := countOne(t, s, m, ctx, text, pattern)
		if err != nil {
			t.Fatalf("GrepCounts: %v", err)
		}
		want := referenceCount(re, text)
		if len(got) != 1 || got[0].MatchingLines != want {
			t.Errorf("pattern %q on %q in ranges of %d: %+v, want %d", pattern, text, size, got, want)
		}
		// Lines longer than half the buffer come in pieces, which the DFA
		// decides as one line (the regexp path, one by one).
		g, err := newGrepper(pattern)
		if err != nil {
			t.Fatal(err)
		}
		if g.dfa == nil {
			return
		}
		n, err := g.count(context.Background(), strings.NewReader(text), make([]byte, 8+size))
		if err != nil || n != want {
			t.Errorf("pattern %q on %q through a buffer of %d: %d (%v), want %d", pattern, text, 8+size, n, err, want)
		}
	})
}
