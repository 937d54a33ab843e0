package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stage says which streams, consumers and buckets a process sets up. With
// a NATS user per stage (configs/nats-accounts.conf) each user may touch
// only what its stage uses.
type Stage string

// Stages of EnsureFor.
const (
	// StageAll is everything: vakt run, vakt import, and any set-up where
	// one NATS user does it all.
	StageAll Stage = ""
	// StageSetup is `vakt nats setup`: everything but the salt bucket,
	// which only the pseudonymiser's user may touch.
	StageSetup        Stage = "setup"
	StageIngest       Stage = "ingest"
	StagePseudonymize Stage = "pseudonymize"
	StageStore        Stage = "store"
	// StageSalts is `vakt salts`; StageQuarantine is `vakt quarantine`.
	StageSalts      Stage = "salts"
	StageQuarantine Stage = "quarantine"
	// StageEnforce is the decision endpoint and `vakt decisions`: it sets
	// up nothing but its own bucket (enforce.OpenDecisions).
	StageEnforce Stage = "enforce"
	// StageReport is `vakt report` and the dashboard: it reads the
	// restriction list of data subjects' requests, and sets up nothing.
	StageReport Stage = "report"
	// StageSubject is `vakt subject`: it needs the salt bucket to exist
	// (a pseudonymiser creates it) and sets up nothing.
	StageSubject Stage = "subject"
	// StageNone sets up nothing.
	StageNone Stage = "none"
)

type part int

const (
	partRaw part = iota
	partRawConsumer
	partEvents
	partStoreConsumer
	partQuarantine
	partSalts
	partCheckpoints
)

// stageParts lists, per stage, what it needs, streams before their
// consumers.
var stageParts = map[Stage][]part{
	StageAll:    {partRaw, partRawConsumer, partEvents, partStoreConsumer, partQuarantine, partSalts, partCheckpoints},
	StageSetup:  {partRaw, partRawConsumer, partEvents, partStoreConsumer, partQuarantine, partCheckpoints},
	StageIngest: {partRaw, partQuarantine, partCheckpoints},
	// The store's consumer too: VAKT_EVENTS (interest retention) drops
	// events published while no consumer exists.
	StagePseudonymize: {partRaw, partRawConsumer, partEvents, partStoreConsumer, partSalts},
	StageStore:        {partEvents, partStoreConsumer},
	StageSalts:        {partSalts},
	StageQuarantine:   {partQuarantine},
	StageEnforce:      nil,
	StageReport:       nil,
	StageSubject:      nil,
	StageNone:         nil,
}

// What EnsureFor did to one stream, consumer or bucket.
const (
	ActionCreated   = "created"
	ActionUpdated   = "updated"
	ActionUnchanged = "unchanged"
	// ActionKept: its settings differ from the configuration, and the user
	// may not update it.
	ActionKept = "kept"
	// ActionMigrated: the salt bucket was recreated to allow erasure.
	ActionMigrated = "migrated"
)

// Change is what EnsureFor found or did for one stream, consumer or bucket.
type Change struct {
	What   string // "stream VAKT_RAW", "consumer store on VAKT_EVENTS", "kv bucket vakt_salts"
	Action string // one of the Action constants
	Detail string // the settings that differed, or why it was kept
}

const (
	hintSetup = "run `vakt nats setup` with the NATS administrator's credentials first (see configs/nats-accounts.conf)"
	hintRaw   = "start `vakt pseudonymize` (its user may create it) or " + hintSetup
	hintSalts = "start `vakt pseudonymize` first: only its user may create the salt bucket (see configs/nats-accounts.conf)"
)

