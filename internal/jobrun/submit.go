package jobrun

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/job"
)

// Creator stores new jobs; a request id already used returns its job.
type Creator interface {
	CreateJob(ctx context.Context, j *job.Job) (*job.Job, bool, error)
}

// Submit queues a job of kind with spec (encoded as JSON) for the caller on
// ctx, and calls wake when a new job was stored (a retried request id
// returns the first job and wakes nobody).
func Submit(ctx context.Context, c Creator, kind job.Kind, datasetID, requestID string, spec any, wake func()) (*job.Job, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode %s job spec: %w", kind, err)
	}
	principal := ""
	if p, ok := auth.FromContext(ctx); ok {
		principal = p.Name
	}
	j, created, err := c.CreateJob(ctx, &job.Job{Kind: kind, Dataset: datasetID, RequestID: requestID, Principal: principal, Spec: raw})
	if err != nil {
		return nil, fmt.Errorf("queue %s job for %q: %w", kind, datasetID, err)
	}
	if created && wake != nil {
		wake()
	}
	return j, nil
}
