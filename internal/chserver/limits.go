package chserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/vakt-dev/vakt/internal/chdb"
)

// gate caps the statements running at once. A few more may wait briefly
// (vakt's own store workers, a dashboard refresh); beyond that, or after
// the wait, the request is refused as ClickHouse does (code 202).
type gate struct {
	slots   chan struct{}
	waiters chan struct{}
	wait    time.Duration
}

func newGate(n int, wait time.Duration) *gate {
	return &gate{slots: make(chan struct{}, n), waiters: make(chan struct{}, 4*n), wait: wait}
}

func (g *gate) acquire(ctx context.Context) (func(), error) {
	select {
	case g.slots <- struct{}{}:
		return g.release, nil
	default:
	}
	select {
	case g.waiters <- struct{}{}:
		defer func() { <-g.waiters }()
	default:
		return nil, g.tooMany()
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.release, nil
	case <-t.C:
		return nil, g.tooMany()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *gate) release() { <-g.slots }

func (g *gate) tooMany() error {
	return &chdb.Error{Code: codeTooManyQueries, Message: fmt.Sprintf("Code: 202. DB::Exception: Too many simultaneous queries. Maximum: %d. (TOO_MANY_SIMULTANEOUS_QUERIES)", cap(g.slots))}
}

// idleBody cuts a request body that sends nothing for idle: each read gets
// a fresh deadline, so a large body streaming steadily is never cut.
type idleBody struct {
	r    io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.rc.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.r.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, &chdb.Error{Code: codeSocketTimeout, Message: fmt.Sprintf("Code: 209. DB::Exception: Timeout exceeded while reading from socket: the request body sent nothing for %v. (SOCKET_TIMEOUT)", b.idle)}
	}
	return n, err
}

func (b *idleBody) Close() error { return b.r.Close() }
