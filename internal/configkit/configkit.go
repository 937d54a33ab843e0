// Package configkit holds what every stage's configuration is made of: the
// Problem a validator reports (naming the dotted key as the file spells
// it), the loopback test for listeners, and zero-means-default filling.
// The stages own their Config structs; internal/config composes them.
package configkit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one invalid setting: the dotted key, what is wrong and the fix.
type Problem struct {
	Key, Problem, Fix string
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s; %s", p.Key, p.Problem, p.Fix) }

// Problems collects problems of one section.
type Problems []Problem

// Add appends a problem.
func (ps *Problems) Add(key, problem, fix string) { *ps = append(*ps, Problem{key, problem, fix}) }

// Err joins the problems into one error for a stage's constructor, each
// written as "key: problem; fix", or with a section as
// "<section>: <key below the section>: problem; fix".
func (ps Problems) Err(section string) error {
	var errs []error
	for _, p := range ps {
		if section == "" {
			errs = append(errs, errors.New(p.String()))
			continue
		}
		key := strings.TrimPrefix(p.Key, section+".")
		errs = append(errs, fmt.Errorf("%s: %s: %s; %s", section, key, p.Problem, p.Fix))
	}
	return errors.Join(errs...)
}

// LoopbackAddr reports whether hostport's host is a loopback address
// (127.0.0.0/8, ::1) or "localhost". An empty host, 0.0.0.0 and :: listen
// on every interface and are not loopback; neither is any other name,
// which may resolve anywhere.
func LoopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// FillZero sets every zero scalar field of *dst (recursing into structs)
// to the same field of defaults: a stage's Defaults() is the one place
// its default values are written, and WithDefaults applies them to a
// Config built in code. Slices, maps and interfaces are left alone.
func FillZero[T any](dst *T, defaults T) {
	fillZero(reflect.ValueOf(dst).Elem(), reflect.ValueOf(defaults))
}

func fillZero(dst, def reflect.Value) {
	switch dst.Kind() {
	case reflect.Struct:
		for i := range dst.NumField() {
			if dst.Type().Field(i).IsExported() {
				fillZero(dst.Field(i), def.Field(i))
			}
		}
	case reflect.Slice, reflect.Map, reflect.Interface, reflect.Pointer, reflect.Func, reflect.Chan:
	default:
		if dst.IsZero() {
			dst.Set(def)
		}
	}
}

// ErrEmpty is what DecodeYAML returns for a document with no content.
var ErrEmpty = errors.New("empty file")

// DecodeYAML decodes one YAML document into v. With strict, a key v has no
// field for is an error (a misspelt key in a rule file must not be a
// setting silently ignored); without, it is skipped (signature packs
// written for a newer vakt still load).
func DecodeYAML(b []byte, v any, strict bool) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(strict)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return ErrEmpty
		}
		return err
	}
	return nil
}