// EnsureFor sets up what stage uses. Each stream, consumer and bucket is
// looked up first and created only when missing, so that a user without
// create permission works once an administrator has set things up; one
// whose settings differ from c is updated, or kept with a warning when the
// user may not update it. A request the server refuses for lack of
// permission fails at once with an error that names the user, the subject
// and the fix. log may be nil.
func EnsureFor(ctx context.Context, js jetstream.JetStream, c StreamConfig, stage Stage, log *slog.Logger) ([]Change, error) {
	parts, ok := stageParts[stage]
	if !ok {
		return nil, fmt.Errorf("bus: unknown stage %q", stage)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := newEnsurer(js, log)
	raw, events, quarantine := streamConfigs(c)
	var changes []Change
	for _, p := range parts {
		var ch Change
		var err error
		switch p {
		case partRaw:
			ch, err = e.stream(ctx, raw, hintRaw)
		case partRawConsumer:
			ch, err = e.consumer(ctx, RawStream, consumerConfig(c, PseudonymizeConsumer, "pseudonymiser replicas"), hintRaw)
		case partEvents:
			ch, err = e.stream(ctx, events, hintSetup)
		case partStoreConsumer:
			ch, err = e.consumer(ctx, EventsStream, consumerConfig(c, StoreConsumer, "store replicas"), hintSetup)
		case partQuarantine:
			ch, err = e.stream(ctx, quarantine, hintSetup)
		case partSalts:
			// The salt bucket allows message deletes, so that destruction
			// can erase a salt's bytes on disk (saltbucket.go).
			ch, err = ensureSaltBucket(ctx, e, c.Replicas)
		case partCheckpoints:
			ch, err = e.kvBucket(ctx, checkpointBucketConfig(c), hintSetup)
		}
		if err != nil {
			return changes, err
		}
		changes = append(changes, ch)
	}
	return changes, nil
}

// ensurer makes the JetStream API requests of EnsureFor.
type ensurer struct {
	js    jetstream.JetStream
	log   *slog.Logger
	user  string
	api   string // API subject prefix, "$JS.API."
	perms *permWatch
}

func newEnsurer(js jetstream.JetStream, log *slog.Logger) *ensurer {
	e := &ensurer{js: js, log: log, api: "$JS.API."}
	o := js.Options()
	switch {
	case o.APIPrefix != "":
		e.api = strings.TrimSuffix(o.APIPrefix, ".") + "."
	case o.Domain != "":
		e.api = "$JS." + o.Domain + ".API."
	}
	if nc := js.Conn(); nc != nil {
		e.user = nc.Opts.User
		e.perms = watchPermissions(nc)
	}
	return e
}

// who names the connection's user in messages.
func (e *ensurer) who() string {
	if e.user == "" {
		return "this connection's NATS user"
	}
	return "NATS user " + strconv.Quote(e.user)
}

// do runs f, one or more JetStream API requests, and fails it as soon as
// the server refuses a request on a subject that match accepts, or the
// connection's reply inbox, for lack of permission. nats.go reports such
// refusals only to the connection's error handler: the request itself
// would wait for its timeout.
func (e *ensurer) do(ctx context.Context, match func(subject string) bool, f func(context.Context) error) error {
	if e.perms == nil {
		return f(ctx)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w := &permWaiter{match: match, cancel: cancel}
	e.perms.add(w)
	defer e.perms.remove(w)
	err := f(ctx)
	if err == nil {
		return nil
	}
	var pe *PermissionError
	if errors.As(context.Cause(ctx), &pe) {
		pe.User = e.user
		return pe
	}
	return err
}

// subject returns a matcher for exactly one API subject.
func (e *ensurer) subject(s string) func(string) bool {
	s = e.api + s
	return func(x string) bool { return x == s }
}

func (e *ensurer) stream(ctx context.Context, want jetstream.StreamConfig, hint string) (Change, error) {
	ch := Change{What: "stream " + want.Name}
	var have jetstream.StreamConfig
	err := e.do(ctx, e.subject("STREAM.INFO."+want.Name), func(ctx context.Context) error {
		s, err := e.js.Stream(ctx, want.Name)
		if err == nil {
			have = s.CachedInfo().Config
		}
		return err
	})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		err = e.do(ctx, e.subject("STREAM.CREATE."+want.Name), func(ctx context.Context) error {
			_, err := e.js.CreateStream(ctx, want)
			return err
		})
		return e.created(ch, err, jetstream.ErrStreamNameAlreadyInUse, hint)
	}
	if err != nil {
		return ch, e.cannotRead(ch.What, err)
	}
	diff := streamDiff(have, want)
	if len(diff) == 0 {
		ch.Action = ActionUnchanged
		return ch, nil
	}
	err = e.do(ctx, e.subject("STREAM.UPDATE."+want.Name), func(ctx context.Context) error {
		_, err := e.js.UpdateStream(ctx, want)
		return err
	})
	return e.updated(ch, diff, err)
}

func (e *ensurer) consumer(ctx context.Context, stream string, want jetstream.ConsumerConfig, hint string) (Change, error) {
	ch := Change{What: fmt.Sprintf("consumer %s on %s", want.Durable, stream)}
	var have jetstream.ConsumerConfig
	err := e.do(ctx, e.subject("CONSUMER.INFO."+stream+"."+want.Durable), func(ctx context.Context) error {
		c, err := e.js.Consumer(ctx, stream, want.Durable)
		if err == nil {
			have = c.CachedInfo().Config
		}
		return err
	})
	// Creating and updating a consumer are one request.
	create := func(ctx context.Context) error {
		_, err := e.js.CreateOrUpdateConsumer(ctx, stream, want)
		return err
	}
	createSubject := e.subject("CONSUMER.CREATE." + stream + "." + want.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return e.created(ch, e.do(ctx, createSubject, create), nil, hint)
	}
	if err != nil {
		return ch, e.cannotRead(ch.What, err)
	}
	diff := consumerDiff(have, want)
	if len(diff) == 0 {
		ch.Action = ActionUnchanged
		return ch, nil
	}
	return e.updated(ch, diff, e.do(ctx, createSubject, create))
}

// kvBucket creates a key-value bucket that does not exist yet; an existing
// one is left as it is.
func (e *ensurer) kvBucket(ctx context.Context, cfg jetstream.KeyValueConfig, hint string) (Change, error) {
	ch := Change{What: "kv bucket " + cfg.Bucket}
	stream := "KV_" + cfg.Bucket
	err := e.do(ctx, e.subject("STREAM.INFO."+stream), func(ctx context.Context) error {
		_, err := e.js.KeyValue(ctx, cfg.Bucket)
		return err
	})
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		// Creating a bucket also reads the account's JetStream info.
		info, create := e.api+"INFO", e.api+"STREAM.CREATE."+stream
		err = e.do(ctx, func(s string) bool { return s == info || s == create }, func(ctx context.Context) error {
			_, err := e.js.CreateKeyValue(ctx, cfg)
			return err
		})
		return e.created(ch, err, jetstream.ErrBucketExists, hint)
	}
	if err != nil {
		return ch, e.cannotRead(ch.What, err)
	}
	ch.Action = ActionUnchanged
	return ch, nil
}

