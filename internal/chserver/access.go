package chserver

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/vakt-dev/vakt/internal/chdb"
	"github.com/vakt-dev/vakt/internal/httpguard"
)

// checkOrigin refuses requests a web page could make: a Host that is not a
// loopback name, the listen address or a configured one (DNS rebinding),
// and any request a browser sends for a page of another origin, top-level
// navigations included (a link's GET would carry credentials in its URL).
func (s *Server) checkOrigin(r *http.Request) (int, error) {
	if !s.guard.HostAllowed(r.Host) {
		return http.StatusForbidden, accessDenied("Host " + strconv.Quote(r.Host) + " is not this endpoint's; add it to clickhouse.allowed_hosts")
	}
	if httpguard.CrossOrigin(r, false) {
		return http.StatusForbidden, accessDenied("requests from pages of other origins are not served")
	}
	return 0, nil
}

func accessDenied(msg string) error {
	return &chdb.Error{Code: codeAccessDenied, Message: "Code: 497. DB::Exception: " + msg + ". (ACCESS_DENIED)"}
}

// authenticate finds the request's account. Every request needs one.
func (s *Server) authenticate(r *http.Request, params map[string][]string) (string, User, error) {
	name, pass, ok := r.BasicAuth()
	if !ok {
		name, pass = r.Header.Get("X-ClickHouse-User"), r.Header.Get("X-ClickHouse-Key")
	}
	if name == "" {
		name, pass = first(params, "user"), first(params, "password")
	}
	if name == "" {
		name = "default"
	}
	u, ok := s.cfg.Users[name]
	// Compare anyway, so timing does not tell which names exist.
	want := u.Password
	if !ok {
		want = "\x00no such user"
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(pass)) != 1 || !ok {
		return "", User{}, &chdb.Error{Code: codeAuthFailed, Message: fmt.Sprintf("Code: 516. DB::Exception: %s: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)", name)}
	}
	return name, u, nil
}

// writeError answers like ClickHouse: status 500 (401 for authentication,
// 403 for refused access) with the exception text as the body and its code
// in X-ClickHouse-Exception-Code.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var ce *chdb.Error
	if errors.As(err, &ce) {
		switch ce.Code {
		case codeAuthFailed:
			status = http.StatusUnauthorized
		case codeAccessDenied, codeReadonly:
			status = http.StatusForbidden
		case codeTooManyQueries:
			status = http.StatusServiceUnavailable
		}
	}
	s.writeErrorStatus(w, status, err)
}

func (s *Server) writeErrorStatus(w http.ResponseWriter, status int, err error) {
	var ce *chdb.Error
	if !errors.As(err, &ce) {
		ce = &chdb.Error{Code: 1001, Message: "Code: 1001. DB::Exception: " + err.Error() + ". (STD_EXCEPTION)"}
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("X-ClickHouse-Exception-Code", strconv.Itoa(ce.Code))
	h.Set("X-ClickHouse-Server-Display-Name", DisplayName)
	if ce.Code == codeSocketTimeout {
		h.Set("Connection", "close") // the rest of that body is not waited for
	}
	w.WriteHeader(status)
	io.WriteString(w, ce.Message+"\n")
}
