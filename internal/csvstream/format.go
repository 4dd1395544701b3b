package csvstream

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Encoding is the character encoding of the source bytes.
type Encoding int

// The encodings a source may use. Every one is decoded to UTF-8 before
// scanning, so delimiters, quotes and values are compared as UTF-8.
const (
	// UTF8 is UTF-8, with or without a leading byte order mark.
	UTF8 Encoding = iota
	// CP949 is Microsoft's Unified Hangul Code, a superset of EUC-KR that
	// adds the 8,822 Hangul syllables EUC-KR lacks (e.g. "똠").
	CP949
	// EUCKR is KS X 1001 EUC-KR. It is decoded as CP949, which accepts
	// every EUC-KR byte sequence unchanged.
	EUCKR
)

// String returns the name EncodingFromName accepts.
func (e Encoding) String() string {
	switch e {
	case UTF8:
		return "UTF8"
	case CP949:
		return "CP949"
	case EUCKR:
		return "EUC_KR"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// EncodingFromName returns the encoding named "UTF8", "CP949" or "EUC_KR"
// (case-insensitive; "UTF-8", "EUC-KR", "EUCKR" and "MS949" are accepted as
// aliases). The empty name is UTF8.
func EncodingFromName(name string) (Encoding, error) {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "", "UTF8", "UTF-8":
		return UTF8, nil
	case "CP949", "MS949", "UHC":
		return CP949, nil
	case "EUC_KR", "EUC-KR", "EUCKR":
		return EUCKR, nil
	}
	return UTF8, fmt.Errorf("unknown encoding %q: want UTF8, CP949 or EUC_KR", name)
}

// Format describes how the source file is written.
type Format struct {
	// Delimiter separates fields; ',' when 0. It must be an ASCII character
	// other than the quote, '\r' and '\n' (tab and '|' are common).
	Delimiter rune
	// Quote encloses fields that hold delimiters, quotes (doubled) or line
	// breaks, as in RFC 4180; '"' when 0. It must be ASCII.
	Quote rune
	// Header says the first record names the columns.
	Header bool
	// Encoding is the source's character encoding; UTF8 when zero.
	Encoding Encoding
	// NullValues are field values read as null, compared after unquoting.
	// The empty field is null for every column that is not a STRING; for
	// a STRING column it is null only if "" is listed here, and otherwise
	// the empty string.
	NullValues []string
	// DateFormat is the Go time layout of DATE values; "2006-01-02" when
	// empty.
	DateFormat string
	// TimestampFormat is the Go time layout of TIMESTAMP values. When empty
	// ISO 8601 is read: "2006-01-02T15:04:05" or "2006-01-02 15:04:05", an
	// optional fraction of up to microseconds, and an optional zone ("Z" or
	// "+09:00"), which makes RFC 3339 a special case. A value without a zone
	// is UTC.
	TimestampFormat string
}

// Column is one column of the dataset the file is loaded into.
type Column struct {
	// Name is matched exactly against the header.
	Name string
	// Type is one of arrow.BinaryTypes.String, arrow.FixedWidthTypes.Boolean,
	// arrow.PrimitiveTypes.Int32, Int64 and Float64, *arrow.Decimal128Type,
	// arrow.FixedWidthTypes.Date32, or *arrow.TimestampType with unit
	// arrow.Microsecond and time zone "UTC" or "".
	Type arrow.DataType
	// Nullable allows null values and lets the header omit the column.
	Nullable bool
	// PII masks the column's values in every error and in RowError.Raw.
	PII bool
}

// Options tune a Decoder; the zero value is usable.
type Options struct {
	// BatchRows is the number of rows in each record batch but the last;
	// 8192 when 0.
	BatchRows int
	// Allocator allocates the batches' buffers; memory.DefaultAllocator
	// when nil.
	Allocator memory.Allocator
	// OnBadRow, when nil, makes the first bad row the error of Next. When
	// set, it is called for each bad row; the row is skipped and counted
	// in Stats.RowsRejected unless OnBadRow returns an error, which Next
	// then returns. The RowError may be kept after the call.
	OnBadRow func(*RowError) error
	// MaxRecordBytes bounds one record (a line, or more when quoted fields
	// hold line breaks) so that memory stays bounded when a quote is never
	// closed; 16 MiB when 0. A longer record is an error that ends decoding.
	MaxRecordBytes int

	// bufferBytes is the scanner's first buffer size; tests lower it to
	// exercise refills and growth.
	bufferBytes int
}

const (
	defaultBatchRows      = 8192
	defaultMaxRecordBytes = 16 << 20
	defaultBufferBytes    = 64 << 10
)