// created turns the outcome of a create request into a Change; exists is
// the error of a concurrent creation by another process.
func (e *ensurer) created(ch Change, err, exists error, hint string) (Change, error) {
	var pe *PermissionError
	switch {
	case err == nil:
		ch.Action = ActionCreated
		e.log.Info("JetStream set up", "created", ch.What)
		return ch, nil
	case exists != nil && errors.Is(err, exists):
		ch.Action = ActionUnchanged
		return ch, nil
	case errors.As(err, &pe) && pe.Inbox:
		return ch, e.cannotRead(ch.What, err)
	case errors.As(err, &pe):
		return ch, fmt.Errorf("%s does not exist and %s may not create it: %s: %w", ch.What, e.who(), hint, err)
	}
	return ch, fmt.Errorf("%s: create: %w", ch.What, err)
}

func (e *ensurer) updated(ch Change, diff []string, err error) (Change, error) {
	var pe *PermissionError
	switch {
	case err == nil:
		ch.Action, ch.Detail = ActionUpdated, strings.Join(diff, ", ")
		e.log.Info("JetStream set up", "updated", ch.What, "settings", ch.Detail)
		return ch, nil
	case errors.As(err, &pe) && !pe.Inbox:
		// It works as it is; its owner's settings stay.
		ch.Action = ActionKept
		ch.Detail = fmt.Sprintf("its %s differ from this configuration and %s may not update it", strings.Join(diff, ", "), e.who())
		e.log.Warn("JetStream set-up: "+ch.What+" keeps its settings", "differ", strings.Join(diff, ", "), "err", err)
		return ch, nil
	}
	return ch, fmt.Errorf("%s: update %s: %w", ch.What, strings.Join(diff, ", "), err)
}

