package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Every key can be set by an environment variable named VAKT_ and the
// dotted key in upper snake case (ingest.syslog.udp: VAKT_INGEST_SYSLOG_UDP),
// derived from the yaml tags, so the file, the environment and every
// message use one name. Lists are comma-separated. Maps and lists of
// sections (pseudonymize.sites, ingest.sources) have no variable: their
// keys are data (site names), which a variable name cannot spell. A field
// the file does not set may name its variable in an env tag
// (nats.StoreKey: VAKT_NATS_STORE_KEY, a secret kept out of files).

// EnvVar is the environment variable of a dotted key.
func EnvVar(key string) string {
	return "VAKT_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))
}

// envSetting is one settable leaf: its key, variable and field.
type envSetting struct {
	key, env string
	field    reflect.Value
}

// envSettings lists every leaf of v (a struct) that a variable can set.
func envSettings(v reflect.Value, prefix string) []envSetting {
	var out []envSetting
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if env := f.Tag.Get("env"); env != "" && f.IsExported() {
			out = append(out, envSetting{join(prefix, strings.ToLower(f.Name)), env, v.Field(i)})
			continue
		}
		if name == "" {
			continue
		}
		key, fv := join(prefix, name), v.Field(i)
		switch {
		case f.Type.Kind() == reflect.Struct:
			out = append(out, envSettings(fv, key)...)
		case f.Type.Kind() == reflect.Map, f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() != reflect.String:
			// Keyed by data or a list of sections: file only (see above).
		default:
			out = append(out, envSetting{key, EnvVar(key), fv})
		}
	}
	return out
}

// applyEnv sets every key whose variable lookup finds.
func (c *Config) applyEnv(lookup func(string) (string, bool)) error {
	for _, s := range envSettings(reflect.ValueOf(c).Elem(), "") {
		if v, ok := lookup(s.env); ok {
			if err := setFromString(s.field, v); err != nil {
				return fmt.Errorf("%s (%s): %w", s.env, s.key, err)
			}
		}
	}
	return nil
}

// setFromString parses s into the leaf field f.
func setFromString(f reflect.Value, s string) error {
	if f.Type() == durationType || f.Type() == reflect.TypeFor[Duration]() {
		d, err := ParseDuration(s)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		f.SetInt(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		f.SetFloat(n)
	case reflect.Slice:
		f.Set(reflect.ValueOf(splitList(s)))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
