package chserver

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/vakt-dev/vakt/internal/chdb"
)

// splitParams sorts a request's parameters into engine settings (checked
// against the allowed ones) and query parameters (param_*), refusing
// unknown settings and external tables.
func (s *Server) splitParams(params url.Values) (settings, qparams map[string]string, err error) {
	settings, qparams = map[string]string{}, map[string]string{}
	for k, vs := range params {
		v := vs[len(vs)-1]
		switch {
		case strings.HasPrefix(k, "param_"):
			qparams[strings.TrimPrefix(k, "param_")] = v
		case httpParams[k]:
		case strings.HasSuffix(k, "_format") || strings.HasSuffix(k, "_structure") || strings.HasSuffix(k, "_types"):
			return nil, nil, &chdb.Error{Code: codeNotImplemented, Message: "Code: 48. DB::Exception: external tables are not supported by vakt's embedded endpoint. (NOT_IMPLEMENTED)"}
		case s.settings[k]:
			if err := s.checkSetting(k, v, false); err != nil {
				return nil, nil, err
			}
			settings[k] = v
		default:
			return nil, nil, &chdb.Error{Code: codeUnknownSetting, Message: fmt.Sprintf("Code: 115. DB::Exception: Unknown setting '%s'. (UNKNOWN_SETTING)", k)}
		}
	}
	return settings, qparams, nil
}

// readOnlyLevel is the engine's readonly setting for the request, and the
// statement mode the checker allows. The engine enforces read-only mode
// itself: 1 for read-only users, 2 (settings may change) for GET, as
// ClickHouse's HTTP interface does. A client may ask for a stricter level,
// never a looser one; settings loses its "readonly".
func readOnlyLevel(user User, method string, settings map[string]string) (level int, mode accessMode, err error) {
	level, mode = 0, modeWrite
	switch {
	case user.ReadOnly:
		level, mode = 1, modeRead
	case method == "GET":
		level, mode = 2, modeGet
	}
	if v, ok := settings["readonly"]; ok {
		switch {
		case v == "1":
			level, mode = 1, modeRead
		case v == "2" && level == 0:
			level, mode = 2, modeGet
		case v != "0" && v != "2":
			return 0, 0, constraint("Setting readonly must be 0, 1 or 2")
		}
		delete(settings, "readonly")
	}

	return level, mode, nil
}

// readStatement reads the statement: the query parameter followed by the
// body; for an INSERT ... FORMAT, what follows the format name is data to
// stream, returned as data. Everything but streamed data is read before a
// session is taken, and streamed data is waited for (its first 64 KiB), so
// a slow client holds no engine session while it dawdles.
func readStatement(queryParam string, body io.Reader) (query string, data io.Reader, err error) {
	query = strings.TrimRight(queryParam, " \t\r\n;")
	if query != "" {
		if m := insertFormatRe.FindStringSubmatchIndex(query); m != nil && m[1] == len(query) {
			br := newPeekReader(body)
			if _, err := br.Peek(64 << 10); err != nil {
				return "", nil, err
			}
			data = br
		} else {
			rest, err := readLimited(body)
			if err != nil {
				return "", nil, err
			}
			if len(rest) > 0 {
				query += "\n" + string(rest)
			}
		}
	} else {
		// The body holds the statement, and for an inline INSERT ... FORMAT
		// its data too: split them, since the engine cuts inline binary data
		// short.
		br := newPeekReader(body)
		head, err := br.Peek(64 << 10)
		if err != nil {
			return "", nil, err
		}
		if m := insertFormatRe.FindSubmatchIndex(head); m != nil {
			query = string(head[:m[1]])
			br.Discard(m[1])
			br.SkipLineEnd()
			data = br
		} else {
			all, err := readLimited(br)
			if err != nil {
				return "", nil, err
			}
			query = string(all)
		}
	}
	if len(query) > maxQueryBytes {
		return "", nil, &chdb.Error{Code: codeSyntaxError, Message: fmt.Sprintf("Code: 62. DB::Exception: query text over %d bytes; send INSERT data after FORMAT instead. (SYNTAX_ERROR)", maxQueryBytes)}
	}
	if strings.TrimSpace(query) == "" {
		return "", nil, &chdb.Error{Code: codeSyntaxError, Message: "Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)"}
	}
	return query, data, nil
}

// execute runs the statement on conn: an INSERT streaming data, or a
// query whose result is in outFormat.
func execute(conn *chdb.Conn, query string, data io.Reader, format string, qparams map[string]string) (res *chdb.Result, outFormat string, err error) {
	if data != nil {
		m := insertFormatRe.FindStringSubmatchIndex(query)
		stmt, dataFormat := query[m[2]:m[3]], query[m[4]:m[5]]
		res, err = conn.Insert(stmt, dataFormat, func(yield func([]byte) error) error {
			return feed(data, yield)
		})
		return res, "", err
	}
	res, err = conn.QueryWithParams(query, format, qparams)
	outFormat = format
	if m := trailingFormatRe.FindStringSubmatch(query); m != nil {
		outFormat = m[1]
	}
	return res, outFormat, err
}

// feed yields data in chunks of 1 MiB.
func feed(data io.Reader, yield func([]byte) error) error {
	buf := make([]byte, 1<<20)
	for {
		n, err := io.ReadFull(data, buf)
		if n > 0 {
			if err := yield(buf[:n]); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		var ce *chdb.Error
		if errors.As(err, &ce) {
			return err
		}
		if err != nil {
			return &chdb.Error{Code: codeCannotParseInput, Message: "Code: 27. DB::Exception: reading request body: " + err.Error() + ". (CANNOT_PARSE_INPUT_ASSERTION_FAILED)"}
		}
	}
}