// cannotRead explains an error of a request every user of a stream,
// consumer or bucket must be allowed.
func (e *ensurer) cannotRead(what string, err error) error {
	var pe *PermissionError
	switch {
	case errors.As(err, &pe) && pe.Inbox:
		return fmt.Errorf("%s: %s may not subscribe to its reply inbox %s: allow it to subscribe to <nats.inbox_prefix>.> (see configs/nats-accounts.conf): %w", what, e.who(), pe.Subject, err)
	case errors.As(err, &pe):
		return fmt.Errorf("%s: %s may not look it up: allow it to publish to %s (see configs/nats-accounts.conf): %w", what, e.who(), pe.Subject, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// streamDiff names the settings in which have differs from want. Zero and
// negative limits both mean unlimited; a zero duplicate window is the
// server's default.
func streamDiff(have, want jetstream.StreamConfig) []string {
	var d []string
	add := func(name string, differs bool) {
		if differs {
			d = append(d, name)
		}
	}
	unlimited := func(v int64) int64 { return max(v, 0) }
	add("description", have.Description != want.Description)
	add("subjects", !slices.Equal(have.Subjects, want.Subjects))
	add("storage", have.Storage != want.Storage)
	add("retention", have.Retention != want.Retention)
	add("discard", have.Discard != want.Discard)
	add("max_age", have.MaxAge != want.MaxAge)
	add("max_bytes", unlimited(have.MaxBytes) != unlimited(want.MaxBytes))
	add("max_msgs", unlimited(have.MaxMsgs) != unlimited(want.MaxMsgs))
	add("max_msg_size", unlimited(int64(have.MaxMsgSize)) != unlimited(int64(want.MaxMsgSize)))
	add("max_msgs_per_subject", unlimited(have.MaxMsgsPerSubject) != unlimited(want.MaxMsgsPerSubject))
	add("duplicate_window", want.Duplicates != 0 && have.Duplicates != want.Duplicates)
	add("replicas", max(have.Replicas, 1) != max(want.Replicas, 1))
	return d
}

// consumerDiff is streamDiff for the pipeline's durable consumers.
func consumerDiff(have, want jetstream.ConsumerConfig) []string {
	var d []string
	add := func(name string, differs bool) {
		if differs {
			d = append(d, name)
		}
	}
	add("description", have.Description != want.Description)
	add("ack_policy", have.AckPolicy != want.AckPolicy)
	add("ack_wait", have.AckWait != want.AckWait)
	add("max_ack_pending", have.MaxAckPending != want.MaxAckPending)
	unlimited := func(v int) int { return max(v, 0) }
	add("max_deliver", unlimited(have.MaxDeliver) != unlimited(want.MaxDeliver))
	// 0: as many as the stream.
	add("replicas", have.Replicas != 0 && max(have.Replicas, 1) != max(want.Replicas, 1))
	return d
}

// PermissionError is a request the NATS server refused: its user may not
// publish to the subject, or may not subscribe to its reply inbox (Inbox).
type PermissionError struct {
	User    string // "" when it is not known (token, nkey, credentials file)
	Subject string
	Inbox   bool
	Err     error // errors.Is(Err, nats.ErrPermissionViolation)
}

func (e *PermissionError) Error() string { return e.Err.Error() }
func (e *PermissionError) Unwrap() error { return e.Err }

// permWatch hands the permission violations the server reports on one
// connection to the requests waiting on it.
type permWatch struct {
	inbox   string // the connection's inbox prefix, with a trailing dot
	mu      sync.Mutex
	waiters map[*permWaiter]struct{}
}

type permWaiter struct {
	match  func(subject string) bool
	cancel context.CancelCauseFunc
}

var (
	watchesMu sync.Mutex
	watches   = map[*nats.Conn]*permWatch{}
)

// watchPermissions chains a permission watcher in front of nc's error and
// closed handlers, once per connection.
func watchPermissions(nc *nats.Conn) *permWatch {
	watchesMu.Lock()
	defer watchesMu.Unlock()
	if w, ok := watches[nc]; ok {
		return w
	}
	w := &permWatch{inbox: nats.InboxPrefix, waiters: map[*permWaiter]struct{}{}}
	if p := nc.Opts.InboxPrefix; p != "" {
		w.inbox = p + "."
	}
	watches[nc] = w
	prevErr := nc.ErrorHandler()
	nc.SetErrorHandler(func(c *nats.Conn, s *nats.Subscription, err error) {
		w.notify(err)
		if prevErr != nil {
			prevErr(c, s, err)
		}
	})
	prevClosed := nc.ClosedHandler()
	nc.SetClosedHandler(func(c *nats.Conn) {
		watchesMu.Lock()
		delete(watches, c)
		watchesMu.Unlock()
		if prevClosed != nil {
			prevClosed(c)
		}
	})
	return w
}

func (w *permWatch) add(p *permWaiter) {
	w.mu.Lock()
	w.waiters[p] = struct{}{}
	w.mu.Unlock()
}

func (w *permWatch) remove(p *permWaiter) {
	w.mu.Lock()
	delete(w.waiters, p)
	w.mu.Unlock()
}

var violationRe = regexp.MustCompile(`(Publish to|Subscription to) "([^"]+)"`)

func (w *permWatch) notify(err error) {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		return
	}
	m := violationRe.FindStringSubmatch(err.Error())
	if m == nil {
		return
	}
	pe := &PermissionError{Subject: m[2], Inbox: m[1] == "Subscription to" && strings.HasPrefix(m[2], w.inbox), Err: err}
	w.mu.Lock()
	defer w.mu.Unlock()
	for p := range w.waiters {
		// Without its reply inbox no request gets an answer.
		if pe.Inbox || p.match(pe.Subject) {
			p.cancel(pe)
		}
	}
}
