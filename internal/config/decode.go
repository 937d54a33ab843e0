package config

import (
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// linedProblem is a problem and the line it was found on, for reporting a
// file's problems in its order.
type linedProblem struct {
	line int
	p    Problem
}

var durationType = reflect.TypeFor[time.Duration]()

// decode reads the YAML document doc over *c and returns every problem:
// unknown keys, values of the wrong type and durations that do not parse.
// The stages' sections hold time.Duration fields; they read days ("30d")
// like Duration does because the node tree is walked along the struct
// first, which is also where unknown keys are found.
func decode(doc []byte, c *Config) []Problem {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return []Problem{{Key: "(file)", Problem: err.Error(), Fix: "fix the YAML syntax"}}
	}
	if root.Kind == 0 {
		return nil // an empty file
	}
	var ps []linedProblem
	prepare(&root, reflect.TypeOf(c).Elem(), "", &ps)
	if err := root.Decode(c); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return []Problem{{Key: "(file)", Problem: err.Error(), Fix: "fix the YAML syntax"}}
		}
		ps = append(ps, typeProblems(doc, te)...)
	}
	slices.SortStableFunc(ps, func(a, b linedProblem) int { return a.line - b.line })
	out := make([]Problem, len(ps))
	for i, p := range ps {
		out[i] = p.p
	}
	return out
}

// prepare walks node along t: it reports keys t does not have and
// rewrites time.Duration values to Go's notation. It drops what it
// reported from the tree, so the decoder keeps the default there and
// reports nothing twice.
func prepare(n *yaml.Node, t reflect.Type, key string, ps *[]linedProblem) (drop bool) {
	switch {
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			prepare(c, t, key, ps)
		}
	case t == durationType && n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		d, err := ParseDuration(n.Value)
		if err != nil {
			*ps = append(*ps, linedProblem{n.Line, Problem{Key: key, Problem: err.Error(), Fix: "see configs/vakt.yaml"}})
			return true
		}
		n.Value, n.Tag, n.Style = d.D().String(), "!!str", 0
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		n.Content = keepPairs(n.Content, func(k, v *yaml.Node) bool {
			ft, ok := fields[k.Value]
			if !ok {
				parent := key
				if parent == "" {
					parent = "the top level"
				}
				*ps = append(*ps, linedProblem{k.Line, Problem{Key: join(key, k.Value), Problem: "unknown key", Fix: "check the spelling; configs/vakt.yaml lists every key of " + parent}})
				return false
			}
			return !prepare(v, ft, join(key, k.Value), ps)
		})
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		n.Content = keepPairs(n.Content, func(k, v *yaml.Node) bool {
			return !prepare(v, t.Elem(), join(key, k.Value), ps)
		})
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		var kept []*yaml.Node
		for i, c := range n.Content {
			if !prepare(c, t.Elem(), key+"["+strconv.Itoa(i)+"]", ps) {
				kept = append(kept, c)
			}
		}
		n.Content = kept
	}
	return false
}

// keepPairs returns the key/value pairs of a mapping's content that keep
// accepts.
func keepPairs(content []*yaml.Node, keep func(k, v *yaml.Node) bool) []*yaml.Node {
	var out []*yaml.Node
	for i := 0; i+1 < len(content); i += 2 {
		if keep(content[i], content[i+1]) {
			out = append(out, content[i], content[i+1])
		}
	}
	return out
}

// yamlFields maps a struct's keys (yaml tags) to their fields' types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if name := yamlName(f); name != "" {
			out[name] = f.Type
		}
	}
	return out
}

// yamlName is the key of a struct field, "" for fields the file does not
// set.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}
