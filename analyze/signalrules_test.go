package analyze

import (
	"strings"
	"testing"
)

func TestAggregateIf(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"count()", "countIf(c)"},
		{"uniqExact(path)", "uniqExactIf(path, c)"},
		{"countIf(status >= 500)", "countIf( (status >= 500) AND c)"},
		{"uniqExactIf(path, status IN (400, 404))", "uniqExactIf(path, (status IN (400, 404)) AND c)"},
		{"groupUniqArray(16)(if(method = 'CONNECT', 'x,)', signature))", "groupUniqArrayIf(16)(if(method = 'CONNECT', 'x,)', signature), c)"},
		{"groupUniqArrayIf(16)(signature, signature != '')", "groupUniqArrayIf(16)(signature, (signature != '') AND c)"},
		{"  sum(bytes)  ", "sumIf(bytes, c)"},
	} {
		got, err := aggregateIf(c.in, "c")
		if err != nil || got != c.want {
			t.Errorf("aggregateIf(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "path", "count() + 1", "count()x", "count(", "uniqExact('a)", "1 + count()"} {
		if got, err := aggregateIf(in, "c"); err == nil {
			t.Errorf("aggregateIf(%q) = %q: want an error", in, got)
		}
	}
}

func FuzzAggregateIf(f *testing.F) {
	for _, s := range []string{"count()", "uniqExactIf(path, a = ')')", "groupUniqArray(16)(x)", "f((a, b), [1, 2])"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		got, err := aggregateIf(expr, "c")
		if err != nil {
			return
		}
		// The call keeps its parentheses balanced and takes the condition.
		if _, after, err := splitParens(got[strings.IndexByte(got, '('):]); err != nil || !strings.Contains(got, "c") {
			t.Fatalf("aggregateIf(%q) = %q (%v, after %q)", expr, got, err, after)
		}
	})
}

// testRuleHead is a rule file's fields before its query or signals.
const testRuleHead = `category: probing
scope: client
severity: 1
description: d
window: 1h
thresholds: {min_hits: 1}
`

func TestSignalRuleErrors(t *testing.T) {
	base := "name: x\n" + testRuleHead
	for _, c := range []struct{ body, want string }{
		{"signals: {where: 'true', evidence: [{hits: count()}], having: 'hits >= {min_hits:UInt32}'}\nsql: SELECT 1", "one or the other"},
		{"signals: {where: '', evidence: [{hits: count()}], having: 'hits >= {min_hits:UInt32}'}", "signals.where is empty"},
		{"signals: {where: 'true', evidence: [], having: 'true >= {min_hits:UInt32}'}", "signals.evidence is empty"},
		{"signals: {where: 'true', evidence: [{requests: count()}], having: 'requests >= {min_hits:UInt32}'}", `column "requests": the name is reserved`},
		{"signals: {where: 'true', evidence: [{hits: count() + 1}], having: 'hits >= {min_hits:UInt32}'}", "write one aggregate function call"},
		{"signals: {where: 'true', evidence: [{hits: count(), b: count()}], having: 'hits >= {min_hits:UInt32}'}", "one `name: expression` per entry"},
		{"signals: {where: 'true', evidence: [{hits: count()}], having: 'hits >= 1'}", `threshold "min_hits" is not used`},
	} {
		_, err := ParseRule("x.yaml", []byte(base+c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.body, err, c.want)
		}
	}
	_, err := ParseRule("x.yaml", []byte(strings.Replace(base, "scope: client", "scope: network", 1)+
		"signals: {where: 'true', evidence: [{hits: count()}], having: 'hits >= {min_hits:UInt32}'}"))
	if err == nil || !strings.Contains(err.Error(), "scope client") {
		t.Errorf("network signal rule: %v", err)
	}
}
