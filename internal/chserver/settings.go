package chserver

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/vakt-dev/vakt/internal/chdb"
)

// Settings a client may set, in the request or in a SETTINGS clause. An
// allow-list, since many of the engine's settings name paths, URLs or disks
// (format_schema, format_template_*, input_format_record_errors_file_path,
// format_avro_schema_registry_url, disk, storage_policy) or lift the limits.
var freeSettings = map[string]bool{
	// what clickhouse-go, curl users and Grafana send
	"wait_end_of_query": true, "http_write_exception_in_output_format": true,
	"send_progress_in_http_headers": true, "http_headers_progress_interval_ms": true,
	"log_comment": true, "session_timezone": true, "date_time_input_format": true,
	"date_time_output_format": true,
	// vakt's store (store/batch.go, store/migrate.go)
	"insert_deduplicate": true, "insert_deduplication_token": true,
	"deduplicate_blocks_in_dependent_materialized_views": true, "async_insert": true,
	"wait_for_async_insert": true, "mutations_sync": true, "alter_sync": true,
	"lightweight_deletes_sync": true, "optimize_throw_if_noop": true,
	// refusing an insert on a nearly full disk only lowers what is written
	"min_free_disk_bytes_to_perform_insert": true,
	// query shape; the result and read limits only ever lower what is read
	"max_block_size": true, "max_insert_block_size": true, "max_result_rows": true,
	"max_result_bytes": true, "result_overflow_mode": true, "max_rows_to_read": true,
	"max_bytes_to_read": true, "read_overflow_mode": true, "max_rows_to_group_by": true,
	"group_by_overflow_mode": true, "max_rows_to_sort": true, "sort_overflow_mode": true,
	"timeout_overflow_mode": true, "extremes": true, "join_use_nulls": true,
	"joined_subquery_requires_alias": true, "final": true, "prefer_column_name_to_alias": true,
	"aggregate_functions_null_for_empty": true, "transform_null_in": true, "cast_keep_nullable": true,
	"union_default_mode": true, "count_distinct_implementation": true, "enable_analyzer": true,
	"allow_experimental_analyzer": true, "join_algorithm": true, "enable_materialized_cte": true,
	// spilling to disk only lowers a query's memory
	"max_bytes_before_external_group_by": true, "max_bytes_before_external_sort": true,
}

// freeSettingPrefixes are the format settings, minus those that name files
// or servers (refused by name below).
var freeSettingPrefixes = []string{"input_format_", "output_format_"}

// MergeTree settings a CREATE TABLE or ALTER ... MODIFY SETTING may use
// (vakt's schema uses the first eight).
var storageSettings = map[string]bool{
	"ttl_only_drop_parts": true, "materialize_ttl_recalculate_only": true,
	"non_replicated_deduplication_window": true, "merge_with_ttl_timeout": true,
	"fsync_after_insert": true, "fsync_part_directory": true,
	"min_age_to_force_merge_seconds": true, "min_age_to_force_merge_on_partition_only": true,
	"index_granularity": true, "index_granularity_bytes": true, "min_bytes_for_wide_part": true,
	"min_rows_for_wide_part": true, "allow_nullable_key": true, "parts_to_delay_insert": true,
	"parts_to_throw_insert": true, "old_parts_lifetime": true,
}

// limitSetting is a limit the endpoint forces on every session: a client may
// lower it but neither raise nor lift it (0 is unlimited).
type limitSetting struct {
	max   float64
	float bool
}

func (s *Server) limitSettings() map[string]limitSetting {
	return map[string]limitSetting{
		"max_memory_usage":   {max: float64(s.cfg.MaxQueryMemory)},
		"max_execution_time": {max: s.cfg.MaxExecutionTime.Seconds(), float: true},
		"max_threads":        {max: 64},
		"max_query_size":     {max: maxQueryBytes},
	}
}

