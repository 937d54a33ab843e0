package testenv

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSUser is a test's own connection as one NATS user; it collects the
// permission violations the server reports on it, so that a refusal is
// observed rather than assumed from a timeout.
type NATSUser struct {
	Name string
	NC   *nats.Conn
	JS   jetstream.JetStream
	errs chan error
}

// ConnectNATSUser connects to url ("" with nats.InProcessServer among opts)
// as name with opts (credentials, inbox prefix).
func ConnectNATSUser(tb testing.TB, url, name string, opts ...nats.Option) *NATSUser {
	tb.Helper()
	u := &NATSUser{Name: name, errs: make(chan error, 100)}
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case u.errs <- err:
		default:
		}
	}))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		tb.Fatalf("connect as %s: %v", name, err)
	}
	tb.Cleanup(nc.Close)
	u.NC = nc
	if u.JS, err = jetstream.New(nc); err != nil {
		tb.Fatal(err)
	}
	return u
}

// Refused runs op and waits for the server to report a permission
// violation on a subject starting with subject.
func (u *NATSUser) Refused(tb testing.TB, what, subject string, op func(ctx context.Context) error) {
	tb.Helper()
	for len(u.errs) > 0 {
		<-u.errs
	}
	// A refused request waits for its timeout: it is cancelled once the
	// refusal is seen.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- op(ctx) }()
	for {
		select {
		case err := <-u.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject) {
				tb.Logf("%s: %s: refused: %v", u.Name, what, err)
				cancel()
				<-done
				return
			}
		case <-ctx.Done():
			tb.Errorf("%s: %s: no permission violation for %s (the operation returned %v)", u.Name, what, subject, <-done)
			return
		}
	}
}

// Request is an op for Refused: a request on subject.
func (u *NATSUser) Request(subject, body string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := u.NC.RequestWithContext(ctx, subject, []byte(body))
		return err
	}
}
