package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The headers of a webhook alert.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256, keyed with
	// the sink's secret, of the timestamp header's value, a ".", and the
	// body: see Sign.
	SignatureHeader = "X-Lakeplane-Signature"
	// TimestampHeader carries the time of the attempt in Unix seconds; it
	// is signed, so that a receiver can refuse replays of old alerts.
	TimestampHeader = "X-Lakeplane-Timestamp"
	// EventHeader names the kind of notification.
	EventHeader = "X-Lakeplane-Event"
)

// EventValidationFailed is the EventHeader of an alert.
const EventValidationFailed = "validation.failed"

// Webhook is a Sink that POSTs each alert as JSON to a URL, signed with a
// shared secret.
type Webhook struct {
	name   string
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

var _ Sink = (*Webhook)(nil)

// NewWebhook returns the webhook sink name posting to rawURL (http or
// https), signing with secret. A nil client means one that does not follow
// redirects, so that the signed body goes nowhere else.
func NewWebhook(name, rawURL string, secret []byte, client *http.Client) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook %q: url %q must be an absolute http:// or https:// URL", name, rawURL)
	}
	if len(secret) == 0 {
		return nil, fmt.Errorf("webhook %q: the signing secret is empty", name)
	}
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Webhook{name: name, url: rawURL, secret: secret, client: client, now: time.Now}, nil
}

// Name implements Sink.
func (w *Webhook) Name() string { return w.name }

// Send implements Sink: one POST; any answer but 2xx is an error.
func (w *Webhook) Send(ctx context.Context, _ *Alert, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %q: %w", w.name, err)
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lakeplane-alerts")
	req.Header.Set(EventHeader, EventValidationFailed)
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, Sign(w.secret, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %q: %w", w.name, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %q answered %s: %q", w.name, resp.Status, strings.TrimSpace(string(snippet)))
	}
	return nil
}

// Sign returns the signature header value of a body sent at timestamp (the
// TimestampHeader value): "sha256=" and the hex HMAC-SHA256 of
// timestamp + "." + body, keyed with secret.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// ErrBadSignature is returned by Verify for an alert not signed with the
// secret, or signed too long ago.
var ErrBadSignature = errors.New("bad alert signature")

// Verify checks, as a receiver would, that signature is the one Sign gives
// for timestamp and body, in constant time, and that timestamp is within
// maxAge of now (maxAge <= 0 skips that check).
func Verify(secret []byte, timestamp string, body []byte, signature string, maxAge time.Duration, now time.Time) error {
	if !hmac.Equal([]byte(signature), []byte(Sign(secret, timestamp, body))) {
		return ErrBadSignature
	}
	if maxAge > 0 {
		sec, err := strconv.ParseInt(timestamp, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrBadSignature, timestamp)
		}
		if age := now.Sub(time.Unix(sec, 0)); age > maxAge || age < -maxAge {
			return fmt.Errorf("%w: signed %v from now", ErrBadSignature, age)
		}
	}
	return nil
}
