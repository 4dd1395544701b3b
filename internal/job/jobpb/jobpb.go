// Package jobpb renders jobs as the API's protobuf messages.
package jobpb

import (
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/job"
)

// ToProto renders a job as the API shows it. An ERASE job's Result is its
// certificate, and a SEPARATE job's its separation (with the certificate of
// the moved rows' erasure from the source), each read by field name (fields
// the API does not carry are left out).
func ToProto(j *job.Job) *lakeplanev1.Job {
	p := &lakeplanev1.Job{
		Id:          j.ID,
		Kind:        lakeplanev1.JobKind(lakeplanev1.JobKind_value[string(j.Kind)]),
		Dataset:     j.Dataset,
		State:       lakeplanev1.JobState(lakeplanev1.JobState_value[string(j.State)]),
		Phase:       j.Phase,
		SnapshotId:  j.SnapshotID,
		Validations: j.Validations,
		RequestId:   j.RequestID,
		Principal:   j.Principal,
		CreateTime:  timestamppb.New(j.CreateTime),
		Progress: &lakeplanev1.JobProgress{
			BytesRead:    j.Progress.BytesRead,
			BytesTotal:   j.Progress.BytesTotal,
			RowsRead:     j.Progress.RowsRead,
			RowsWritten:  j.Progress.RowsWritten,
			RowsRejected: j.Progress.RowsRejected,
		},
	}
	if !j.StartTime.IsZero() {
		p.StartTime = timestamppb.New(j.StartTime)
	}
	if !j.EndTime.IsZero() {
		p.EndTime = timestamppb.New(j.EndTime)
	}
	switch {
	case len(j.Result) == 0:
	case j.Kind == job.Erase:
		var cert lakeplanev1.ErasureCertificate
		if resultAs(j.Result, &cert) {
			p.Certificate = &cert
		}
	case j.Kind == job.Separate:
		var sep lakeplanev1.SeparationResult
		if resultAs(j.Result, &sep) {
			p.Separation = &sep
		}
	}
	if e := j.Error; e != nil {
		p.Error = &lakeplanev1.JobError{Code: e.Code, Message: e.Message, Row: e.Row, Column: e.Column}
	}
	return p
}

// resultAs reads a job's stored Result into m by field name, leaving out
// the fields m does not have; false when it cannot be read.
func resultAs(result []byte, m proto.Message) bool {
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(result, m) == nil
}
