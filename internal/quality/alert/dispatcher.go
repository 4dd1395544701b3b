package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/store"
)

// Options tune a Dispatcher; zero values take the defaults.
type Options struct {
	// Workers is the number of deliveries made at once; 2 when 0.
	Workers int
	// QueueSize bounds the deliveries waiting for a worker; 256 when 0. An
	// alert that finds the queue full is recorded as a dead letter at once,
	// so that Notify never waits for a sink.
	QueueSize int
	// Attempts is the number of tries per sink before the alert becomes a
	// dead letter; 5 when 0.
	Attempts int
	// InitialBackoff is the wait after the first failed try, doubled after
	// each next one up to MaxBackoff; 1s and 1m when 0.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// AttemptTimeout bounds one try; 10s when 0.
	AttemptTimeout time.Duration
	// Logger reports what cannot be recorded; slog.Default() when nil.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Workers, 2)
	def(&o.QueueSize, 256)
	def(&o.Attempts, 5)
	defDur(&o.InitialBackoff, time.Second)
	defDur(&o.MaxBackoff, time.Minute)
	defDur(&o.AttemptTimeout, 10*time.Second)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Backoff is the wait after the n-th failed try (n from 1): InitialBackoff
// doubled n-1 times, at most MaxBackoff.
func (o Options) Backoff(n int) time.Duration {
	o = o.withDefaults()
	d := o.InitialBackoff
	for i := 1; i < n && d < o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, o.MaxBackoff)
}

// recordTimeout bounds one write of a delivery's state to the store.
const recordTimeout = 5 * time.Second

// Dispatcher sends the alerts of failed validations to every sink from a
// few background workers and records each delivery's state in the store:
// RETRYING after a failed try, DELIVERED, or DEAD_LETTER after the last
// try. On Close, the deliveries still waiting (queued, or between tries)
// are recorded as dead letters with their payload, which can be sent again
// from the store; none is lost silently.
type Dispatcher struct {
	store  store.Alerts
	sinks  []Sink
	opts   Options
	queue  chan delivery
	stop   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.RWMutex // guards closed against enqueues
	closed bool
}

// delivery is one alert on its way to one sink.
type delivery struct {
	sink         Sink
	validationID string
	alert        *Alert
	body         []byte
}

// New starts a Dispatcher of alerts to sinks, recording in st. Close stops
// it.
func New(st store.Alerts, sinks []Sink, opts Options) *Dispatcher {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{store: st, sinks: sinks, opts: opts, queue: make(chan delivery, opts.QueueSize), stop: make(chan struct{}), cancel: cancel}
	for range opts.Workers {
		d.wg.Go(func() { d.work(ctx) })
	}
	return d
}

// Sinks returns the names of the dispatcher's sinks.
func (d *Dispatcher) Sinks() []string {
	names := make([]string, len(d.sinks))
	for i, s := range d.sinks {
		names[i] = s.Name()
	}
	return names
}

// Notify queues the alert of v to every sink when v did not pass, and
// returns without waiting for any delivery. An alert it cannot queue (the
// queue is full, or the dispatcher is closed) is recorded as a dead letter.
func (d *Dispatcher) Notify(ctx context.Context, v *suite.Validation) {
	if v == nil || v.Outcome == suite.Pass || len(d.sinks) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	a, err := FromValidation(v)
	if err != nil {
		d.opts.Logger.ErrorContext(ctx, "alert not sent", "validation", v.ID, "error", err)
		return
	}
	body, err := json.Marshal(a)
	if err != nil {
		d.opts.Logger.ErrorContext(ctx, "alert not sent", "validation", v.ID, "error", fmt.Errorf("encode alert: %w", err))
		return
	}
	for _, s := range d.sinks {
		job := delivery{sink: s, validationID: v.ID, alert: a, body: body}
		if reason := d.enqueue(job); reason != "" {
			d.record(ctx, job, store.AlertDeadLetter, 0, reason)
		}
	}
}

// enqueue queues job and returns "", or why it could not.
func (d *Dispatcher) enqueue(job delivery) string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return "not sent: the server was stopping"
	}
	select {
	case d.queue <- job:
		return ""
	default:
		return fmt.Sprintf("not sent: the alert queue was full (%d waiting)", cap(d.queue))
	}
}

// Deliveries returns the recorded deliveries of the given validations'
// alerts.
func (d *Dispatcher) Deliveries(ctx context.Context, validationIDs ...string) ([]*store.AlertDelivery, error) {
	return d.store.ListAlertDeliveries(ctx, validationIDs...)
}

// Close stops the workers, cutting short the tries under way, and records
// every delivery not made as a dead letter. It is safe to call more than
// once; the store must stay open until it returns.
func (d *Dispatcher) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.mu.Unlock()
	close(d.stop)
	d.cancel()
	d.wg.Wait()
	for {
		select {
		case job := <-d.queue:
			d.record(context.Background(), job, store.AlertDeadLetter, 0, "not sent: the server stopped first")
		default:
			return
		}
	}
}

// work delivers queued alerts until the dispatcher stops.
func (d *Dispatcher) work(ctx context.Context) {
	for {
		select {
		case <-d.stop:
			return
		case job := <-d.queue:
			d.deliver(ctx, job)
		}
	}
}

// deliver tries one delivery up to Attempts times, recording each outcome.
func (d *Dispatcher) deliver(ctx context.Context, job delivery) {
	for attempt := 1; ; attempt++ {
		tryCtx, cancel := context.WithTimeout(ctx, d.opts.AttemptTimeout)
		err := job.sink.Send(tryCtx, job.alert, job.body)
		cancel()
		switch {
		case err == nil:
			d.record(ctx, job, store.AlertDelivered, attempt, "")
			return
		case attempt >= d.opts.Attempts:
			d.record(ctx, job, store.AlertDeadLetter, attempt, err.Error())
			return
		case ctx.Err() != nil:
			d.record(ctx, job, store.AlertDeadLetter, attempt, fmt.Sprintf("the server stopped during try %d: %v", attempt, err))
			return
		}
		d.record(ctx, job, store.AlertRetrying, attempt, err.Error())
		wait := time.NewTimer(d.opts.Backoff(attempt))
		select {
		case <-d.stop:
			wait.Stop()
			d.record(ctx, job, store.AlertDeadLetter, attempt, fmt.Sprintf("the server stopped before try %d; last error: %v", attempt+1, err))
			return
		case <-wait.C:
		}
	}
}

// record writes a delivery's state, logging when the store refuses it.
func (d *Dispatcher) record(ctx context.Context, job delivery, state store.AlertState, attempts int, lastError string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	_, err := d.store.RecordAlertDelivery(ctx, &store.AlertDelivery{
		ValidationID: job.validationID, Sink: job.sink.Name(), State: state, Attempts: attempts, LastError: lastError, Payload: job.body,
	})
	attrs := []any{"validation", job.validationID, "sink", job.sink.Name(), "state", state, "attempts", attempts}
	if lastError != "" {
		attrs = append(attrs, "lastError", lastError)
	}
	switch {
	case err != nil:
		d.opts.Logger.ErrorContext(ctx, "alert delivery not recorded", append(attrs, "error", err)...)
	case state == store.AlertDelivered:
		d.opts.Logger.InfoContext(ctx, "alert delivered", attrs...)
	default:
		d.opts.Logger.WarnContext(ctx, "alert not delivered", attrs...)
	}
}
