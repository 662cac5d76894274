package podspec

import "strings"

// Expand replaces $(NAME) references in s using lookup, with the rules
// Kubernetes documents for env values, command, args and subPathExpr:
//
//   - $(NAME) becomes lookup(NAME) when lookup knows NAME, and stays
//     verbatim ("$(NAME)") when it does not;
//   - $$ is an escaped dollar and becomes a single $, so $$(NAME) yields the
//     literal text $(NAME);
//   - a $ followed by anything else, an unterminated "$(", and a trailing $
//     are kept as they are.
func Expand(s string, lookup func(name string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		next := s[i+1]
		switch next {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				// Unterminated: keep "$(" and carry on scanning after it.
				b.WriteString("$(")
				i++
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
			b.WriteByte(next)
			i++
		}
	}
	return b.String()
}

// lookupIn returns a lookup over maps, earlier maps first.
func lookupIn(maps ...map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for _, m := range maps {
			if v, ok := m[name]; ok {
				return v, true
			}
		}
		return "", false
	}
}

// EnvMap turns a KEY=VALUE list into a map; a later entry wins.
func EnvMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
