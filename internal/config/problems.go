package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vakt-dev/vakt/internal/configkit"
)

// Problem is one invalid setting: the key, what is wrong and the fix.
type Problem = configkit.Problem

// Error lists every problem found in a configuration.
type Error struct {
	Source   string // file name, or "" for the merged configuration
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  " + p.String()
	}
	where := "invalid configuration"
	if e.Source != "" {
		where += " in " + e.Source
	}
	return fmt.Sprintf("%s:\n%s", where, strings.Join(lines, "\n"))
}

// ProblemsOf returns the problems an error from Load or Validate carries.
func ProblemsOf(err error) []Problem {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Problems
	}
	if err != nil {
		return []Problem{{Key: "(config)", Problem: err.Error(), Fix: "see configs/vakt.yaml"}}
	}
	return nil
}

var (
	lineRe     = regexp.MustCompile(`^line (\d+): (.*)$`)
	mismatchRe = regexp.MustCompile("^cannot unmarshal !!(\\w+) `?(.*?)`? into (\\S+)$")
)

// typeProblems turns yaml.v3's line-numbered decode errors into problems
// that name the dotted key, using the document's node tree to map lines to
// keys.
func typeProblems(doc []byte, te *yaml.TypeError) []linedProblem {
	keys := keysByLine(doc)
	var ps []linedProblem
	for _, msg := range te.Errors {
		m := lineRe.FindStringSubmatch(msg)
		if m == nil {
			ps = append(ps, linedProblem{0, Problem{Key: "(file)", Problem: msg, Fix: "see configs/vakt.yaml"}})
			continue
		}
		line, _ := strconv.Atoi(m[1])
		key, text := keys[line], m[2]
		if key == "" {
			key = "line " + m[1]
		}
		if mm := mismatchRe.FindStringSubmatch(text); mm != nil {
			ps = append(ps, linedProblem{line, Problem{Key: key, Problem: fmt.Sprintf("%q is not %s", mm[2], typeWords(mm[3])), Fix: "give " + typeWords(mm[3])}})
		} else {
			ps = append(ps, linedProblem{line, Problem{Key: key, Problem: text, Fix: "see configs/vakt.yaml"}})
		}
	}
	return ps
}

func typeWords(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case goType == "string":
		return "a string"
	default:
		return "a " + goType
	}
}

// keysByLine maps each line of a YAML document to the dotted key defined
// on it.
func keysByLine(doc []byte) map[int]string {
	out := map[int]string{}
	var root yaml.Node
	if yaml.Unmarshal(doc, &root) != nil {
		return out
	}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, prefix)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				key := k.Value
				if prefix != "" {
					key = prefix + "." + k.Value
				}
				// The outermost key on a line names it ({a: 1} flow maps).
				if _, ok := out[k.Line]; !ok {
					out[k.Line] = key
				}
				if _, ok := out[v.Line]; !ok && v.Kind == yaml.ScalarNode {
					out[v.Line] = key
				}
				walk(v, key)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				key := fmt.Sprintf("%s[%d]", prefix, i)
				if _, ok := out[c.Line]; !ok {
					out[c.Line] = key
				}
				walk(c, key)
			}
		}
	}
	walk(&root, "")
	return out
}
