package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/lakeplane/lakeplane/internal/store"
)

var _ store.Alerts = (*Store)(nil)

const alertColumns = `id, validation_id, sink, state, attempts, last_error, payload, create_time, update_time`

func scanAlertDelivery(row scanner) (*store.AlertDelivery, error) {
	var d store.AlertDelivery
	var state, payload string
	err := row.Scan(&d.ID, &d.ValidationID, &d.Sink, &state, &d.Attempts, &d.LastError, &payload,
		timeScanner{&d.CreateTime}, timeScanner{&d.UpdateTime})
	d.State, d.Payload = store.AlertState(state), []byte(payload)
	return &d, err
}

// RecordAlertDelivery implements store.Alerts: one row per validation and
// sink, inserted or updated in one statement.
func (s *Store) RecordAlertDelivery(ctx context.Context, in *store.AlertDelivery) (*store.AlertDelivery, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("record alert delivery: %w", err)
	}
	out := *in
	out.UpdateTime = s.timestamp()
	payload := string(out.Payload)
	if payload == "" {
		payload = "{}"
	}
	row := s.db.QueryRowContext(ctx, s.bind(`INSERT INTO alert_deliveries (`+alertColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (validation_id, sink) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
	last_error = excluded.last_error, payload = excluded.payload, update_time = excluded.update_time
RETURNING id, create_time`),
		id.String(), out.ValidationID, out.Sink, string(out.State), out.Attempts, out.LastError, payload,
		s.timeArg(out.UpdateTime), s.timeArg(out.UpdateTime))
	if err := row.Scan(&out.ID, timeScanner{&out.CreateTime}); err != nil {
		return nil, fmt.Errorf("record alert of validation %q to sink %q: %w", in.ValidationID, in.Sink, err)
	}
	return &out, nil
}

// ListAlertDeliveries implements store.Alerts.
func (s *Store) ListAlertDeliveries(ctx context.Context, validationIDs ...string) ([]*store.AlertDelivery, error) {
	if len(validationIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(validationIDs))
	for i, id := range validationIDs {
		args[i] = id
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(validationIDs)), ", ")
	rows, err := s.db.QueryContext(ctx, s.bind(`SELECT `+alertColumns+` FROM alert_deliveries WHERE validation_id IN (`+marks+`) ORDER BY validation_id, sink`), args...)
	if err != nil {
		return nil, fmt.Errorf("list alert deliveries: %w", err)
	}
	defer rows.Close()
	var out []*store.AlertDelivery
	for rows.Next() {
		d, err := scanAlertDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("list alert deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alert deliveries: %w", err)
	}
	return out, nil
}

// ListDeadLetters implements store.Alerts, by keyset on (update_time, id).
func (s *Store) ListDeadLetters(ctx context.Context, pageSize int, pageToken string) (store.Page[*store.AlertDelivery], error) {
	at, after, paging, err := decodeTimePageToken(pageToken, "dead-letters")
	if err != nil {
		return store.Page[*store.AlertDelivery]{}, err
	}
	query, args := `SELECT `+alertColumns+` FROM alert_deliveries WHERE state = ?`, []any{string(store.AlertDeadLetter)}
	if paging {
		query, args = query+` AND (update_time, id) < (?, ?)`, append(args, s.timeArg(at), after)
	}
	size := store.NormalizePageSize(pageSize)
	query += ` ORDER BY update_time DESC, id DESC LIMIT ?`
	rows, err := s.db.QueryContext(ctx, s.bind(query), append(args, size+1)...)
	page, err := readPage(rows, err, size, scanAlertDelivery, func(last *store.AlertDelivery) string {
		return encodeTimePageToken(last.UpdateTime, last.ID, "dead-letters")
	})
	if err != nil {
		return page, fmt.Errorf("list dead letters: %w", err)
	}
	return page, nil
}
