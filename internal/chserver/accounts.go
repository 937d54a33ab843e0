package chserver

import (
	"strings"

	"github.com/vakt-dev/vakt/internal/secrets"
)

// Default account names of the embedded endpoint.
const (
	DefaultUser     = "vakt"
	DefaultReadUser = "reader"
)

// PasswordFile names the file, under <data_dir>/credentials, that holds the
// generated password of an account (e.g. secrets.Path(dataDir,
// PasswordFile("reader"))).
func PasswordFile(user string) string { return "clickhouse-" + user + ".password" }

// Account is an account of the endpoint as configured. A password the
// configuration leaves empty (neither Password nor PasswordFile) is
// generated into the data dir on first use, so every vakt command on the
// data dir (owner or not) finds the same one.
type Account struct {
	User            string // DefaultUser or DefaultReadUser when empty
	Password        string
	PasswordFile    string
	PasswordFileKey string // the setting of PasswordFile, for errors
	ReadOnly        bool
}

// Resolve returns the account's user and password, generating the
// password into dataDir if need be.
func (a Account) Resolve(dataDir string) (user, password string, err error) {
	user = a.User
	if user == "" {
		user = DefaultUser
		if a.ReadOnly {
			user = DefaultReadUser
		}
	}
	if password, err = secrets.ValueOrFile(a.Password, a.PasswordFile, a.PasswordFileKey); err != nil || password != "" {
		return user, password, err
	}
	password, err = secrets.Ensure(dataDir, PasswordFile(user))
	return user, password, err
}

// Users resolves the accounts into Config.Users.
func Users(dataDir string, accounts ...Account) (map[string]User, error) {
	users := map[string]User{}
	for _, a := range accounts {
		user, password, err := a.Resolve(dataDir)
		if err != nil {
			return nil, err
		}
		users[user] = User{Password: password, ReadOnly: a.ReadOnly}
	}
	return users, nil
}

// QueryHint tells the operator how to query the endpoint at addr as the
// read-only account without printing its password.
func QueryHint(dataDir, addr string, reader Account) string {
	user := reader.User
	if user == "" {
		user = DefaultReadUser
	}
	var pw string
	switch {
	case reader.PasswordFile != "":
		pw = "$(cat " + shellQuote(reader.PasswordFile) + ")"
	case reader.Password != "":
		pw = "<clickhouse.readonly_password>"
	default:
		pw = "$(cat " + shellQuote(secrets.Path(dataDir, PasswordFile(user))) + ")"
	}
	return "  (try: curl -u " + user + ":" + pw + " 'http://" + addr + "/?query=SELECT+count()+FROM+vakt.requests')"
}

func shellQuote(s string) string {
	if strings.ContainsAny(s, " '\"$`\\") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
