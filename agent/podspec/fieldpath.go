package podspec

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// MetadataFieldValue resolves a downward API fieldPath that reads the pod's
// metadata: metadata.name, metadata.namespace, metadata.uid,
// metadata.labels and metadata.annotations (whole maps, one key="value" a
// line, sorted) and their subscripted forms metadata.labels['k'] and
// metadata.annotations['k']. Downward API volumes accept only these.
func MetadataFieldValue(pod *corev1.Pod, fieldPath string) (string, error) {
	if path, key, ok := splitSubscript(fieldPath); ok {
		switch path {
		case "metadata.annotations":
			if errs := validation.IsQualifiedName(strings.ToLower(key)); len(errs) != 0 {
				return "", fmt.Errorf("invalid key subscript in %s: %s", fieldPath, strings.Join(errs, ";"))
			}
			return pod.Annotations[key], nil
		case "metadata.labels":
			if errs := validation.IsQualifiedName(key); len(errs) != 0 {
				return "", fmt.Errorf("invalid key subscript in %s: %s", fieldPath, strings.Join(errs, ";"))
			}
			return pod.Labels[key], nil
		default:
			return "", fmt.Errorf("fieldPath %q does not support subscript", fieldPath)
		}
	}
	switch fieldPath {
	case "metadata.annotations":
		return FormatMap(pod.Annotations), nil
	case "metadata.labels":
		return FormatMap(pod.Labels), nil
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	}
	return "", fmt.Errorf("unsupported fieldPath: %v", fieldPath)
}

// PodFieldValue resolves an env fieldRef: everything MetadataFieldValue
// knows plus spec.nodeName, spec.serviceAccountName, status.hostIP(s) from
// node and status.podIP(s) from podIPs (comma-separated for the plural
// forms).
func PodFieldValue(pod *corev1.Pod, ref *corev1.ObjectFieldSelector, podIPs []string, node NodeInfo) (string, error) {
	if ref.APIVersion != "" && ref.APIVersion != "v1" {
		return "", fmt.Errorf("unsupported pod version: %s", ref.APIVersion)
	}
	switch ref.FieldPath {
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		if len(node.HostIPs) == 0 {
			return "", fmt.Errorf("node has no host IP")
		}
		return node.HostIPs[0], nil
	case "status.hostIPs":
		if len(node.HostIPs) == 0 {
			return "", fmt.Errorf("node has no host IP")
		}
		return strings.Join(node.HostIPs, ","), nil
	case "status.podIP":
		if len(podIPs) == 0 {
			return "", nil
		}
		return podIPs[0], nil
	case "status.podIPs":
		return strings.Join(podIPs, ","), nil
	}
	return MetadataFieldValue(pod, ref.FieldPath)
}

// PodIPs returns the pod's addresses from its status; a host-network pod
// without them has the node's addresses, as the kubelet reports.
func PodIPs(pod *corev1.Pod, node NodeInfo) []string {
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		if ip.IP != "" {
			ips = append(ips, ip.IP)
		}
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = []string{pod.Status.PodIP}
	}
	if len(ips) == 0 && pod.Spec.HostNetwork {
		ips = append(ips, node.HostIPs...)
	}
	return ips
}

// FormatMap renders a label or annotation map the way downward API files
// show it: key="value" lines (Go-quoted values), sorted by key, without a
// trailing newline.
func FormatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// splitSubscript splits "metadata.labels['k']" into "metadata.labels" and
// "k".
func splitSubscript(fieldPath string) (path, key string, ok bool) {
	if !strings.HasSuffix(fieldPath, "']") {
		return fieldPath, "", false
	}
	open := strings.Index(fieldPath, "['")
	if open < 0 {
		return fieldPath, "", false
	}
	return fieldPath[:open], fieldPath[open+2 : len(fieldPath)-2], true
}
