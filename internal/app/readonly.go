package app

import (
	"strings"

	"github.com/vakt-dev/vakt/internal/chserver"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/secrets"
)

// Default account names of the embedded ClickHouse endpoint.
const (
	DefaultClickHouseUser     = "vakt"
	DefaultClickHouseReadUser = "reader"
)

// ClickHousePasswordFile names the file, under <data_dir>/credentials, that
// holds the generated password of an embedded endpoint account (e.g.
// secrets.Path(dataDir, ClickHousePasswordFile("reader"))).
func ClickHousePasswordFile(user string) string { return "clickhouse-" + user + ".password" }

// EmbeddedClickHouseUsers are the two accounts of the embedded endpoint:
// vakt's own (clickhouse.user, "vakt" when empty) and a read-only one
// (clickhouse.readonly_user, "reader" when empty). A password the
// configuration leaves empty is generated into the data dir on first use,
// so every vakt command on the data dir (owner or not) finds the same one.
func EmbeddedClickHouseUsers(cfg config.Config) (own, reader string, users map[string]chserver.User, err error) {
	own, ownPassword, err := embeddedAccount(cfg, false)
	if err != nil {
		return "", "", nil, err
	}
	reader, readerPassword, err := embeddedAccount(cfg, true)
	if err != nil {
		return "", "", nil, err
	}
	return own, reader, map[string]chserver.User{
		own:    {Password: ownPassword},
		reader: {Password: readerPassword, ReadOnly: true},
	}, nil
}

func embeddedAccount(cfg config.Config, readOnly bool) (user, password string, err error) {
	ch := cfg.ClickHouse
	user, password, file, key := ch.User, ch.Password, ch.PasswordFile, "clickhouse.password_file"
	def := DefaultClickHouseUser
	if readOnly {
		user, password, file, key = ch.ReadonlyUser, ch.ReadonlyPassword, ch.ReadonlyPasswordFile, "clickhouse.readonly_password_file"
		def = DefaultClickHouseReadUser
	}
	if user == "" {
		user = def
	}
	if password, err = secrets.ValueOrFile(password, file, key); err != nil || password != "" {
		return user, password, err
	}
	password, err = secrets.Ensure(cfg.DataDir, ClickHousePasswordFile(user))
	return user, password, err
}

// clickHouseHint tells the operator how to query the embedded endpoint as
// the read-only account without printing its password.
func clickHouseHint(cfg config.Config, addr string) string {
	if !cfg.EmbeddedClickHouse() {
		return ""
	}
	reader := cfg.ClickHouse.ReadonlyUser
	if reader == "" {
		reader = DefaultClickHouseReadUser
	}
	var pw string
	switch ch := cfg.ClickHouse; {
	case ch.ReadonlyPasswordFile != "":
		pw = "$(cat " + shellQuote(ch.ReadonlyPasswordFile) + ")"
	case ch.ReadonlyPassword != "":
		pw = "<clickhouse.readonly_password>"
	default:
		pw = "$(cat " + shellQuote(secrets.Path(cfg.DataDir, ClickHousePasswordFile(reader))) + ")"
	}
	return "  (try: curl -u " + reader + ":" + pw + " 'http://" + addr + "/?query=SELECT+count()+FROM+vakt.requests')"
}

func shellQuote(s string) string {
	if strings.ContainsAny(s, " '\"$`\\") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
