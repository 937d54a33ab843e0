package app

import (
	"github.com/vakt-dev/vakt/internal/chserver"
	"github.com/vakt-dev/vakt/internal/config"
)

// embeddedUsers are the accounts of the embedded endpoint. With no
// read-only user configured there are none: every request is served as
// vakt's own user, on loopback, as before. With one, the endpoint accepts
// exactly two accounts: vakt's (clickhouse.user, default "default", with
// clickhouse.password) and the read-only one, which the engine itself keeps
// to reading (readonly = 1).
func embeddedUsers(cfg config.Config) (map[string]chserver.User, error) {
	ch := cfg.ClickHouse
	if ch.ReadonlyUser == "" {
		return nil, nil
	}
	password, err := secret(ch.Password, ch.PasswordFile, "clickhouse.password_file")
	if err != nil {
		return nil, err
	}
	roPassword, err := secret(ch.ReadonlyPassword, ch.ReadonlyPasswordFile, "clickhouse.readonly_password_file")
	if err != nil {
		return nil, err
	}
	user := ch.User
	if user == "" {
		user = "default"
	}
	return map[string]chserver.User{
		user:            {Password: password},
		ch.ReadonlyUser: {Password: roPassword, ReadOnly: true},
	}, nil
}
