package config

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// anyValueIsValid are the keys no value of makes a problem, each with the
// reason. (Booleans are not listed: true and false both mean something.)
var anyValueIsValid = map[string]string{
	"nats.user":                         "an account name of the external server",
	"nats.password":                     "a secret, checked by the server",
	"nats.token":                        "a secret, checked by the server",
	"nats.password_file":                "a path; vakt check reads the file",
	"nats.token_file":                   "a path; vakt check reads the file",
	"nats.credentials_file":             "a path; vakt check reads the file",
	"nats.nkey_seed_file":               "a path; vakt check reads the file",
	"nats.ca_file":                      "a path; vakt check reads the file",
	"nats.cert_file":                    "a path; vakt check reads the file",
	"nats.key_file":                     "a path; vakt check reads the file",
	"clickhouse.addr":                   "server addresses, checked by connecting",
	"clickhouse.password":               "a secret, checked by the server",
	"clickhouse.password_file":          "a path; vakt check reads the file",
	"clickhouse.ca_file":                "a path; vakt check reads the file",
	"clickhouse.cert_file":              "a path; vakt check reads the file",
	"clickhouse.key_file":               "a path; vakt check reads the file",
	"clickhouse.lib_path":               "a path; the engine reports a library it cannot load",
	"clickhouse.readonly_password":      "a secret of vakt's own choosing",
	"clickhouse.readonly_password_file": "a path; vakt check reads the file",
	"clickhouse.user":                   "any account name (only the read-only account's is refused)",
	"clickhouse.readonly_user":          "any account name but vakt's own",
	"ingest.syslog.site":                "a site label, any text",
	"pseudonymize.geoip.country_db":     "a path; vakt check opens the database",
	"pseudonymize.geoip.asn_db":         "a path; vakt check opens the database",
	"pseudonymize.geoip.open_data_dir":  "a path; vakt check says when it holds no built databases",
	"rules.dir":                         "a path; vakt check loads the rules",
}

// TestEveryKeyIsDocumentedValidatedAndSettable walks the composed
// configuration: every key is in configs/vakt.yaml, a bad value is a
// problem naming exactly that key, and its VAKT_ variable sets it.
func TestEveryKeyIsDocumentedValidatedAndSettable(t *testing.T) {
	documented := documentedKeys(t, "../../configs/vakt.yaml")
	keys := leafKeys(reflect.TypeFor[Config](), "")
	if len(keys) < 100 {
		t.Fatalf("only %d keys found: %v", len(keys), keys)
	}
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			if !documented[key] {
				t.Errorf("configs/vakt.yaml does not document %s", key)
			}
			checkInvalidValueNamesKey(t, key)
			checkEnvironmentSets(t, key)
		})
	}
	for key := range anyValueIsValid {
		if !documented[key] {
			t.Errorf("allow-list names %s, which is not a key", key)
		}
	}
}

func checkInvalidValueNamesKey(t *testing.T, key string) {
	c := Defaults()
	f := fieldOf(reflect.ValueOf(&c).Elem(), key)
	if _, ok := anyValueIsValid[key]; ok || f.Kind() == reflect.Bool {
		return
	}
	var seen [][]Problem
	for _, bad := range invalidValues(f.Type()) {
		c := Defaults()
		fieldOf(reflect.ValueOf(&c).Elem(), key).Set(bad)
		ps := c.Problems()
		seen = append(seen, ps)
		if len(ps) > 0 && allName(ps, key) {
			return
		}
	}
	t.Errorf("no invalid value gave problems naming only %s: %v", key, seen)
}

func allName(ps []Problem, key string) bool {
	for _, p := range ps {
		if p.Key != key && !strings.HasPrefix(p.Key, key+".") && !strings.HasPrefix(p.Key, key+"[") {
			return false
		}
	}
	return true
}

// invalidValues are candidates for a bad value of type t.
func invalidValues(t reflect.Type) []reflect.Value {
	var out []reflect.Value
	add := func(v any) { out = append(out, reflect.ValueOf(v).Convert(t)) }
	switch t.Kind() {
	case reflect.String:
		add("bogus value")
		add("data/bogus")
		add("")
	case reflect.Int, reflect.Int64:
		add(-1)
		add(int64(-time.Second))
		add(1 << 40)
	case reflect.Float64:
		add(-1.0)
	case reflect.Slice, reflect.Map:
		for _, s := range []string{"bogus value", ""} {
			out = append(out, filled(t, s))
		}
	}
	return out
}

