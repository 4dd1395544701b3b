package csvstream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// scanner splits a UTF-8 stream into RFC 4180 records. It holds one buffer
// that grows only while a single record does not fit, up to maxBuf bytes.
//
// A record is scanned from its first byte each time; when the buffer ends
// before the record does, the buffer is refilled and the record scanned
// again. Refills read until the buffer is full, so a record is rescanned at
// most about twice its length in total however the source delivers it.
type scanner struct {
	r       io.Reader
	buf     []byte
	start   int // first unread byte of buf
	end     int // end of the data in buf
	eof     bool
	bomDone bool
	maxBuf  int

	delim, quote byte
	special      [256]bool // bytes that end an unquoted run

	line int64 // 1-based physical line where the next record starts

	// validUTF8 says the whole of buf is valid UTF-8 (see scanBytes), and
	// so every field: fields split valid UTF-8 at ASCII bytes only.
	validUTF8 bool

	spans    []span
	unq      []byte
	fields   [][]byte
	errField int // 0-based field of the last syntax error

	// keep lists the field positions next materializes when a record has
	// nfields fields; nil: all (see Decoder.Project). The other fields of
	// such a record are stale until allFields.
	keep    []int
	nfields int
	rec     []byte // the record last returned, for allFields
}

// span locates one field of the record being scanned: in the buffer, or
// after materialize, in unq when the field held doubled quotes.
type span struct {
	start, end int
	escaped    bool
}

type scanStatus int

const (
	scanDone scanStatus = iota
	scanMore
	scanBareQuote
	scanExtraneous
	scanUnterminated
)

// syntaxError is a record that breaks RFC 4180. The scanner has moved past
// it (to the next line), so decoding can go on if the caller skips it.
type syntaxError struct {
	line   int64
	field  int // 0-based
	reason string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.reason) }

// errRecordTooLong ends decoding: the scanner cannot find where the record
// ends within the memory it may use.
var errRecordTooLong = errors.New("record too long")

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func newScanner(r io.Reader, delim, quote byte, size, maxBuf int) *scanner {
	size = max(min(size, maxBuf), 4)
	s := &scanner{r: r, buf: make([]byte, size), maxBuf: maxBuf, delim: delim, quote: quote, line: 1}
	s.special[delim] = true
	s.special[quote] = true
	s.special['\n'] = true
	return s
}

// sibling returns a scanner with s's format and limits and no source yet
// (see scanBytes and readFrom).
func (s *scanner) sibling() *scanner {
	return &scanner{
		maxBuf: s.maxBuf, delim: s.delim, quote: s.quote, special: s.special,
		keep: s.keep, nfields: s.nfields, bomDone: true,
	}
}

// next returns the fields of the next record and the line it starts on.
// The fields alias the scanner's buffers and are valid until the next call.
// Blank lines are skipped. At the end it returns io.EOF; a *syntaxError for
// a malformed record (already skipped); any other error is fatal.
func (s *scanner) next() ([][]byte, int64, error) {
	for {
		data := s.buf[s.start:s.end]
		if len(data) == 0 {
			if s.eof {
				return nil, s.line, io.EOF
			}
			if err := s.fill(); err != nil {
				return nil, s.line, err
			}
			continue
		}
		if data[0] == '\n' {
			s.start++
			s.line++
			continue
		}
		if data[0] == '\r' {
			if len(data) == 1 {
				if s.eof { // a lone CR ends the file
					s.start++
					continue
				}
				if err := s.fill(); err != nil {
					return nil, s.line, err
				}
				continue
			}
			if len(data) >= 2 && data[1] == '\n' {
				s.start += 2
				s.line++
				continue
			}
		}
		view, eof := data, s.eof
		if len(view) >= s.maxBuf {
			// A chunk given whole (see scanBytes) may hold as much as the
			// buffer can or more: the record must end within maxBuf bytes
			// as when it is read through a full buffer. (Read through the
			// buffer, data this long is a full buffer, not yet at EOF.)
			view, eof = view[:s.maxBuf], false
		}
		n, nl, st := s.scan(view, eof)
		if st == scanMore {
			if s.r == nil {
				return nil, s.line, errRecordTooLong
			}
			if err := s.fill(); err != nil {
				return nil, s.line, err
			}
			continue
		}
		line := s.line
		s.line += nl
		s.start += n
		switch st {
		case scanBareQuote:
			return nil, line, &syntaxError{line, s.errField, fmt.Sprintf("bare %q in an unquoted field", s.quote)}
		case scanExtraneous:
			return nil, line, &syntaxError{line, s.errField, fmt.Sprintf("extraneous text after a closing %q", s.quote)}
		case scanUnterminated:
			return nil, line, &syntaxError{line, s.errField, fmt.Sprintf("quoted field not closed: %q missing before the end of the file", s.quote)}
		}
		return s.materialize(data[:n]), line, nil
	}
}

