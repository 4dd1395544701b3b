package jobrun

import (
	"sync"

	"github.com/lakeplane/lakeplane/internal/job"
)

// Progress is where an executor reports what it has done; the pool writes it
// to the store in the background. Safe for concurrent use.
type Progress struct {
	mu       sync.Mutex
	phase    string
	progress job.Progress
}

func newProgress(j *job.Job) *Progress {
	return &Progress{phase: j.Phase}
}

// SetPhase names the step the job is in (VALIDATING, LOADING, COMMITTING, ...).
func (p *Progress) SetPhase(phase string) {
	p.mu.Lock()
	p.phase = phase
	p.mu.Unlock()
}

// Update changes the counters under the lock.
func (p *Progress) Update(change func(*job.Progress)) {
	p.mu.Lock()
	change(&p.progress)
	p.mu.Unlock()
}

// Snapshot returns the phase and counters as they are now.
func (p *Progress) Snapshot() (string, job.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.phase, p.progress
}
