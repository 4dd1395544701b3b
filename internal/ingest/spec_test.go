package ingest

import (
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/fault"
)

func TestIngestSpecValidation(t *testing.T) {
	tests := []struct {
		name  string
		spec  IngestSpec
		field string
	}{
		{"no source", IngestSpec{}, "sourceUri"},
		{"unknown mode", IngestSpec{SourceURI: "file:///x", Mode: "MERGE"}, "mode"},
		{"negative bad rows", IngestSpec{SourceURI: "file:///x", MaxBadRows: -1}, "maxBadRows"},
		{"two-character delimiter", IngestSpec{SourceURI: "file:///x", Format: Format{Delimiter: ";;"}}, "format.delimiter"},
		{"newline delimiter", IngestSpec{SourceURI: "file:///x", Format: Format{Delimiter: "\n"}}, "format.delimiter"},
		{"quote equals delimiter", IngestSpec{SourceURI: "file:///x", Format: Format{Delimiter: "|", Quote: "|"}}, "format.quote"},
		{"unknown encoding", IngestSpec{SourceURI: "file:///x", Format: Format{Encoding: "LATIN1"}}, "format.encoding"},
		{"dedupe last on append", IngestSpec{SourceURI: "file:///x", DedupeLast: true}, "dedupe"},
		{"dedupe last on overwrite", IngestSpec{SourceURI: "file:///x", Mode: ModeOverwrite, DedupeLast: true}, "dedupe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := fault.FieldErrors(tt.spec.validate())
			if len(fields) != 1 || fields[0].Field != tt.field {
				t.Fatalf("validate() field errors = %v, want one on %s", fields, tt.field)
			}
		})
	}
	ok := IngestSpec{SourceURI: "file:///x", Format: Format{Delimiter: "\t", Encoding: "CP949"}}
	if err := ok.validate(); err != nil || ok.Mode != ModeAppend {
		t.Fatalf("a valid spec: %v, mode %q (want APPEND by default)", err, ok.Mode)
	}
	dedupe := IngestSpec{SourceURI: "file:///x", Mode: ModeUpsert, DedupeLast: true}
	if err := dedupe.validate(); err != nil {
		t.Fatalf("UPSERT with dedupe LAST: %v", err)
	}
	onAppend := IngestSpec{SourceURI: "file:///x", DedupeLast: true}
	if err := onAppend.validate(); err == nil || !strings.Contains(err.Error(), "UPSERT only") {
		t.Fatalf("dedupe LAST on APPEND: %v, want a refusal naming UPSERT", err)
	}
}
