package bus

import (
	"fmt"
	"slices"

	"github.com/nats-io/nats-server/v2/server"
)

// The NATS users of the pipeline, one per stage. The embedded server gets
// them from Users; configs/nats-accounts.conf spells the same permissions
// out for an external nats-server (TestAccountsFileMatchesUsers keeps the
// two equal).
const (
	UserAdmin        = "vakt_admin"
	UserIngest       = "vakt_ingest"
	UserPseudonymize = "vakt_pseudonymize"
	UserStore        = "vakt_store"
	UserOps          = "vakt_ops"
	UserShipper      = "vakt_shipper"
	// UserEnforce is the decision endpoint's (enforce/) and `vakt
	// decisions`': it reads the salts (to compute the ids of the addresses
	// it is asked about) and the decisions, never a raw event.
	UserEnforce = "vakt_enforce"
	UserSubject = "vakt_subject"
)

// AlertsBucket is the KV bucket where `vakt run` remembers which offenders
// it alerted on (vakt_ops may use it).
const AlertsBucket = "vakt_alerts"

// DecisionsBucket is the KV bucket of the decisions the decision endpoint
// enforces (enforce/): pseudonymous ids, rules and expiry, never an
// address. vakt_ops (the alert loop) and vakt_enforce may use it.
const DecisionsBucket = "vakt_decisions"

// decisionsBucketAccess is what a user of DecisionsBucket publishes to:
// creating the bucket, its keys (values, per-key TTLs), direct gets and
// the watchers that keep the endpoint's copy current.
func decisionsBucketAccess() []string {
	kv := "KV_" + DecisionsBucket
	return []string{
		"$JS.API.INFO", "$JS.API.STREAM.INFO." + kv, "$JS.API.STREAM.CREATE." + kv,
		"$KV." + DecisionsBucket + ".>", "$JS.API.DIRECT.GET." + kv + ".>",
		"$JS.API.CONSUMER.CREATE." + kv + ".>", "$JS.API.CONSUMER.DELETE." + kv + ".>", "$JS.FC." + kv + ".>",
	}
}

// User is one NATS user: the subjects it may publish to and subscribe to.
// Replies (JetStream answers, pulled messages, KV values) go to the
// requester's inbox, so each vakt user has an inbox prefix only it may
// subscribe to.
type User struct {
	Name        string
	InboxPrefix string
	Publish     []string
	Subscribe   []string
}

// Users returns the pipeline's users. Only vakt_pseudonymize may read raw
// events (through its consumer) or touch the salt bucket.
func Users() []User { return append(pipelineUsers(), otherUsers()...) }

// The streams behind the buckets the users' permissions name.
const (
	kvOffsets  = "KV_" + CheckpointBucket
	kvSalts    = SaltBucketStream
	kvAlerts   = "KV_" + AlertsBucket
	kvSubjects = "KV_" + SubjectsBucket
)

// lag is what /readyz and the lag metrics read: counts, no contents.
func lag() []string {
	return []string{"$JS.API.CONSUMER.INFO.VAKT_RAW.pseudonymize", "$JS.API.CONSUMER.INFO.VAKT_EVENTS.store"}
}

// readSubjects reads the bucket of data subjects' requests (erasure
// tombstones, restrictions) with a watcher: the store checks tombstones
// before inserting, reports leave restricted clients out.
func readSubjects() []string {
	return []string{"$JS.API.STREAM.INFO." + kvSubjects,
		"$JS.API.CONSUMER.CREATE." + kvSubjects + ".>", "$JS.API.CONSUMER.DELETE." + kvSubjects + ".>", "$JS.FC." + kvSubjects + ".>"}
}

