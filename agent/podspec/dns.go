package podspec

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The resolver limits Kubernetes applies to a pod's resolv.conf.
const (
	// MaxNameservers is how many nameservers glibc reads.
	MaxNameservers = 3
	// MaxSearchPaths and MaxSearchLineChars bound the search line.
	MaxSearchPaths     = 32
	MaxSearchLineChars = 2048
	// maxSearchPathLen drops longer search domains (some resolvers abort
	// on them).
	maxSearchPathLen = 253
)

var defaultClusterDNSOptions = []string{"ndots:5"}

// DNSConfig is a parsed or generated resolv.conf.
type DNSConfig struct {
	Nameservers []string
	Searches    []string
	Options     []string
}

// ParseResolvConf reads the nameserver, search and options lines of a
// resolv.conf: nameservers accumulate, the last search line wins (trailing
// dots dropped) and the last options line wins.
func ParseResolvConf(data []byte) (DNSConfig, error) {
	cfg := DNSConfig{Nameservers: []string{}, Searches: []string{}, Options: []string{}}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) < 2 {
				return cfg, fmt.Errorf("nameserver list is empty ")
			}
			cfg.Nameservers = append(cfg.Nameservers, f[1])
		case "search":
			cfg.Searches = []string{}
			for _, s := range f[1:] {
				cfg.Searches = append(cfg.Searches, strings.TrimSuffix(s, "."))
			}
		case "options":
			cfg.Options = append([]string{}, f[1:]...)
		}
	}
	return cfg, nil
}

// PodDNS computes the pod's resolver configuration from its dnsPolicy and
// dnsConfig, as the kubelet does:
//
//   - None: only spec.dnsConfig;
//   - ClusterFirst (not host network) and ClusterFirstWithHostNet: the
//     cluster DNS servers, the search path
//     <ns>.svc.<domain> svc.<domain> <domain> followed by the host's, and
//     ndots:5. While no cluster DNS is configured (clusterDNS empty; skiff
//     runs no cluster DNS yet) these fall back to Default, i.e. the
//     host's resolvers, exactly as a kubelet without --cluster-dns does;
//   - Default, and ClusterFirst on the host network: the host's
//     resolv.conf. hostResolv == nil means the node has no resolv.conf
//     configured (the kubelet's --resolv-conf=""): the pod then resolves
//     through 127.0.0.1 with search ".".
//
// spec.dnsConfig is then merged in (nameservers and searches appended
// without duplicates, options overriding by name) and the result is cut
// to the resolver limits. An empty dnsPolicy is treated as the API
// default, ClusterFirst.
func PodDNS(pod *corev1.Pod, hostResolv []byte, clusterDNS []string, clusterDomain string) (DNSConfig, error) {
	var host DNSConfig
	if hostResolv != nil {
		var err error
		if host, err = ParseResolvConf(hostResolv); err != nil {
			return DNSConfig{}, err
		}
	}
	cluster := false
	switch pod.Spec.DNSPolicy {
	case corev1.DNSNone:
		host = DNSConfig{}
	case corev1.DNSClusterFirstWithHostNet:
		cluster = true
	case corev1.DNSClusterFirst, "":
		cluster = !pod.Spec.HostNetwork
	case corev1.DNSDefault:
	default:
		// The kubelet logs and falls back to ClusterFirst.
		cluster = true
	}
	cfg := host
	if pod.Spec.DNSPolicy != corev1.DNSNone {
		if cluster && len(clusterDNS) > 0 {
			cfg.Nameservers = append([]string{}, clusterDNS...)
			cfg.Searches = clusterSearches(pod, host.Searches, clusterDomain)
			cfg.Options = append([]string{}, defaultClusterDNSOptions...)
		} else if hostResolv == nil {
			cfg.Nameservers = []string{"127.0.0.1"}
			cfg.Searches = []string{"."}
		}
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		cfg.Nameservers = dedupe(append(append([]string{}, cfg.Nameservers...), dc.Nameservers...))
		cfg.Searches = dedupe(append(append([]string{}, cfg.Searches...), dc.Searches...))
		cfg.Options = mergeOptions(cfg.Options, dc.Options)
	}
	if len(cfg.Nameservers) > MaxNameservers {
		cfg.Nameservers = cfg.Nameservers[:MaxNameservers]
	}
	cfg.Searches = fitSearches(cfg.Searches)
	return cfg, nil
}

// ResolvConf renders PodDNS as the pod's /etc/resolv.conf (search line,
// nameserver lines, options line, each only when non-empty).
func ResolvConf(pod *corev1.Pod, hostResolv []byte, clusterDNS []string, clusterDomain string) ([]byte, error) {
	cfg, err := PodDNS(pod, hostResolv, clusterDNS, clusterDomain)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if len(cfg.Searches) > 0 {
		b.WriteString("search " + strings.Join(cfg.Searches, " ") + "\n")
	}
	for _, ns := range cfg.Nameservers {
		b.WriteString("nameserver " + ns + "\n")
	}
	if len(cfg.Options) > 0 {
		b.WriteString("options " + strings.Join(cfg.Options, " ") + "\n")
	}
	return []byte(b.String()), nil
}

func clusterSearches(pod *corev1.Pod, hostSearches []string, clusterDomain string) []string {
	if clusterDomain == "" {
		return append([]string{}, hostSearches...)
	}
	s := []string{pod.Namespace + ".svc." + clusterDomain, "svc." + clusterDomain, clusterDomain}
	return dedupe(append(s, hostSearches...))
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := []string{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// mergeOptions lets pod options override host or cluster options of the
// same name. Unlike the kubelet (which goes through a map), the order is
// stable: existing options first, new ones after.
func mergeOptions(existing []string, pod []corev1.PodDNSConfigOption) []string {
	var names []string
	vals := map[string]string{}
	set := func(name, val string) {
		if _, ok := vals[name]; !ok {
			names = append(names, name)
		}
		vals[name] = val
	}
	for _, op := range existing {
		name, val, _ := strings.Cut(op, ":")
		set(name, val)
	}
	for _, op := range pod {
		val := ""
		if op.Value != nil {
			val = *op.Value
		}
		set(op.Name, val)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if v := vals[n]; v != "" {
			out = append(out, n+":"+v)
		} else {
			out = append(out, n)
		}
	}
	return out
}

// fitSearches applies the search limits: at most MaxSearchPaths entries,
// none longer than 253 characters, and a line of at most
// MaxSearchLineChars (dropping domains from the end).
func fitSearches(s []string) []string {
	if len(s) > MaxSearchPaths {
		s = s[:MaxSearchPaths]
	}
	out := make([]string, 0, len(s))
	for _, d := range s {
		if len(d) <= maxSearchPathLen {
			out = append(out, d)
		}
	}
	for len(out) > 0 && len(strings.Join(out, " ")) > MaxSearchLineChars {
		out = out[:len(out)-1]
	}
	return out
}
