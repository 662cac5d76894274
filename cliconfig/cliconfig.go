package cliconfig

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

const (
	// DefaultFile is the config file read when --config is not given; its
	// absence is not an error.
	DefaultFile = "/etc/skiff/config.yaml"
	// EnvPrefix starts the name of every environment variable Apply reads.
	EnvPrefix = "SKIFF_"
)

// EnvName returns the environment variable that sets a flag:
// "data-dir" -> "SKIFF_DATA_DIR".
func EnvName(flag string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Apply fills the flags of fs that were not set on the command line, first
// from environ (as os.Environ returns it), then from the config file named
// by the flag configFlag. Call it after fs has parsed the command line and
// before anything reads the flags. Flags it sets count as Changed.
//
// The config file path itself may come from SKIFF_CONFIG. A file that does
// not exist is ignored when the path is the flag's default and an error
// when it was given explicitly. An empty configFlag disables the file.
//
// Environment values for list flags are comma-separated; empty variables
// are ignored, as if unset, so SKIFF_TOKEN= in a unit file changes nothing.
// In the file, a list flag takes a YAML list or a scalar; a scalar means
// the same as giving the flag once on the command line.
func Apply(fs *pflag.FlagSet, configFlag string, environ []string) error {
	env := parseEnviron(environ)
	var flags []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) { flags = append(flags, f) })

	for _, f := range flags {
		if f.Changed || !configurable(f) {
			continue
		}
		name := EnvName(f.Name)
		raw := env[name]
		if raw == "" {
			continue
		}
		var err error
		if isList(f) {
			err = setList(fs, f, splitList(raw))
		} else {
			err = setScalar(fs, f, raw)
		}
		if err != nil {
			return fmt.Errorf("%s: invalid value %q for --%s: %w", name, raw, f.Name, err)
		}
	}

	if configFlag == "" {
		return nil
	}
	cf := fs.Lookup(configFlag)
	if cf == nil {
		return fmt.Errorf("cliconfig: no flag --%s to name the config file", configFlag)
	}
	path := cf.Value.String()
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !cf.Changed {
			return nil
		}
		return fmt.Errorf("config file %s: %w", path, err)
	}
	entries, err := parseFile(data)
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	for _, e := range entries {
		f := fs.Lookup(e.key)
		if f != nil && f.Name == cf.Name {
			return fmt.Errorf("config file %s: key %q (line %d) cannot be set in the config file", path, e.key, e.line)
		}
		if f == nil || !configurable(f) {
			return fmt.Errorf("config file %s: unknown key %q (line %d)", path, e.key, e.line)
		}
		if f.Changed || e.null {
			continue // set on the command line or in the environment
		}
		switch {
		case e.isList && isList(f):
			err = setList(fs, f, e.list)
		case e.isList:
			return fmt.Errorf("config file %s: key %q (line %d) takes a single value, not a list", path, e.key, e.line)
		default:
			err = setScalar(fs, f, e.value)
		}
		if err != nil {
			return fmt.Errorf("config file %s: invalid value %s for key %q (line %d): %w", path, e.describe(), e.key, e.line, err)
		}
	}
	return nil
}

// configurable reports whether a flag may come from the environment or a
// file: --help only makes sense typed.
func configurable(f *pflag.Flag) bool {
	return f.Name != "help"
}

func isList(f *pflag.Flag) bool {
	_, ok := f.Value.(pflag.SliceValue)
	return ok
}

// setScalar sets f as if "--name=raw" had been typed.
func setScalar(fs *pflag.FlagSet, f *pflag.Flag, raw string) error {
	return set(fs, f, func(v pflag.Value) error { return v.Set(raw) })
}

// setList replaces the whole value of a list flag.
func setList(fs *pflag.FlagSet, f *pflag.Flag, items []string) error {
	return set(fs, f, func(v pflag.Value) error { return v.(pflag.SliceValue).Replace(items) })
}

// set changes f through fs.Set, so the flag set records it as set (Changed,
// Visit, deprecation notices) exactly as if it came from the command line,
// while apply does the parsing. Swapping in a wrapper Value is the only way
// to do both: fs.Set takes one string, which cannot carry a list whose
// items contain commas, and its error already names the flag.
func set(fs *pflag.FlagSet, f *pflag.Flag, apply func(pflag.Value) error) error {
	orig := f.Value
	w := &applyValue{Value: orig, apply: apply}
	f.Value = w
	defer func() { f.Value = orig }()
	err := fs.Set(f.Name, "")
	if w.err != nil {
		return w.err
	}
	return err
}

type applyValue struct {
	pflag.Value
	apply func(pflag.Value) error
	err   error
}

func (v *applyValue) Set(string) error {
	v.err = v.apply(v.Value)
	return v.err
}

// parseEnviron turns "K=V" pairs into a map. The first of duplicate names
// wins, as with os.Getenv.
func parseEnviron(environ []string) map[string]string {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if _, dup := env[k]; !dup {
			env[k] = v
		}
	}
	return env
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// entry is one top-level key of the config file.
type entry struct {
	key    string
	line   int
	value  string
	list   []string
	isList bool
	null   bool
}

func (e entry) describe() string {
	if e.isList {
		return fmt.Sprintf("%q", e.list)
	}
	return fmt.Sprintf("%q", e.value)
}

// parseFile reads the config file as a YAML mapping of flag names to
// scalars or lists of scalars. It walks the node tree rather than decoding
// into a map so that errors carry line numbers and values keep their exact
// spelling: "0644" must reach --write-kubeconfig-mode as written, not as
// the octal number YAML would make of it.
func parseFile(data []byte) ([]entry, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // empty file
	}
	root := resolve(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil // only comments, or "~"
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: want a mapping of flag names to values", root.Line)
	}
	seen := map[string]int{}
	var out []entry
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := resolve(root.Content[i]), resolve(root.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: keys must be flag names", k.Line)
		}
		if prev, dup := seen[k.Value]; dup {
			return nil, fmt.Errorf("key %q (line %d) is already set on line %d", k.Value, k.Line, prev)
		}
		seen[k.Value] = k.Line
		e := entry{key: k.Value, line: k.Line}
		switch v.Kind {
		case yaml.ScalarNode:
			e.value, e.null = v.Value, v.Tag == "!!null"
		case yaml.SequenceNode:
			e.isList, e.list = true, []string{}
			for _, item := range v.Content {
				item = resolve(item)
				if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
					return nil, fmt.Errorf("key %q (line %d): list items must be plain values", e.key, item.Line)
				}
				e.list = append(e.list, item.Value)
			}
		default:
			return nil, fmt.Errorf("key %q (line %d): want a value or a list", e.key, v.Line)
		}
		out = append(out, e)
	}
	return out, nil
}

// resolve follows YAML aliases (*name) to the node they point at.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}
