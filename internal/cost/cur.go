package cost

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/lakeplane/lakeplane/internal/cost/usage"
)

// curField is a CUR column the import reads.
type curField int

// The CUR columns the import reads.
const (
	curLineItemID curField = iota
	curTimeInterval
	curLineItemType
	curUsageStart
	curUsageEnd
	curProductCode
	curUsageType
	curOperation
	curResourceID
	curUsageAmount
	curUnblendedCost
	curCurrency
	curPricingUnit
	curResourceTags
	curServiceCode
	curFieldCount
)

// curColumns names each field's column in CUR 2.0 and in legacy CUR.
var curColumns = [curFieldCount][2]string{
	curLineItemID:    {"identity_line_item_id", "identity/LineItemId"},
	curTimeInterval:  {"identity_time_interval", "identity/TimeInterval"},
	curLineItemType:  {"line_item_line_item_type", "lineItem/LineItemType"},
	curUsageStart:    {"line_item_usage_start_date", "lineItem/UsageStartDate"},
	curUsageEnd:      {"line_item_usage_end_date", "lineItem/UsageEndDate"},
	curProductCode:   {"line_item_product_code", "lineItem/ProductCode"},
	curUsageType:     {"line_item_usage_type", "lineItem/UsageType"},
	curOperation:     {"line_item_operation", "lineItem/Operation"},
	curResourceID:    {"line_item_resource_id", "lineItem/ResourceId"},
	curUsageAmount:   {"line_item_usage_amount", "lineItem/UsageAmount"},
	curUnblendedCost: {"line_item_unblended_cost", "lineItem/UnblendedCost"},
	curCurrency:      {"line_item_currency_code", "lineItem/CurrencyCode"},
	curPricingUnit:   {"pricing_unit", "pricing/unit"},
	curResourceTags:  {"resource_tags", ""},
	curServiceCode:   {"product_servicecode", "product/servicecode"},
}

// curRequired are the fields a CUR file must have.
var curRequired = []curField{curLineItemID, curUsageStart, curUnblendedCost}

// curTagPrefixes start the names of the columns that hold one resource tag
// each: legacy CUR's resourceTags/user:team, and the lower_snake names
// of legacy CUR's Parquet (Athena) exports, resource_tags_user_team.
var curTagPrefixes = []string{"resourceTags/", "resource_tags_"}

// curLayout is where a CUR file keeps the fields: the column of each (-1
// when absent) and, for legacy CUR, the one-tag columns.
type curLayout struct {
	col     [curFieldCount]int
	tagCols map[int]string // column -> tag key, e.g. "user:team"
	width   int
}

// newCURLayout reads the header of a CUR 2.0 or legacy CUR file (the
// column names of a CSV file's first line, or of a Parquet file's schema).
func newCURLayout(header []string) (*curLayout, error) {
	l := &curLayout{tagCols: map[int]string{}, width: len(header)}
	for i := range l.col {
		l.col[i] = -1
	}
header:
	for i, name := range header {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
		for _, prefix := range curTagPrefixes {
			if tag, ok := strings.CutPrefix(name, prefix); ok && tag != "" {
				l.tagCols[i] = tag
				continue header
			}
		}
		for f, names := range curColumns {
			if name != "" && (name == names[0] || name == names[1]) && l.col[f] < 0 {
				l.col[f] = i
			}
		}
	}
	var missing []string
	for _, f := range curRequired {
		if l.col[f] < 0 {
			missing = append(missing, curColumns[f][0]+" (or "+curColumns[f][1]+")")
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("not a Cost and Usage Report: header lacks %s", strings.Join(missing, ", "))
	}
	return l, nil
}

// get returns field f of a record, "" when the file has no such column.
func (l *curLayout) get(rec []string, f curField) string {
	if c := l.col[f]; c >= 0 && c < len(rec) {
		return strings.TrimSpace(rec[c])
	}
	return ""
}

// parseCUR reads a CUR CSV file; curLineItem maps each line item.
func (p *Parsing) parseCUR(ctx context.Context, r io.Reader, yield func(item) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return errors.New("empty file: no CUR header")
	}
	if err != nil {
		return fmt.Errorf("CUR header: %w", err)
	}
	layout, err := newCURLayout(header)
	if err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			if err := yield(item{line: int64(pe.StartLine), err: pe.Err}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		line, _ := cr.FieldPos(0)
		it := item{line: int64(line)}
		var r *usage.Record
		switch {
		case len(rec) != layout.width:
			it.err = fmt.Errorf("%d fields, the header has %d", len(rec), layout.width)
		default:
			r, it.err = p.curRecord(layout, rec)
		}
		if r != nil {
			it.records = []*usage.Record{r}
		}
		if err := yield(it); err != nil {
			return err
		}
	}
}

