package podspec

import (
	"bytes"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// hostnameMaxLen is the kernel's limit on a hostname (64 bytes with the
// terminating NUL).
const hostnameMaxLen = 63

// Hostname returns the pod's short hostname: spec.hostnameOverride when
// set, else spec.hostname, else the pod name; cut to 63 characters with
// any trailing '-' or '.' removed. A host-network pod keeps the node's
// hostname; the caller handles that case (see UTSHostname).
func Hostname(pod *corev1.Pod) string {
	h := pod.Name
	if pod.Spec.HostnameOverride != nil && *pod.Spec.HostnameOverride != "" {
		h = *pod.Spec.HostnameOverride
	} else if pod.Spec.Hostname != "" {
		h = pod.Spec.Hostname
	}
	if len(h) > hostnameMaxLen {
		h = strings.TrimRight(h[:hostnameMaxLen], "-.")
	}
	return h
}

// Domain returns the pod's DNS domain, "<subdomain>.<namespace>.svc.<cluster
// domain>", or "" when the pod sets no subdomain (or overrides its
// hostname, which drops the domain).
func Domain(pod *corev1.Pod, clusterDomain string) string {
	if pod.Spec.Subdomain == "" || (pod.Spec.HostnameOverride != nil && *pod.Spec.HostnameOverride != "") {
		return ""
	}
	return fmt.Sprintf("%s.%s.svc.%s", pod.Spec.Subdomain, pod.Namespace, clusterDomain)
}

// ValidateHostname reports the kubelet's errors for a hostname, subdomain
// or hostnameOverride the API server should have rejected.
func ValidateHostname(pod *corev1.Pod) error {
	if o := pod.Spec.HostnameOverride; o != nil && *o != "" {
		if msgs := validation.IsDNS1123Subdomain(*o); len(msgs) != 0 {
			return fmt.Errorf("pod HostnameOverride %q is not a valid DNS subdomain: %s", *o, strings.Join(msgs, ";"))
		}
		return nil
	}
	if h := pod.Spec.Hostname; h != "" {
		if msgs := validation.IsDNS1123Label(h); len(msgs) != 0 {
			return fmt.Errorf("pod Hostname %q is not a valid DNS label: %s", h, strings.Join(msgs, ";"))
		}
	}
	if s := pod.Spec.Subdomain; s != "" {
		if msgs := validation.IsDNS1123Label(s); len(msgs) != 0 {
			return fmt.Errorf("pod Subdomain %q is not a valid DNS label: %s", s, strings.Join(msgs, ";"))
		}
	}
	if Hostname(pod) == "" {
		return fmt.Errorf("hostname for pod %q was invalid", pod.Name)
	}
	return nil
}

// UTSHostname is the hostname the pod's containers see (their UTS
// namespace and /etc/hostname): "" for a host-network pod (it shares the
// node's), the FQDN when spec.setHostnameAsFQDN is set and the pod has a
// domain (an error when that exceeds 64 characters, as on any Kubernetes
// node), else Hostname.
func UTSHostname(pod *corev1.Pod, clusterDomain string) (string, error) {
	if pod.Spec.HostNetwork {
		return "", nil
	}
	if err := ValidateHostname(pod); err != nil {
		return "", err
	}
	h := Hostname(pod)
	if d := Domain(pod, clusterDomain); d != "" && pod.Spec.SetHostnameAsFQDN != nil && *pod.Spec.SetHostnameAsFQDN {
		fqdn := h + "." + d
		if len(fqdn) > hostnameMaxLen+1 {
			return "", fmt.Errorf("failed to construct FQDN from pod hostname and cluster domain, FQDN %s is too long (%d characters is the max, %d characters requested)",
				fqdn, hostnameMaxLen+1, len(fqdn))
		}
		return fqdn, nil
	}
	return h, nil
}

// Hosts returns the pod's /etc/hosts. A pod on the pod network gets the
// managed file: loopback and IPv6 entries, one line per pod IP naming the
// pod (with its FQDN when it has a subdomain), then spec.hostAliases. A
// host-network pod gets nodeHosts (the node's /etc/hosts) under a header,
// followed by its hostAliases.
func Hosts(pod *corev1.Pod, podIPs []string, nodeHosts []byte, clusterDomain string) []byte {
	var b bytes.Buffer
	if pod.Spec.HostNetwork {
		b.WriteString("# Kubernetes-managed hosts file (host network).\n")
		b.Write(nodeHosts)
		writeHostAliases(&b, pod.Spec.HostAliases)
		return b.Bytes()
	}
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	host, domain := Hostname(pod), Domain(pod, clusterDomain)
	for _, ip := range podIPs {
		if domain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", ip, host, domain, host)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, host)
		}
	}
	writeHostAliases(&b, pod.Spec.HostAliases)
	return b.Bytes()
}

func writeHostAliases(b *bytes.Buffer, aliases []corev1.HostAlias) {
	if len(aliases) == 0 {
		return
	}
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		fmt.Fprintf(b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
}
