package app

import (
	"github.com/vakt-dev/vakt/internal/chserver"
	"github.com/vakt-dev/vakt/internal/config"
)

// Default account names of the embedded ClickHouse endpoint.
const (
	DefaultClickHouseUser     = chserver.DefaultUser
	DefaultClickHouseReadUser = chserver.DefaultReadUser
)

// ClickHousePasswordFile names the file, under <data_dir>/credentials, that
// holds the generated password of an embedded endpoint account.
func ClickHousePasswordFile(user string) string { return chserver.PasswordFile(user) }

// embeddedAccounts are the two accounts of the embedded endpoint: vakt's
// own (clickhouse.user) and a read-only one (clickhouse.readonly_user).
func embeddedAccounts(cfg config.Config) (own, reader chserver.Account) {
	ch := cfg.ClickHouse
	return chserver.Account{User: ch.User, Password: ch.Password, PasswordFile: ch.PasswordFile, PasswordFileKey: "clickhouse.password_file"},
		chserver.Account{User: ch.ReadonlyUser, Password: ch.ReadonlyPassword, PasswordFile: ch.ReadonlyPasswordFile,
			PasswordFileKey: "clickhouse.readonly_password_file", ReadOnly: true}
}

// clickHouseHint tells the operator how to query the embedded endpoint as
// the read-only account without printing its password.
func clickHouseHint(cfg config.Config, addr string) string {
	if !cfg.EmbeddedClickHouse() {
		return ""
	}
	_, reader := embeddedAccounts(cfg)
	return chserver.QueryHint(cfg.DataDir, addr, reader)
}
