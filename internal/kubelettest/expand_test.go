package kubelettest

import (
	"strings"
	"testing"
)

// The rules of Kubernetes' $(VAR) expansion (k8s.io/kubernetes
// third_party/forked/golang/expansion), case by case.
func TestExpand(t *testing.T) {
	env := map[string]string{"A": "a", "B": "b", "EMPTY": "", "REF": "$(A)", "IDX": "2"}
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"$(A)", "a"},
		{"$(A)-$(A)", "a-a"},
		{"x$(B)y", "xby"},
		{"$(A)_$(B)", "a_b"},
		{"shard-$(IDX)/3", "shard-2/3"},
		{"$(EMPTY)", ""},
		{"f$(EMPTY)g", "fg"},
		{"$(UNDEFINED)", "$(UNDEFINED)"},     // unknown: stays as written
		{"$(UNDEFINED)/3", "$(UNDEFINED)/3"}, //
		{"$$(A)", "$(A)"},                    // escaped
		{"$$(A)_$(B)", "$(A)_b"},             //
		{"$$$(A)", "$a"},                     // an escape, then a reference
		{"$$$$$$(X)", "$$$(X)"},              // even: all escapes
		{"$$$$$$$(A)", "$$$a"},               // odd: the last one expands
		{"$$A", "$A"},                        //
		{"$A", "$A"},                         // no parenthesis: not a reference
		{"${A}", "${A}"},                     // shell syntax is not Kubernetes'
		{"$?-$!", "$?-$!"},                   //
		{"$(REF)", "$(A)"},                   // values are not expanded again
		{"$(A$(B))", "$(A$(B))"},             // no nesting: the name is "A$(B"
		{"$(A$(B)", "$(A$(B)"},               //
		{"$(foo$$bar)", "$(foo$$bar)"},       // no escapes inside a name
		{"x$(A", "x$(A"},                     // unclosed
		{"$(B)__$(", "b__$("},                //
		{"--$($($(--", "--$($($(--"},         //
		{"a$", "a$"},                         // trailing operator
		{"$", "$"},                           //
		{`\$(A)`, `\a`},                      // backslashes are not escapes
		{"$(A)\n$(B)", "a\nb"},               //
		{"é$(A)é", "éaé"},                    //
		{"$()", "$()"},                       // the empty name is unknown
		{"A)$(B)(", "A)b("},                  //
		{"/results/run-1/shard-$(IDX)", "/results/run-1/shard-2"},
	} {
		if got := Expand(c.in, lookupIn(env)); got != c.want {
			t.Errorf("Expand(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

// Escaping every $ of any string (as $$) makes Expand give it back
// unchanged, whatever it holds; a string without $ is never changed.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "$(A)", "$$(A)", "$(", "a$", "$(A$(B))", "$$$$$(A)"} {
		f.Add(s)
	}
	known := lookupIn(map[string]string{"A": "x", "": "empty"})
	f.Fuzz(func(t *testing.T, s string) {
		if got := Expand(strings.ReplaceAll(s, "$", "$$"), known); got != s {
			t.Errorf("Expand(escaped %q) = %q", s, got)
		}
		got := Expand(s, func(string) (string, bool) { return "", false })
		if !strings.Contains(s, "$$") && got != s {
			t.Errorf("Expand(%q) with no variables = %q; want it unchanged", s, got)
		}
	})
}
