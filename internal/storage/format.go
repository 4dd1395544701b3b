package storage

import (
	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/fault"
)

// Format describes CSV objects. Its zero value is RFC 4180 CSV in UTF-8
// with a header; in DiscoverSchema the zero delimiter and an unset
// encoding mean "detect".
type Format struct {
	// Delimiter separates fields; 0 means ',' (or detect).
	Delimiter byte
	// Quote encloses fields; 0 means '"'.
	Quote byte
	// NoHeader says the first record is data, not column names.
	NoHeader bool
	// Encoding is the character encoding, meaningful when EncodingSet.
	Encoding    csvstream.Encoding
	EncodingSet bool
	// NullValues are field values read as null, besides the empty field.
	NullValues []string
	// DateFormat and TimestampFormat are Go time layouts (detected by
	// DiscoverSchema).
	DateFormat, TimestampFormat string
}

func (f Format) quote() byte {
	if f.Quote == 0 {
		return '"'
	}
	return f.Quote
}

func (f Format) header() bool { return !f.NoHeader }

// check refuses delimiters and quotes that cannot work.
func (f Format) check() error {
	for _, c := range []struct {
		field string
		b     byte
	}{{"format.delimiter", f.Delimiter}, {"format.quote", f.Quote}} {
		if c.b == '\n' || c.b == '\r' || c.b >= 0x80 {
			return fault.Invalid(c.field, "%q must be one ASCII character, not a line break", c.b)
		}
	}
	if f.Delimiter != 0 && f.Delimiter == f.quote() {
		return fault.Invalid("format.quote", "must differ from the delimiter")
	}
	return nil
}
