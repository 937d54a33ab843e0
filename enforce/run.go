package enforce

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Listen opens the configured listener: TCP, or a unix socket that only
// the owner and group may use (0660; put the web server's user in the
// group). A stale socket file is replaced.
func (e *Endpoint) Listen() (net.Listener, error) {
	path, unix := e.cfg.unixPath()
	if !unix {
		ln, err := net.Listen("tcp", e.cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("enforce.listen %s: %w", e.cfg.Listen, err)
		}
		return ln, nil
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("enforce.listen: %s exists and is not a socket; remove it or choose another path", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("enforce.listen: another process serves %s; stop it or choose another path", path)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("enforce.listen %s: %w", e.cfg.Listen, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("enforce.listen: %w", err)
	}
	return ln, nil
}

// Run serves decision requests on ln (Listen's, or one of the caller's),
// and keeps the decisions, the salt keys and the hit counters current,
// until ctx ends.
func (e *Endpoint) Run(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { e.watchLoop(ctx) })
	wg.Go(func() { e.refreshLoop(ctx) })
	wg.Go(func() { e.flushLoop(ctx) })
	wg.Go(func() { e.carryLoop(ctx) })
	e.log.Info("decision endpoint listening", "listen", e.cfg.Listen, "auth", e.cfg.Auth)
	if err := e.serveOn(ctx, ln); err != nil {
		cancel()
		return fmt.Errorf("decision endpoint: %w", err)
	}
	if path, unix := e.cfg.unixPath(); unix {
		os.Remove(path)
	}
	return ctx.Err()
}

// watchLoop keeps the set equal to the bucket, watching again after a
// failure (NATS restarted).
func (e *Endpoint) watchLoop(ctx context.Context) {
	for ctx.Err() == nil {
		if err := e.set.watch(ctx, e.decisions.kv); err != nil && ctx.Err() == nil {
			e.log.Warn("decision endpoint: watching decisions", "err", err)
			sleep(ctx, time.Second)
		}
	}
}

// refreshLoop keeps the salt keys current and drops expired decisions.
func (e *Endpoint) refreshLoop(ctx context.Context) {
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		e.set.dropExpired()
		e.ring.refresh(ctx, e.set.load().epochs)
		e.m.SaltEpochs.Set(float64(e.ring.count()))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// flushLoop adds the hits counted in memory to the bucket's counters, for
// `vakt decisions list`.
func (e *Endpoint) flushLoop(ctx context.Context) {
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// What was counted since the last flush, if NATS answers soon.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			e.flushHits(fctx)
			cancel()
			return
		case <-t.C:
			e.flushHits(ctx)
		}
	}
}

func (e *Endpoint) flushHits(ctx context.Context) {
	for _, en := range e.set.entries() {
		n := en.hits.Swap(0)
		if n == 0 {
			continue
		}
		if err := e.decisions.addHits(ctx, en.key, n, en.d.Expires); err != nil {
			en.hits.Add(n) // next time
			if ctx.Err() == nil {
				e.log.Warn("decision endpoint: hit counter", "err", err)
			}
		}
	}
}

// carry is a decision to copy to the id of the current epoch.
type carry struct {
	from  Decision
	tag   string
	epoch uint32
	id    uint64
}

// carryIfOld queues a copy of a decision of an earlier epoch under the
// current epoch's id of the same address, computed here: after the old
// salt is destroyed, only the copy can match. Only the id is queued.
func (e *Endpoint) carryIfOld(en *entry, cur uint32, ip netip.Addr) {
	if cur == 0 || en.d.Epoch >= cur || en.id.scope == codeASN {
		return
	}
	keys := e.ring.keys(cur)
	if keys == nil {
		return // no salt of the current epoch yet: carried on a later request
	}
	id := keys.ClientID(ip)
	if en.id.scope == codeNetwork {
		id = keys.NetworkID(ip)
	}
	if _, done := e.set.load().byID[idKey{en.id.scope, cur, id}]; done {
		return
	}
	tag := fmt.Sprintf("%s>%d", en.key, cur)
	e.carryMu.Lock()
	defer e.carryMu.Unlock()
	if e.carrying[tag] {
		return
	}
	select {
	case e.carries <- carry{from: en.d, tag: tag, epoch: cur, id: id}:
		e.carrying[tag] = true
	default: // busy: a later request carries it
	}
}

func (e *Endpoint) carryLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-e.carries:
			d := c.from
			d.CarriedFrom, d.Epoch, d.ID = d.Epoch, c.epoch, fmt.Sprint(c.id)
			d.Origin, d.Created = OriginCarried, e.now().UTC()
			if _, err := e.decisions.Put(ctx, d); err != nil {
				e.log.Warn("decision endpoint: carry a decision to the new epoch", "rule", d.Rule, "scope", d.Scope, "err", err)
				e.carryMu.Lock()
				delete(e.carrying, c.tag)
				e.carryMu.Unlock()
				continue
			}
			e.m.Carried.Inc()
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