// pipelineUsers are the administrator's and the three stages'.
func pipelineUsers() []User {
	return []User{{
		Name: UserAdmin, InboxPrefix: "_INBOX_admin",
		Publish: []string{
			"$JS.API.INFO",
			"$JS.API.STREAM.INFO.VAKT_RAW", "$JS.API.STREAM.CREATE.VAKT_RAW", "$JS.API.STREAM.UPDATE.VAKT_RAW",
			"$JS.API.CONSUMER.INFO.VAKT_RAW.pseudonymize", "$JS.API.CONSUMER.CREATE.VAKT_RAW.pseudonymize",
			"$JS.API.STREAM.INFO.VAKT_EVENTS", "$JS.API.STREAM.CREATE.VAKT_EVENTS", "$JS.API.STREAM.UPDATE.VAKT_EVENTS",
			"$JS.API.CONSUMER.INFO.VAKT_EVENTS.store", "$JS.API.CONSUMER.CREATE.VAKT_EVENTS.store",
			"$JS.API.STREAM.INFO.VAKT_QUARANTINE", "$JS.API.STREAM.CREATE.VAKT_QUARANTINE", "$JS.API.STREAM.UPDATE.VAKT_QUARANTINE",
			"$JS.API.STREAM.INFO." + kvOffsets, "$JS.API.STREAM.CREATE." + kvOffsets,
		},
		Subscribe: []string{"_INBOX_admin.>"},
	}, {
		Name: UserIngest, InboxPrefix: "_INBOX_ingest",
		Publish: append([]string{
			"vakt.raw.>", "$JS.API.STREAM.INFO.VAKT_RAW",
			// masked samples of rejected lines
			"vakt.quarantine.>", "$JS.API.STREAM.INFO.VAKT_QUARANTINE",
			// file checkpoints: the bucket, its keys and the watcher that loads them
			"$JS.API.STREAM.INFO." + kvOffsets,
			"$KV." + CheckpointBucket + ".>",
			"$JS.API.DIRECT.GET." + kvOffsets + ".>",
			"$JS.API.CONSUMER.CREATE." + kvOffsets + ".>", "$JS.API.CONSUMER.DELETE." + kvOffsets + ".>",
			"$JS.FC." + kvOffsets + ".>",
		}, lag()...), // /readyz and the lag metrics: counts, no contents
		Subscribe: []string{"_INBOX_ingest.>"},
	}, {
		Name: UserPseudonymize, InboxPrefix: "_INBOX_pseudonymize",
		Publish: []string{
			// the RAW stream and its consumer, which it recreates after a NATS restart
			"$JS.API.STREAM.INFO.VAKT_RAW", "$JS.API.STREAM.CREATE.VAKT_RAW", "$JS.API.STREAM.UPDATE.VAKT_RAW",
			"$JS.API.CONSUMER.INFO.VAKT_RAW.pseudonymize", "$JS.API.CONSUMER.CREATE.VAKT_RAW.pseudonymize",
			"$JS.API.CONSUMER.MSG.NEXT.VAKT_RAW.pseudonymize",
			"$JS.ACK.VAKT_RAW.pseudonymize.>",
			// pseudonymised events; the store's consumer must exist before any is published
			"vakt.events.>",
			"$JS.API.STREAM.INFO.VAKT_EVENTS", "$JS.API.CONSUMER.INFO.VAKT_EVENTS.store",
			// the alarm when a salt is replaced under an epoch (salt-replaced)
			"vakt.alerts.vakt",
			// the salt bucket: keys, direct gets, watchers, erasure of destroyed salts
			"$KV." + SaltBucket + ".>",
			"$JS.API.STREAM.INFO." + kvSalts, "$JS.API.STREAM.CREATE." + kvSalts,
			"$JS.API.STREAM.DELETE." + kvSalts, "$JS.API.STREAM.PURGE." + kvSalts,
			"$JS.API.STREAM.MSG.GET." + kvSalts, "$JS.API.STREAM.MSG.DELETE." + kvSalts,
			"$JS.API.DIRECT.GET." + kvSalts, "$JS.API.DIRECT.GET." + kvSalts + ".>",
			"$JS.API.CONSUMER.CREATE." + kvSalts + ".>", "$JS.API.CONSUMER.DELETE." + kvSalts + ".>",
			"$JS.FC." + kvSalts + ".>",
			// the decision endpoint when it runs in `vakt pseudonymize`
			// (enforce.listen): its decisions bucket
			"$JS.API.STREAM.INFO." + "KV_" + DecisionsBucket, "$JS.API.STREAM.CREATE." + "KV_" + DecisionsBucket,
			"$KV." + DecisionsBucket + ".>", "$JS.API.DIRECT.GET." + "KV_" + DecisionsBucket + ".>",
			"$JS.API.CONSUMER.CREATE." + "KV_" + DecisionsBucket + ".>", "$JS.API.CONSUMER.DELETE." + "KV_" + DecisionsBucket + ".>",
			"$JS.FC." + "KV_" + DecisionsBucket + ".>", "$JS.API.INFO",
		},
		Subscribe: []string{"_INBOX_pseudonymize.>"},
	}, {
		Name: UserStore, InboxPrefix: "_INBOX_store",
		Publish: append([]string{
			"$JS.API.STREAM.INFO.VAKT_EVENTS",
			"$JS.API.CONSUMER.INFO.VAKT_EVENTS.store", "$JS.API.CONSUMER.MSG.NEXT.VAKT_EVENTS.store",
			"$JS.ACK.VAKT_EVENTS.store.>",
			// /readyz and the lag metrics: counts, no contents
			"$JS.API.CONSUMER.INFO.VAKT_RAW.pseudonymize",
		}, readSubjects()...),
		Subscribe: []string{"_INBOX_store.>"},
	}}
}

