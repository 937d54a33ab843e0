package jsonscan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestValueKinds(t *testing.T) {
	for in, want := range map[string]Kind{
		`null`: Null, `true`: True, `false`: False, `-0.5e+3`: Number, `0`: Number, `"a\u00e9\n"`: String,
		`{"a":[1,{"b":null}],"c":"d"}`: Object, `[]`: Array, ` {} `: Object, `"\x41"`: String,
	} {
		kind, v, rest, err := Value([]byte(in))
		if err != nil || kind != want || strings.TrimSpace(in) != string(v) || len(SkipSpace(rest)) != 0 {
			t.Errorf("Value(%q) = %v %q %q %v, want %v", in, kind, v, rest, err, want)
		}
	}
	for _, in := range []string{``, `nul`, `01`, `1.`, `-`, `"a`, "\"\x01\"", `{"a"}`, `{"a":1,}`, `[1,]`, `"\q"`, `"\u12"`, `"\x4"`, `{1:2}`,
		strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2)} {
		if _, _, rest, err := Value([]byte(in)); err == nil && len(SkipSpace(rest)) == 0 {
			t.Errorf("Value(%q) accepted", in)
		}
	}
}

func TestEachMember(t *testing.T) {
	var got []string
	err := EachMember([]byte(`{"a":1, "b\"c" : [true], "d":{"e":"f"}}`), func(k []byte, kind Kind, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	})
	if err != nil || strings.Join(got, ";") != `a=1;b"c=[true];d={"e":"f"}` {
		t.Errorf("%v %q", err, got)
	}
	var els []string
	if err := EachElement([]byte(`[1, "x", {}]`), func(kind Kind, v []byte) error { els = append(els, string(v)); return nil }); err != nil ||
		strings.Join(els, ";") != `1;"x";{}` {
		t.Errorf("%v %q", err, els)
	}
	if EachMember([]byte(`{"a":1} x`), func([]byte, Kind, []byte) error { return nil }) == nil {
		t.Error("trailing data accepted")
	}
}

func TestAppendUnquote(t *testing.T) {
	for in, want := range map[string]string{
		`"plain"`: "plain", `"a\"b\\c\/d\n\t"`: "a\"b\\c/d\n\t", `"\u00e9\ud83d\ude00"`: "é😀",
		`"\ud800x"`: "\uFFFDx", `"\x22"`: `\x22`, "\"a\xffb\"": "a\uFFFDb",
	} {
		got, err := AppendUnquote(nil, []byte(in))
		if err != nil || string(got) != want {
			t.Errorf("AppendUnquote(%q) = %q %v, want %q", in, got, err, want)
		}
	}
}

// FuzzScan compares the scanner with encoding/json: both accept the same
// documents (apart from the \x escape the scanner adds for nginx), and
// strings decode to the same text.
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"c\u00e9"}],"d":null}`, `[true,false,-1.5e3]`, `"\ud83d\ude00"`, `"\x41"`, `{"a":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, v, rest, err := Value(b)
		ours := err == nil && len(SkipSpace(rest)) == 0
		if bytes.Contains(b, []byte(`\x`)) {
			return // the nginx extension: stdlib refuses it
		}
		theirs := json.Valid(b)
		if ours != theirs {
			if !ours && theirs && bytes.Count(b, []byte("["))+bytes.Count(b, []byte("{")) > MaxDepth {
				return // nested deeper than we allow
			}
			t.Fatalf("valid: ours %v (%v), encoding/json %v", ours, err, theirs)
		}
		if !ours {
			return
		}
		if kind == String {
			var want string
			if err := json.Unmarshal(v, &want); err != nil {
				t.Fatal(err)
			}
			got, err := AppendUnquote(nil, v)
			if err != nil || string(got) != want {
				t.Fatalf("unquote %q = %q %v, want %q", v, got, err, want)
			}
		}
		if kind == Object {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(v, &m); err != nil {
				t.Fatal(err)
			}
			n := 0
			if err := EachMember(v, func(k []byte, _ Kind, val []byte) error {
				n++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n < len(m) {
				t.Fatalf("%d members, encoding/json has %d keys", n, len(m))
			}
		}
	})
}