// fill moves the unread bytes to the front of the buffer, grows it if they
// fill it, and reads until it is full or the source ends.
func (s *scanner) fill() error {
	if s.start > 0 {
		s.end = copy(s.buf, s.buf[s.start:s.end])
		s.start = 0
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= s.maxBuf {
			return errRecordTooLong
		}
		grown := make([]byte, min(2*len(s.buf), s.maxBuf))
		copy(grown, s.buf[:s.end])
		s.buf = grown
	}
	n, err := io.ReadFull(s.r, s.buf[s.end:])
	s.end += n
	switch err {
	case nil:
	case io.EOF, io.ErrUnexpectedEOF:
		s.eof = true
	default:
		return err
	}
	if !s.bomDone {
		// The first fill reads at least three bytes unless the source ends.
		s.bomDone = true
		if bytes.HasPrefix(s.buf[s.start:s.end], utf8BOM) {
			s.start += len(utf8BOM)
		}
	}
	return nil
}

// scan finds the record at the start of data. It returns the bytes the
// record takes with its line break, the line breaks in it, and scanMore if
// data ends before the record does and more may come.
func (s *scanner) scan(data []byte, eof bool) (n int, nl int64, st scanStatus) {
	s.spans = s.spans[:0]
	p := 0
	for {
		if p == len(data) {
			// Only after a delimiter: an empty last field.
			if !eof {
				return 0, 0, scanMore
			}
			s.spans = append(s.spans, span{p, p, false})
			return p, nl, scanDone
		}
		if data[p] == s.quote {
			q := p + 1
			fs := q
			escaped := false
			for {
				i := bytes.IndexByte(data[q:], s.quote)
				if i < 0 {
					if !eof {
						return 0, 0, scanMore
					}
					s.errField = len(s.spans)
					return len(data), int64(bytes.Count(data, newline)), scanUnterminated
				}
				q += i
				if q+1 == len(data) {
					if !eof {
						return 0, 0, scanMore
					}
					nl += int64(bytes.Count(data[fs:q], newline))
					s.spans = append(s.spans, span{fs, q, escaped})
					return len(data), nl, scanDone
				}
				if data[q+1] != s.quote {
					break
				}
				escaped = true
				q += 2
			}
			nl += int64(bytes.Count(data[fs:q], newline))
			s.spans = append(s.spans, span{fs, q, escaped})
			p = q + 1
			switch data[p] {
			case s.delim:
				p++
				continue
			case '\n':
				return p + 1, nl + 1, scanDone
			case '\r':
				if p+1 == len(data) {
					if !eof {
						return 0, 0, scanMore
					}
					return p + 1, nl, scanDone
				}
				if data[p+1] == '\n' {
					return p + 2, nl + 1, scanDone
				}
			}
			s.errField = len(s.spans) - 1
			return s.skipLine(data, p, eof, scanExtraneous)
		}

		fs := p
		for p < len(data) && !s.special[data[p]] {
			p++
		}
		if p == len(data) {
			if !eof {
				return 0, 0, scanMore
			}
			s.spans = append(s.spans, span{fs, trimCR(data, fs, p), false})
			return p, nl, scanDone
		}
		switch data[p] {
		case s.delim:
			s.spans = append(s.spans, span{fs, p, false})
			p++
		case '\n':
			s.spans = append(s.spans, span{fs, trimCR(data, fs, p), false})
			return p + 1, nl + 1, scanDone
		default: // a quote inside an unquoted field
			s.errField = len(s.spans)
			return s.skipLine(data, p, eof, scanBareQuote)
		}
	}
}

var newline = []byte{'\n'}

// trimCR drops the '\r' of a CRLF line break from the end of a field.
func trimCR(data []byte, start, end int) int {
	if end > start && data[end-1] == '\r' {
		return end - 1
	}
	return end
}

// skipLine ends a malformed record at the end of the physical line holding
// data[p], so that decoding can go on with the next line.
func (s *scanner) skipLine(data []byte, p int, eof bool, st scanStatus) (int, int64, scanStatus) {
	i := bytes.IndexByte(data[p:], '\n')
	n := len(data)
	if i >= 0 {
		n = p + i + 1
	} else if !eof {
		return 0, 0, scanMore
	}
	return n, int64(bytes.Count(data[:n], newline)), st
}

// materialize turns the spans of the record in data into field values,
// undoubling quotes where needed: the kept ones (see keep), or all.
func (s *scanner) materialize(data []byte) [][]byte {
	s.unq, s.rec = s.unq[:0], data
	if s.keep == nil || len(s.spans) != s.nfields {
		return s.allFields()
	}
	if cap(s.fields) < len(s.spans) {
		s.fields = make([][]byte, len(s.spans))
	}
	s.fields = s.fields[:len(s.spans)]
	for _, i := range s.keep {
		s.fields[i] = s.field(data, s.spans[i])
	}
	return s.fields
}

// allFields returns every field of the record last returned by next.
func (s *scanner) allFields() [][]byte {
	s.fields = s.fields[:0]
	for _, sp := range s.spans {
		s.fields = append(s.fields, s.field(s.rec, sp))
	}
	return s.fields
}

// field returns the value of the field at sp in data: data itself, or for
// a field with doubled quotes, its undoubled copy in unq.
func (s *scanner) field(data []byte, sp span) []byte {
	raw := data[sp.start:sp.end]
	if !sp.escaped {
		return raw
	}
	start := len(s.unq)
	for len(raw) > 0 {
		j := bytes.IndexByte(raw, s.quote)
		if j < 0 {
			s.unq = append(s.unq, raw...)
			break
		}
		// Quotes come in pairs here: keep one of each pair.
		s.unq = append(s.unq, raw[:j+1]...)
		raw = raw[j+2:]
	}
	return s.unq[start:len(s.unq):len(s.unq)]
}