// curRow is one CUR line item as text, whichever file it comes from: the
// CSV and Parquet readers fill it, and curLineItem maps it to a record.
type curRow struct {
	// text holds each field's trimmed text, "" when absent or null; a
	// resource_tags given as text is a JSON map of strings.
	text [curFieldCount]string
	// tags are the tags of one-tag columns and of a resource_tags map
	// column, keyed as the report wrote them; empty values are left out.
	// They override the JSON map's entries of the same key.
	tags map[string]string
}

// curRecord converts one CUR CSV record.
func (p *Parsing) curRecord(l *curLayout, rec []string) (*usage.Record, error) {
	for _, f := range rec {
		if len(f) > maxLineBytes {
			return nil, errLineTooLong
		}
	}
	var row curRow
	for f := range row.text {
		row.text[f] = l.get(rec, curField(f))
	}
	for c, k := range l.tagCols {
		if c < len(rec) && rec[c] != "" {
			if row.tags == nil {
				row.tags = map[string]string{}
			}
			row.tags[k] = rec[c]
		}
	}
	return p.curLineItem(&row)
}

// curLineItem converts one CUR line item. Each line item is one usage
// record of source CUR, keyed by its line item id and time interval,
// costed at its unblended cost as written (rounded by the import); its
// team and dataset come from the TeamTag and DatasetTag user tags.
func (p *Parsing) curLineItem(row *curRow) (*usage.Record, error) {
	get := func(f curField) string { return row.text[f] }
	id := get(curLineItemID)
	if id == "" {
		return nil, fmt.Errorf("%s is empty", curColumns[curLineItemID][0])
	}
	start, err := parseTime(get(curUsageStart))
	if err != nil {
		return nil, fmt.Errorf("usage start: %w", err)
	}
	var end time.Time
	if s := get(curUsageEnd); s != "" {
		if end, err = parseTime(s); err != nil {
			return nil, fmt.Errorf("usage end: %w", err)
		}
		if end.Before(start) {
			return nil, fmt.Errorf("usage end %s is before its start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
		}
	}
	cost, err := decimal.NewFromString(get(curUnblendedCost))
	if err != nil {
		return nil, fmt.Errorf("unblended cost %q is not a decimal", get(curUnblendedCost))
	}
	quantity := decimal.Zero
	if s := get(curUsageAmount); s != "" {
		if quantity, err = decimal.NewFromString(s); err != nil {
			return nil, fmt.Errorf("usage amount %q is not a decimal", s)
		}
	}
	tags := map[string]string{}
	if s := get(curResourceTags); s != "" {
		if err := json.Unmarshal([]byte(s), &tags); err != nil {
			return nil, fmt.Errorf("resource_tags is not a JSON map of strings: %w", err)
		}
	}
	for k, v := range row.tags {
		tags[k] = v
	}
	byKey := make(map[string]string, len(tags))
	for k, v := range tags {
		byKey[tagKey(k)] = v
	}
	product, usageType := cmpOr(get(curProductCode), get(curServiceCode)), get(curUsageType)
	resource := get(curResourceID)
	if resource == "" {
		resource = strings.Trim(product+":"+usageType, ":")
	}
	interval := get(curTimeInterval)
	if interval == "" {
		interval = start.Format(time.RFC3339) + "/" + end.Format(time.RFC3339)
	}
	attrs := tagAttributes(tags)
	for k, v := range map[string]string{"lineItemType": get(curLineItemType), "usageType": usageType,
		"operation": get(curOperation), "lineItemId": id} {
		if v != "" {
			attrs[k] = v
		}
	}
	unit := get(curPricingUnit)
	r := &usage.Record{
		ID:        "cur:" + id + "@" + interval,
		Source:    usage.CUR,
		Resource:  resource,
		Dataset:   byKey[tagKey("user:"+p.DatasetTag)],
		Team:      byKey[tagKey("user:"+p.TeamTag)],
		Service:   product,
		StartTime: start, EndTime: end,
		Quantity: quantity, Unit: unit,
		Cost: cost, Currency: cmpOr(get(curCurrency), "USD"),
		Attributes: attrs,
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}