func allowedSettingName(name string) bool {
	if freeSettings[name] {
		return true
	}
	if strings.Contains(name, "path") || strings.Contains(name, "url") || strings.Contains(name, "file") ||
		strings.Contains(name, "schema_registry") || name == "output_format_schema" {
		return false
	}
	for _, p := range freeSettingPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// checkSetting says whether a client may set name to value; storage also
// accepts the MergeTree settings of a table definition.
func (s *Server) checkSetting(name, value string, storage bool) error {
	if l, ok := s.limitSettings()[name]; ok {
		v, err := strconv.ParseFloat(strings.Trim(value, "'"), 64)
		if err != nil || (!l.float && v != float64(int64(v))) {
			return constraint(fmt.Sprintf("Setting %s must be a number not above %v", name, l.max))
		}
		if name != "max_threads" && v <= 0 || v > l.max || v < 0 {
			return constraint(fmt.Sprintf("Setting %s shouldn't be greater than %v or unlimited", name, l.max))
		}
		return nil
	}
	if name == "readonly" {
		// Raising it is allowed; the engine refuses lowering it in
		// read-only sessions, and every session starts at its level.
		return nil
	}
	if allowedSettingName(name) || (storage && storageSettings[name]) {
		return nil
	}
	return constraint(fmt.Sprintf("Setting %s should not be changed on vakt's endpoint", name))
}

func constraint(msg string) error {
	return &chdb.Error{Code: codeSettingConstraint, Message: "Code: 452. DB::Exception: " + msg + ". (SETTING_CONSTRAINT_VIOLATION)"}
}

// settingsClauses finds the SETTINGS clauses of a canonical statement (from
// formatQuerySingleLine: keywords upper case, `name = literal` pairs) and
// returns their names and values. want is how many Set nodes the parser
// saw; finding another number refuses the statement rather than guess.
func settingsClauses(canonical string, want int) (names, values []string, err error) {
	toks := tokenize(canonical)
	found := 0
	for i := 0; i < len(toks); i++ {
		if toks[i].quoted || (toks[i].text != "SETTINGS" && toks[i].text != "SETTING") {
			continue
		}
		// An identifier called SETTINGS is not followed by `name =`.
		if i+2 >= len(toks) || !isIdent(toks[i+1]) || toks[i+2].text != "=" {
			continue
		}
		found++
		j := i + 1
		for {
			if j+2 >= len(toks) || !isIdent(toks[j]) || toks[j+1].text != "=" || !isLiteral(toks[j+2]) {
				return nil, nil, denied("a SETTINGS clause whose values are not plain literals")
			}
			names, values = append(names, strings.Trim(toks[j].text, "`")), append(values, toks[j+2].text)
			j += 3
			if j < len(toks) && toks[j].text == "," && j+2 < len(toks) && toks[j+2].text == "=" {
				j++
				continue
			}
			break
		}
		i = j - 1
	}
	if found != want {
		return nil, nil, denied("a statement whose SETTINGS clauses could not be read")
	}
	return names, values, nil
}

type token struct {
	text   string
	quoted bool // a string literal or a quoted identifier
}

func isIdent(t token) bool {
	if t.quoted {
		return strings.HasPrefix(t.text, "`")
	}
	r := []rune(t.text)
	return len(r) > 0 && (unicode.IsLetter(r[0]) || r[0] == '_')
}

func isLiteral(t token) bool {
	if t.quoted {
		return strings.HasPrefix(t.text, "'")
	}
	_, err := strconv.ParseFloat(t.text, 64)
	return err == nil || t.text == "true" || t.text == "false"
}

// tokenize splits SQL into words, numbers, quoted strings and identifiers
// (kept with their quotes) and single punctuation characters.
func tokenize(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '`' || c == '"':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j > len(s) {
				j = len(s) - 1
			}
			out = append(out, token{text: s[i:min(j+1, len(s))], quoted: true})
			i = j + 1
		case isWordByte(c) || (c == '-' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9'):
			j := i + 1
			for j < len(s) && (isWordByte(s[j]) || s[j] == '.') {
				j++
			}
			out = append(out, token{text: s[i:j]})
			i = j
		default:
			out = append(out, token{text: s[i : i+1]})
			i++
		}
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
