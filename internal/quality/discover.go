package quality

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
	"github.com/lakeplane/lakeplane/internal/storage"
)

// Discoverer proposes a dataset for the CSV objects a URI names, from the
// head of each (storage.Service is one); ValidateObject types the columns
// of an object validated without a dataset with it.
type Discoverer interface {
	// DiscoverSchema samples sampleRows rows (a default when 0) and
	// detects what f leaves open (delimiter, encoding, date layouts).
	DiscoverSchema(ctx context.Context, uri string, f storage.Format, sampleRows int64) (storage.Discovery, error)
}

// WithDiscovery lets ValidateObject validate an object without a dataset,
// its columns typed by d; it returns s. Call it before the service is used.
func (s *Service) WithDiscovery(d Discoverer) *Service {
	s.discover = d
	return s
}

// discoverColumns types the columns of the object at uri, validated
// without a dataset, by discovering its schema from its head, and returns
// the format to decode it with: format with what it leaves open
// (delimiter, encoding, date layouts) as discovery detected it. The
// columns keep the names of the object's header (the ones the rules name)
// and take the discovered types; they are nullable all (completeness is
// the rules' to judge) and none is masked.
func (s *Service) discoverColumns(ctx context.Context, uri string, format csvstream.Format) (*dataset.Dataset, csvstream.Format, error) {
	asked, err := discoveryFormat(format)
	if err != nil {
		return nil, csvstream.Format{}, err
	}
	found, err := s.discover.DiscoverSchema(ctx, uri, asked, 0)
	if err != nil {
		return nil, csvstream.Format{}, fmt.Errorf("discover the schema of %s: %w", uri, asSourceURI(err))
	}
	typed := &dataset.Dataset{Columns: make([]dataset.Column, len(found.Dataset.Columns))}
	for i, c := range found.Dataset.Columns {
		if header, ok := found.Headers[c.Name]; ok {
			c.Name = header
		}
		c.Nullable, c.PII, c.Description = true, false, ""
		typed.Columns[i] = c
	}
	return typed, decodeFormat(found.Format), nil
}

// typedByDiscovery says, of a value that its column's discovered type
// cannot hold (one past the sampled head: the validation stops, as a bad
// value does for a dataset), how the column was typed.
func typedByDiscovery(err error) error {
	if fields := fault.FieldErrors(err); len(fields) == 1 && fields[0].Field == "source" {
		return fmt.Errorf("%w (the columns were typed by discovering the schema of the object's first rows; validate it for a dataset to type them)", err)
	}
	return err
}

// canRunWithoutDataset refuses a validation without a dataset when the
// service cannot discover schemas, and the rules of rs that need a dataset
// (needsDataset).
func (s *Service) canRunWithoutDataset(suiteName string, rs *dqdl.Ruleset) error {
	if s.discover == nil {
		return fault.Invalid("dataset", "is required: this service cannot discover the schema of an object to type its columns")
	}
	return needsDataset(suiteName, rs)
}

// needsDataset refuses, as an INVALID_ARGUMENT naming each, the rules of
// rs that cannot run on an object without a dataset: ReferentialIntegrity,
// whose keys are looked up only for an object validated for a dataset or a
// dataset snapshot (see dqdl.Check). Every other rule runs on the object as
// it would for a dataset: RowCount counts the object's rows.
func needsDataset(suiteName string, rs *dqdl.Ruleset) error {
	var errs []error
	for i, r := range rs.Rules {
		for _, l := range r.Leaves() {
			if l.Type == dqdl.TypeReferentialIntegrity {
				refused := &dqdl.RuleError{Index: i, Rule: l.String(), Reason: "ReferentialIntegrity looks the referenced keys up only for an object validated for a dataset"}
				errs = append(errs, fault.Invalid("dataset", "is required by suite %q: %v", suiteName, refused))
			}
		}
	}
	return errors.Join(errs...)
}

// discoveryFormat is what a request's format asks of discovery: what it
// leaves open (no delimiter, UTF-8 by default) is detected.
func discoveryFormat(f csvstream.Format) (storage.Format, error) {
	for _, c := range []struct {
		field string
		r     rune
	}{{"format.delimiter", f.Delimiter}, {"format.quote", f.Quote}} {
		if c.r >= utf8.RuneSelf {
			return storage.Format{}, fault.Invalid(c.field, "%q must be one ASCII character", c.r)
		}
	}
	out := storage.Format{
		Delimiter: byte(f.Delimiter), Quote: byte(f.Quote), NoHeader: !f.Header, NullValues: f.NullValues,
		DateFormat: f.DateFormat, TimestampFormat: f.TimestampFormat,
	}
	if f.Encoding != csvstream.UTF8 {
		out.Encoding, out.EncodingSet = f.Encoding, true
	}
	return out, nil
}

// decodeFormat is how the object is decoded: as discovery read it.
func decodeFormat(f storage.Format) csvstream.Format {
	return csvstream.Format{
		Delimiter: rune(f.Delimiter), Quote: rune(f.Quote), Header: !f.NoHeader, Encoding: f.Encoding,
		NullValues: f.NullValues, DateFormat: f.DateFormat, TimestampFormat: f.TimestampFormat,
	}
}
