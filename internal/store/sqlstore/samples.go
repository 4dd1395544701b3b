package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// samplesPage is how many validation results RedactSamples reads at a time.
const samplesPage = 500

// RedactSamples removes, from every recorded validation result, the
// failing-row samples whose value match reports, and returns how many it
// removed. Samples of masked columns hold no value in clear, but those of
// an untyped object's validation do: an erasure removes the erased
// subjects' there. A result's other figures (the count of failing rows)
// stay.
func (s *Store) RedactSamples(ctx context.Context, match func(value string) bool) (int64, error) {
	var removed int64
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		page, err := s.validationResults(ctx, after)
		if err != nil {
			return removed, err
		}
		for _, v := range page {
			n, err := s.redactResult(ctx, v.id, v.results, match)
			if err != nil {
				return removed, err
			}
			removed += n
		}
		if len(page) < samplesPage {
			return removed, nil
		}
		after = page[len(page)-1].id
	}
}

// storedResults is the rule results of one recorded validation.
type storedResults struct {
	id      string
	results string
}

// validationResults reads a page of validation results, by id after after.
func (s *Store) validationResults(ctx context.Context, after string) ([]storedResults, error) {
	rows, err := s.db.QueryContext(ctx, s.bind(`SELECT id, rule_results FROM validations WHERE id > ? ORDER BY id LIMIT ?`), after, samplesPage)
	if err != nil {
		return nil, fmt.Errorf("redact samples: %w", err)
	}
	defer rows.Close()
	var out []storedResults
	for rows.Next() {
		var r storedResults
		if err := rows.Scan(&r.id, &r.results); err != nil {
			return nil, fmt.Errorf("redact samples: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("redact samples: %w", err)
	}
	return out, nil
}

// redactResult rewrites the rule results of validation id without the
// samples holding a matched value, when it has any.
func (s *Store) redactResult(ctx context.Context, id, results string, match func(string) bool) (int64, error) {
	dec := json.NewDecoder(strings.NewReader(results))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return 0, fmt.Errorf("redact samples of validation %s: %w", id, err)
	}
	n := dropSamples(doc, match)
	if n == 0 {
		return 0, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return 0, fmt.Errorf("redact samples of validation %s: %w", id, err)
	}
	_, err := s.db.ExecContext(ctx, s.bind(`UPDATE validations SET rule_results = ? WHERE id = ?`), strings.TrimSpace(b.String()), id)
	if err != nil {
		return 0, fmt.Errorf("redact samples of validation %s: %w", id, err)
	}
	return n, nil
}

// dropSamples removes, in place, from every "Samples" list under doc (the
// evaluator's results as JSON, composite rules' "Parts" included) the
// samples whose "Value" matches, and returns how many it removed.
func dropSamples(doc any, match func(string) bool) int64 {
	var n int64
	switch v := doc.(type) {
	case []any:
		for _, e := range v {
			n += dropSamples(e, match)
		}
	case map[string]any:
		if samples, ok := v["Samples"].([]any); ok {
			kept := samples[:0]
			for _, sm := range samples {
				if fields, ok := sm.(map[string]any); ok {
					if value, ok := fields["Value"].(string); ok && match(value) {
						n++
						continue
					}
				}
				kept = append(kept, sm)
			}
			v["Samples"] = kept
		}
		for _, e := range v {
			n += dropSamples(e, match)
		}
	}
	return n
}