// filled is a one-element list or map of t whose strings are all s.
func filled(t reflect.Type, s string) reflect.Value {
	elem := reflect.New(t.Elem()).Elem()
	setStrings(elem, s)
	if t.Kind() == reflect.Map {
		m := reflect.MakeMap(t)
		m.SetMapIndex(reflect.ValueOf("site.example"), elem)
		return m
	}
	return reflect.Append(reflect.MakeSlice(t, 0, 1), elem)
}

func setStrings(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			v.Set(reflect.Append(reflect.MakeSlice(v.Type(), 0, 1), reflect.ValueOf(s).Convert(v.Type().Elem())))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			setStrings(v.Field(i), s)
		}
	}
}

func checkEnvironmentSets(t *testing.T, key string) {
	c := Defaults()
	f := fieldOf(reflect.ValueOf(&c).Elem(), key)
	if f.Kind() == reflect.Map || (f.Kind() == reflect.Slice && f.Type().Elem().Kind() != reflect.String) {
		return // file only: see env.go
	}
	var val string
	var want any
	switch {
	case f.Type() == durationType || f.Type() == reflect.TypeFor[Duration]():
		val, want = "2d", reflect.ValueOf(48*time.Hour).Convert(f.Type()).Interface()
	case f.Kind() == reflect.String:
		val, want = "from-env", reflect.ValueOf("from-env").Convert(f.Type()).Interface()
	case f.Kind() == reflect.Bool:
		val, want = strconv.FormatBool(!f.Bool()), !f.Bool()
	case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
		val, want = strconv.FormatInt(f.Int()+7, 10), reflect.ValueOf(f.Int()+7).Convert(f.Type()).Interface()
	case f.Kind() == reflect.Float64:
		val, want = "7.5", 7.5
	case f.Kind() == reflect.Slice:
		val, want = "a, b", []string{"a", "b"}
	default:
		t.Fatalf("%s: no environment test for %s", key, f.Type())
	}
	env := EnvVar(key)
	if err := c.applyEnv(func(k string) (string, bool) { return val, k == env }); err != nil {
		t.Fatalf("%s=%s: %v", env, val, err)
	}
	if got := fieldOf(reflect.ValueOf(&c).Elem(), key).Interface(); !reflect.DeepEqual(got, want) {
		t.Errorf("%s=%s set %s to %v, want %v", env, val, key, got, want)
	}
}

// leafKeys lists the dotted keys of t's leaves (scalars, lists, maps).
func leafKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, leafKeys(f.Type, join(prefix, name))...)
		} else {
			out = append(out, join(prefix, name))
		}
	}
	return out
}

// fieldOf is the field of struct v at a dotted key.
func fieldOf(v reflect.Value, key string) reflect.Value {
	for part := range strings.SplitSeq(key, ".") {
		t, found := v.Type(), false
		for i := range t.NumField() {
			if yamlName(t.Field(i)) == part {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			panic(fmt.Sprintf("no key %s", key))
		}
	}
	return v
}

var docKeyRe = regexp.MustCompile(`^( *)(?:# *)?([a-z_]+):(?:\s|$)`)

// documentedKeys reads the dotted keys a YAML file names, commented out or
// not, by indentation.
func documentedKeys(t *testing.T, path string) map[string]bool {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string]bool{}
	type level struct {
		indent int
		key    string
	}
	var stack []level
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := docKeyRe.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		indent := len(m[1])
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		key := m[2]
		if len(stack) > 0 {
			key = stack[len(stack)-1].key + "." + key
		}
		keys[key] = true
		stack = append(stack, level{indent, key})
	}
	return keys
}

func TestEnvironmentOnlySecret(t *testing.T) {
	c := Defaults()
	if err := c.applyEnv(func(k string) (string, bool) { return "k", k == "VAKT_NATS_STORE_KEY" }); err != nil || c.NATS.StoreKey != "k" {
		t.Fatalf("VAKT_NATS_STORE_KEY: %v %q", err, c.NATS.StoreKey)
	}
}

func TestStageDurationsReadDays(t *testing.T) {
	f := t.TempDir() + "/c.yaml"
	os.WriteFile(f, []byte("pseudonymize:\n  epoch: 1d\n  grace: 2d\nstreams:\n  events_max_age: 3d\n"), 0o600)
	c, err := Load(f)
	if err != nil || c.Pseudonymize.EpochLength != 24*time.Hour || c.Pseudonymize.Grace != 48*time.Hour || c.Streams.EventsMaxAge != 72*time.Hour {
		t.Fatalf("%v %+v %+v", err, c.Pseudonymize, c.Streams)
	}
}
