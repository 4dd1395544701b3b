package ingest

import (
	"unicode/utf8"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// Mode says how loaded rows meet the rows already in the table.
type Mode string

// The load modes.
const (
	ModeAppend    Mode = "APPEND"
	ModeOverwrite Mode = "OVERWRITE"
	ModeUpsert    Mode = "UPSERT"
)

// Format describes a CSV source object, as the API does.
type Format struct {
	Delimiter       string   `json:"delimiter,omitempty"`
	Header          bool     `json:"header"`
	Quote           string   `json:"quote,omitempty"`
	Encoding        string   `json:"encoding,omitempty"` // UTF8, CP949, EUC_KR
	NullValues      []string `json:"nullValues,omitempty"`
	DateFormat      string   `json:"dateFormat,omitempty"`
	TimestampFormat string   `json:"timestampFormat,omitempty"`
}

// IngestSpec is a load request; it is the Spec of an INGEST job.
type IngestSpec struct {
	SourceURI    string `json:"sourceUri"`
	Format       Format `json:"format"`
	Mode         Mode   `json:"mode"`
	MaxBadRows   int64  `json:"maxBadRows,omitempty"`
	QualitySuite string `json:"qualitySuite,omitempty"`
	Force        bool   `json:"force,omitempty"`
	// DedupeLast (UPSERT only) makes a key present more than once in the
	// source no error: its last row in the source wins.
	DedupeLast bool `json:"dedupeLast,omitempty"`

	// Team is the caller's first group (in sorted order) when the load was
	// queued; the job's cost is reported under it.
	Team string `json:"team,omitempty"`

	// The source object as it was when the job was queued.
	ObjectETag string `json:"objectEtag,omitempty"`
	ObjectSize int64  `json:"objectSize,omitempty"`
}

func (s *IngestSpec) validate() error {
	if s.SourceURI == "" {
		return fault.Invalid("sourceUri", "is required")
	}
	switch s.Mode {
	case ModeAppend, ModeOverwrite, ModeUpsert:
	case "":
		s.Mode = ModeAppend
	default:
		return fault.Invalid("mode", "unknown mode %q (APPEND, OVERWRITE or UPSERT)", s.Mode)
	}
	if s.DedupeLast && s.Mode != ModeUpsert {
		// Only an upsert has keys to deduplicate; accepting the flag and
		// ignoring it would load every row.
		return fault.Invalid("dedupe", "LAST applies to UPSERT only, not %s", s.Mode)
	}
	if s.MaxBadRows < 0 {
		return fault.Invalid("maxBadRows", "must not be negative")
	}
	if err := singleChar("format.delimiter", s.Format.Delimiter); err != nil {
		return err
	}
	if err := singleChar("format.quote", s.Format.Quote); err != nil {
		return err
	}
	if s.Format.Delimiter != "" && s.Format.Delimiter == s.Format.Quote {
		return fault.Invalid("format.quote", "must differ from the delimiter")
	}
	switch s.Format.Encoding {
	case "", "UTF8", "CP949", "EUC_KR":
	default:
		return fault.Invalid("format.encoding", "unknown encoding %q (UTF8, CP949 or EUC_KR)", s.Format.Encoding)
	}
	return nil
}

func singleChar(field, s string) error {
	if s == "" {
		return nil
	}
	r, size := utf8.DecodeRuneInString(s)
	if size != len(s) || r == utf8.RuneError || r == '\r' || r == '\n' {
		return fault.Invalid(field, "%q must be one character, not a line break", s)
	}
	return nil
}