// otherUsers are the operator's, the decision endpoint's, the data
// subjects' requests' and the shippers'.
func otherUsers() []User {
	return []User{{
		// `vakt quarantine` (masked samples), lag monitoring, /readyz and
		// the alerts of `vakt run`
		Name: UserOps, InboxPrefix: "_INBOX_ops",
		Publish: append([]string{
			"$JS.API.STREAM.INFO.VAKT_QUARANTINE",
			"$JS.API.CONSUMER.CREATE.VAKT_QUARANTINE.>", "$JS.API.CONSUMER.MSG.NEXT.VAKT_QUARANTINE.>",
			"$JS.API.CONSUMER.DELETE.VAKT_QUARANTINE.>", "$JS.API.CONSUMER.INFO.VAKT_QUARANTINE.>",
			"$JS.API.STREAM.INFO.VAKT_RAW", "$JS.API.STREAM.INFO.VAKT_EVENTS",
			// alerts and the bucket of those already sent (hashed keys, times)
			"vakt.alerts.>", "$JS.API.INFO",
			"$JS.API.STREAM.INFO." + kvAlerts, "$JS.API.STREAM.CREATE." + kvAlerts, "$JS.API.STREAM.UPDATE." + kvAlerts,
			"$KV." + AlertsBucket + ".>", "$JS.API.DIRECT.GET." + kvAlerts + ".>",
		}, slices.Concat(lag(), decisionsBucketAccess()[1:], readSubjects())...),
		Subscribe: []string{"_INBOX_ops.>", "vakt.alerts.>"},
	}, {
		// The decision endpoint and `vakt decisions`: the salts read only
		// (the key, the seal and conflict records, the rotation schedule:
		// direct gets), the decisions bucket; no raw event, no salt write.
		Name: UserEnforce, InboxPrefix: "_INBOX_enforce",
		Publish: append([]string{
			"$JS.API.STREAM.INFO." + kvSalts, "$JS.API.DIRECT.GET." + kvSalts + ".>",
		}, decisionsBucketAccess()...),
		Subscribe: []string{"_INBOX_enforce.>"},
	}, {
		// `vakt subject`: reads salts (never writes or destroys one),
		// counts the store's acknowledgements, keeps tombstones,
		// restrictions and request records, and forgets alerts on an
		// erased client. No raw event, no pipeline stream.
		Name: UserSubject, InboxPrefix: "_INBOX_subject",
		Publish: append([]string{
			"$JS.API.INFO",
			"$JS.API.STREAM.INFO." + kvSalts, "$JS.API.DIRECT.GET." + kvSalts, "$JS.API.DIRECT.GET." + kvSalts + ".>",
			"$JS.API.STREAM.MSG.GET." + kvSalts,
			"$JS.API.CONSUMER.CREATE." + kvSalts + ".>", "$JS.API.CONSUMER.DELETE." + kvSalts + ".>", "$JS.FC." + kvSalts + ".>",
			// a salt store checks these once-written keys with create-if-absent
			"$KV." + SaltBucket + ".meta.epoch_length", "$KV." + SaltBucket + ".meta.seals_since",
			"$JS.API.CONSUMER.INFO.VAKT_EVENTS.store",
			"$JS.API.STREAM.CREATE." + kvSubjects, "$KV." + SubjectsBucket + ".>",
			"$JS.API.DIRECT.GET." + kvSubjects + ".>", "$JS.API.STREAM.MSG.GET." + kvSubjects,
			"$JS.API.STREAM.INFO." + kvAlerts, "$KV." + AlertsBucket + ".>", "$JS.API.DIRECT.GET." + kvAlerts + ".>",
		}, readSubjects()...),
		Subscribe: []string{"_INBOX_subject.>"},
	}, {
		// Vector, Fluent Bit or a script publishing the JSON contract
		// (docs/nats-contract.md). No vakt user uses _INBOX, so the
		// shippers' JetStream acknowledgements may go there.
		Name: UserShipper, InboxPrefix: "_INBOX",
		Publish:   []string{"vakt.raw.>", "$JS.API.STREAM.INFO.VAKT_RAW"},
		Subscribe: []string{"_INBOX.>"},
	}}
}

// LookupUser returns the user called name.
func LookupUser(name string) (User, bool) {
	i := slices.IndexFunc(Users(), func(u User) bool { return u.Name == name })
	if i < 0 {
		return User{}, false
	}
	return Users()[i], true
}

// StageUser is the user a process of stage connects as to the embedded
// server: its own stage's user, vakt_pseudonymize for `vakt salts` (the
// only one that may touch the salt bucket), vakt_ops for `vakt quarantine`
// and for the monitoring connection of the all-in-one commands (StageAll),
// vakt_admin for the set-up.
func StageUser(stage Stage) string {
	switch stage {
	case StageIngest:
		return UserIngest
	case StagePseudonymize, StageSalts:
		return UserPseudonymize
	case StageStore:
		return UserStore
	case StageEnforce:
		return UserEnforce
	case StageSubject:
		return UserSubject
	case StageSetup, StageNone:
		return UserAdmin
	}
	return UserOps
}

// PasswordFile is the name, in the data dir's credentials folder
// (internal/secrets), of the generated password of user on the embedded
// server.
func PasswordFile(user string) string { return "nats-" + user + ".password" }

// serverUsers turns Users into nats-server users with the given passwords.
func serverUsers(passwords map[string]string) ([]*server.User, error) {
	var out []*server.User
	for _, u := range Users() {
		pw := passwords[u.Name]
		if pw == "" {
			return nil, fmt.Errorf("embedded nats: no password for user %s", u.Name)
		}
		out = append(out, &server.User{Username: u.Name, Password: pw, Permissions: u.permissions()})
	}
	return out, nil
}

func (u User) permissions() *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: slices.Clone(u.Publish)},
		Subscribe: &server.SubjectPermission{Allow: slices.Clone(u.Subscribe)},
	}
}
