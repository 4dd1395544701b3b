// Package datasetpb converts datasets between their Go form and the API's
// protobuf messages.
package datasetpb

import (
	"slices"

	"google.golang.org/protobuf/types/known/timestamppb"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/dataset"
)

// FromProto converts a request's dataset. An unknown enum number
// becomes an unknown type name that validation rejects by field.
func FromProto(p *lakeplanev1.Dataset) *dataset.Dataset {
	if p == nil {
		return &dataset.Dataset{}
	}
	d := &dataset.Dataset{
		ID:           p.GetId(),
		Description:  p.GetDescription(),
		PrimaryKey:   slices.Clone(p.GetPrimaryKey()),
		Grade:        int(p.GetGrade()),
		Domain:       p.GetDomain(),
		SubjectKey:   p.GetSubjectKey(),
		QualitySuite: p.GetQualitySuite(),
		QualityFailurePolicy: EnumName[dataset.QualityFailurePolicy](p.GetQualityFailurePolicy(),
			lakeplanev1.QualityFailurePolicy_QUALITY_FAILURE_POLICY_UNSPECIFIED),
		Etag: p.GetEtag(),
		Retention: dataset.Retention{
			SeparateAfterColumn: p.GetRetention().GetSeparateAfterColumn(),
			SeparateAfterDays:   int(p.GetRetention().GetSeparateAfterDays()),
			DestroyAfterDays:    int(p.GetRetention().GetDestroyAfterDays()),
		},
	}
	for _, c := range p.GetColumns() {
		nullable := !slices.Contains(d.PrimaryKey, c.GetName())
		if c.Nullable != nil {
			nullable = c.GetNullable()
		}
		d.Columns = append(d.Columns, dataset.Column{
			Name:        c.GetName(),
			Type:        EnumName[dataset.ColumnType](c.GetType(), lakeplanev1.ColumnType_COLUMN_TYPE_UNSPECIFIED),
			Precision:   int(c.GetPrecision()),
			Scale:       int(c.GetScale()),
			Nullable:    nullable,
			Grade:       int(c.GetGrade()),
			PII:         c.GetPii(),
			Description: c.GetDescription(),
		})
	}
	for _, f := range p.GetPartitionBy() {
		d.PartitionBy = append(d.PartitionBy, dataset.PartitionField{
			Column:    f.GetColumn(),
			Transform: EnumName[dataset.Transform](f.GetTransform(), lakeplanev1.Transform_TRANSFORM_UNSPECIFIED),
			Width:     int(f.GetWidth()),
		})
	}
	return d
}

// enumName maps a proto enum to the domain's string: the value's name, ""
// for the zero value.
func EnumName[T ~string, E interface {
	comparable
	String() string
}](v, unspecified E) T {
	if v == unspecified {
		return ""
	}
	return T(v.String())
}

// ToProto renders a dataset as the API shows it; zero times are left unset.
func ToProto(d *dataset.Dataset) *lakeplanev1.Dataset {
	p := &lakeplanev1.Dataset{
		Id:           d.ID,
		Description:  d.Description,
		PrimaryKey:   slices.Clone(d.PrimaryKey),
		Grade:        int32(d.Grade),
		Domain:       d.Domain,
		SubjectKey:   d.SubjectKey,
		QualitySuite: d.QualitySuite,
		QualityFailurePolicy: lakeplanev1.QualityFailurePolicy(
			lakeplanev1.QualityFailurePolicy_value[string(d.QualityFailurePolicy)]),
		Etag: d.Etag,
	}
	if !d.CreateTime.IsZero() {
		p.CreateTime, p.UpdateTime = timestamppb.New(d.CreateTime), timestamppb.New(d.UpdateTime)
	}
	if r := d.Retention; r != (dataset.Retention{}) {
		p.Retention = &lakeplanev1.Retention{
			SeparateAfterColumn: r.SeparateAfterColumn,
			SeparateAfterDays:   int32(r.SeparateAfterDays),
			DestroyAfterDays:    int32(r.DestroyAfterDays),
		}
	}
	for _, c := range d.Columns {
		p.Columns = append(p.Columns, &lakeplanev1.Column{
			Name:        c.Name,
			Type:        lakeplanev1.ColumnType(lakeplanev1.ColumnType_value[string(c.Type)]),
			Precision:   int32(c.Precision),
			Scale:       int32(c.Scale),
			Nullable:    &c.Nullable,
			Grade:       int32(c.Grade),
			Pii:         c.PII,
			Description: c.Description,
		})
	}
	for _, f := range d.PartitionBy {
		p.PartitionBy = append(p.PartitionBy, &lakeplanev1.PartitionField{
			Column:    f.Column,
			Transform: lakeplanev1.Transform(lakeplanev1.Transform_value[string(f.Transform)]),
			Width:     int32(f.Width),
		})
	}
	return p
}
