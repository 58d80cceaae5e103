package kubelettest

import "strings"

// Expand replaces the $(VAR) references in s as Kubernetes does in a
// container's command, args and env values: $(NAME) becomes lookup(NAME)
// when lookup knows NAME and stays as written when it does not; $$ is one
// literal $ (so $$(NAME) is the text $(NAME)); a $ before anything else, an
// unclosed $( and a $ at the end are kept as they are. There is no nesting:
// $(A$(B)) looks up the name "A$(B".
func Expand(s string, lookup func(name string) (string, bool)) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		switch rest := s[i+1:]; rest[0] {
		case '$': // an escaped operator
			b.WriteByte('$')
			s = rest[1:]
		case '(':
			end := strings.IndexByte(rest, ')')
			if end < 0 { // unclosed: written as is, scanning on after "$("
				b.WriteString("$(")
				s = rest[1:]
				continue
			}
			name := rest[1:end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			s = rest[end+1:]
		default: // "$x" is not a reference; x may itself start one
			b.WriteByte('$')
			s = rest
		}
	}
}

// lookupIn is a lookup over env, for Expand.
func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}
