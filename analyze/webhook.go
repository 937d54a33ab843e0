package analyze

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/vakt-dev/vakt/internal/metrics"
)

// webhook POSTs alerts to a URL from a bounded queue, retrying failures a
// bounded number of times. The URL may hold a token: it is never logged.
type webhook struct {
	url     string
	client  *http.Client
	retries int
	backoff time.Duration
	queue   chan []byte
	log     *slog.Logger
	m       *metrics.Pipeline
}

const webhookQueue = 1024

func newWebhook(url string, timeout time.Duration, retries int, log *slog.Logger, m *metrics.Pipeline) *webhook {
	return &webhook{url: url, client: &http.Client{Timeout: timeout}, retries: retries, backoff: time.Second,
		queue: make(chan []byte, webhookQueue), log: log, m: m}
}

func (w *webhook) enqueue(b []byte) {
	select {
	case w.queue <- b:
	default:
		w.m.WebhookDeliveries.WithLabelValues("dropped").Inc()
		w.log.Warn("alert webhook queue full: alert dropped (it was published on NATS)")
	}
}

func (w *webhook) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-w.queue:
			if err := w.deliver(ctx, b); err != nil {
				if ctx.Err() != nil {
					return
				}
				w.m.WebhookDeliveries.WithLabelValues("failed").Inc()
				w.log.Warn("alert webhook failed", "attempts", w.retries+1, "err", err)
				continue
			}
			w.m.WebhookDeliveries.WithLabelValues("ok").Inc()
		}
	}
}

// deliver POSTs one alert: 2xx is success; a network error, 408, 429 or
// 5xx is retried after 1s, 2s, 4s... (at most w.retries times); any other
// answer is final.
func (w *webhook) deliver(ctx context.Context, body []byte) error {
	var err error
	for attempt := 0; attempt <= w.retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(min(w.backoff<<(attempt-1), 30*time.Second)):
			}
		}
		var retry bool
		retry, err = w.post(ctx, body)
		if err == nil || !retry {
			return err
		}
	}
	return err
}

func (w *webhook) post(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook request: %w", redactURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vakt-alerts")
	res, err := w.client.Do(req)
	if err != nil {
		return true, fmt.Errorf("webhook: %w", redactURL(err))
	}
	res.Body.Close()
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return false, nil
	case res.StatusCode == http.StatusRequestTimeout, res.StatusCode == http.StatusTooManyRequests, res.StatusCode >= 500:
		return true, fmt.Errorf("webhook answered %s", res.Status)
	}
	return false, fmt.Errorf("webhook answered %s (not retried)", res.Status)
}

// redactURL keeps a webhook URL (which may carry a token) out of an
// error: net/http's *url.Error quotes it.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("%s: timeout", ue.Op)
		}
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
