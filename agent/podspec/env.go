package podspec

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Env resolves container c's environment as KEY=VALUE entries, the way
// the kubelet does before it creates a container:
//
//  1. envFrom sources in order (a later source overrides an earlier one;
//     keys get the source's prefix); a missing optional source is skipped;
//  2. env entries in order, each overriding what came before: a literal
//     value has its $(VAR) references expanded against the variables
//     defined so far (envFrom and earlier env entries); a valueFrom is
//     resolved and never expanded; an optional reference whose object or
//     key is missing leaves the variable unset.
//
// The result lists each variable once, in the order it was first defined.
// Errors carry the kubelet's text (`configmap "x" not found`,
// `couldn't find key k in ConfigMap ns/x`) for CreateContainerConfigError.
// Pod IPs come from pod.Status (see PodIPs).
//
// Kubernetes service-link variables are not generated: skiff has no
// Services on the node yet.
func Env(pod *corev1.Pod, c *corev1.Container, src Sources, node NodeInfo) ([]string, error) {
	env, _, err := EnvWithWarnings(pod, c, src, node)
	return env, err
}

// EnvWithWarnings is Env that also returns what the kubelet would report
// as warning events: envFrom keys skipped because they cannot be
// environment variable names (empty, containing '=' or non-printable
// characters; the API server's validation never lets such keys through,
// so this only guards against malformed stored objects).
func EnvWithWarnings(pod *corev1.Pod, c *corev1.Container, src Sources, node NodeInfo) ([]string, []string, error) {
	var (
		vars     = newOrderedEnv()
		cms      = map[string]*corev1.ConfigMap{}
		secrets  = map[string]*corev1.Secret{}
		warnings []string
	)
	getCM := func(name string) (*corev1.ConfigMap, error) {
		if cm, ok := cms[name]; ok {
			return cm, nil
		}
		cm, err := GetConfigMap(src, pod.Namespace, name)
		if err != nil {
			return nil, err
		}
		cms[name] = cm
		return cm, nil
	}
	getSecret := func(name string) (*corev1.Secret, error) {
		if s, ok := secrets[name]; ok {
			return s, nil
		}
		s, err := GetSecret(src, pod.Namespace, name)
		if err != nil {
			return nil, err
		}
		secrets[name] = s
		return s, nil
	}

	for _, from := range c.EnvFrom {
		var (
			data    map[string]string
			kind    string
			objName string
		)
		switch {
		case from.ConfigMapRef != nil:
			ref := from.ConfigMapRef
			cm, err := getCM(ref.Name)
			if err != nil {
				if IsNotFound(err) && isTrue(ref.Optional) {
					continue
				}
				return nil, warnings, err
			}
			data, kind, objName = cm.Data, "configMap", ref.Name
		case from.SecretRef != nil:
			ref := from.SecretRef
			s, err := getSecret(ref.Name)
			if err != nil {
				if IsNotFound(err) && isTrue(ref.Optional) {
					continue
				}
				return nil, warnings, err
			}
			data = make(map[string]string, len(s.Data))
			for k, v := range s.Data {
				data[k] = string(v)
			}
			kind, objName = "secret", ref.Name
		default:
			continue
		}
		var invalid []string
		for _, k := range sortedKeys(data) {
			name := from.Prefix + k
			if len(validation.IsRelaxedEnvVarName(name)) != 0 {
				invalid = append(invalid, name)
				continue
			}
			vars.set(name, data[k])
		}
		if len(invalid) > 0 {
			warnings = append(warnings, fmt.Sprintf(
				"Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
				strings.Join(invalid, ", "), kind, pod.Namespace, objName))
		}
	}

	podIPs := PodIPs(pod, node)
	for i := range c.Env {
		ev := &c.Env[i]
		val := ev.Value
		if val != "" {
			val = Expand(val, vars.lookup)
		} else if ev.ValueFrom != nil {
			from := ev.ValueFrom
			switch {
			case from.FieldRef != nil:
				v, err := PodFieldValue(pod, from.FieldRef, podIPs, node)
				if err != nil {
					return nil, warnings, err
				}
				val = v
			case from.ResourceFieldRef != nil:
				v, err := ResourceFieldValue(pod, c, from.ResourceFieldRef, node)
				if err != nil {
					return nil, warnings, err
				}
				val = v
			case from.ConfigMapKeyRef != nil:
				ref := from.ConfigMapKeyRef
				optional := isTrue(ref.Optional)
				cm, err := getCM(ref.Name)
				if err != nil {
					if IsNotFound(err) && optional {
						continue
					}
					return nil, warnings, err
				}
				v, ok := cm.Data[ref.Key]
				if !ok {
					if optional {
						continue
					}
					return nil, warnings, fmt.Errorf("couldn't find key %v in ConfigMap %v/%v", ref.Key, pod.Namespace, ref.Name)
				}
				val = v
			case from.SecretKeyRef != nil:
				ref := from.SecretKeyRef
				optional := isTrue(ref.Optional)
				s, err := getSecret(ref.Name)
				if err != nil {
					if IsNotFound(err) && optional {
						continue
					}
					return nil, warnings, err
				}
				v, ok := s.Data[ref.Key]
				if !ok {
					if optional {
						continue
					}
					return nil, warnings, fmt.Errorf("couldn't find key %v in Secret %v/%v", ref.Key, pod.Namespace, ref.Name)
				}
				val = string(v)
			case from.FileKeyRef != nil:
				return nil, warnings, fmt.Errorf("env %q: fileKeyRef is not supported by skiff", ev.Name)
			}
		}
		vars.set(ev.Name, val)
	}
	return vars.list(), warnings, nil
}

// Command returns c's command and args with $(VAR) references expanded
// against env (the output of Env); unknown references stay verbatim and $$
// is an escaped $. Empty command or args stay nil so the image's
// entrypoint and cmd apply.
func Command(c *corev1.Container, env []string) (cmd, args []string) {
	lookup := lookupIn(EnvMap(env))
	expandAll := func(in []string) []string {
		if len(in) == 0 {
			return nil
		}
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = Expand(s, lookup)
		}
		return out
	}
	return expandAll(c.Command), expandAll(c.Args)
}

// SubPath expands a volumeMount's subPathExpr against env. Every
// referenced variable must be set and non-empty, otherwise the kubelet
// refuses to start the container with "missing value for X, Y".
func SubPath(expr string, env []string) (string, error) {
	m := EnvMap(env)
	missing := map[string]bool{}
	out := Expand(expr, func(name string) (string, bool) {
		v, ok := m[name]
		if !ok || v == "" {
			missing[name] = true
		}
		return v, true
	})
	if len(missing) > 0 {
		names := make([]string, 0, len(missing))
		for n := range missing {
			names = append(names, n)
		}
		sort.Strings(names)
		return "", fmt.Errorf("missing value for %s", strings.Join(names, ", "))
	}
	return out, nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// orderedEnv is a map that remembers the order keys were first set in.
type orderedEnv struct {
	vals  map[string]string
	order []string
}

func newOrderedEnv() *orderedEnv { return &orderedEnv{vals: map[string]string{}} }

func (e *orderedEnv) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.order = append(e.order, k)
	}
	e.vals[k] = v
}

func (e *orderedEnv) lookup(k string) (string, bool) {
	v, ok := e.vals[k]
	return v, ok
}

func (e *orderedEnv) list() []string {
	out := make([]string, 0, len(e.order))
	for _, k := range e.order {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}
