package app

import (
	"bytes"
	"net"
	"os"
	"runtime"
	"strings"

	"github.com/skiff-io/skiff/protocol"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxPods is the pods a node accepts, the kubelet's default.
const maxPods = 110

// EdgeLabel marks nodes that joined with --edge: the server never evicts
// their pods when they stop reporting (they are expected to go offline).
const EdgeLabel = "node.skiff.io/edge"

// registration is the Node the agent registers on its first join.
func registration(cfg Config, nodeIP string) corev1.Node {
	labels := map[string]string{
		corev1.LabelArchStable:    runtime.GOARCH,
		corev1.LabelOSStable:      runtime.GOOS,
		corev1.LabelHostname:      cfg.NodeName,
		"beta.kubernetes.io/arch": runtime.GOARCH,
		"beta.kubernetes.io/os":   runtime.GOOS,
	}
	if cfg.ControlPlane {
		labels["node-role.kubernetes.io/control-plane"] = "true"
	}
	if cfg.Edge {
		labels[EdgeLabel] = "true"
	}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	n := corev1.Node{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: metav1.ObjectMeta{Name: cfg.NodeName, Labels: labels},
		Spec:       corev1.NodeSpec{Taints: cfg.Taints},
	}
	if nodeIP != "" {
		n.Annotations = map[string]string{"alpha.kubernetes.io/provided-node-ip": nodeIP}
	}
	return n
}

// hostFacts are the parts of node status that do not change while the
// agent runs.
type hostFacts struct {
	capacity corev1.ResourceList
	info     corev1.NodeSystemInfo
}

func readHostFacts(dataDir, runtimeVersion, version string) hostFacts {
	f := hostFacts{capacity: corev1.ResourceList{
		corev1.ResourceCPU:  *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods: *resource.NewQuantity(maxPods, resource.DecimalSI),
	}}
	if _, total := memAvailable(); total > 0 {
		f.capacity[corev1.ResourceMemory] = *resource.NewQuantity(total, resource.BinarySI)
	}
	var st unix.Statfs_t
	if unix.Statfs(dataDir, &st) == nil {
		f.capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(st.Blocks)*int64(st.Bsize), resource.BinarySI)
	}
	var u unix.Utsname
	kernel := ""
	if unix.Uname(&u) == nil {
		kernel = unix.ByteSliceToString(u.Release[:])
	}
	f.info = corev1.NodeSystemInfo{
		MachineID:               firstLine("/etc/machine-id"),
		SystemUUID:              strings.ToLower(firstLine("/sys/class/dmi/id/product_uuid")),
		BootID:                  firstLine("/proc/sys/kernel/random/boot_id"),
		KernelVersion:           kernel,
		OSImage:                 osImage(),
		ContainerRuntimeVersion: runtimeVersion,
		KubeletVersion:          protocol.KubernetesVersion + "+skiff-" + strings.TrimPrefix(version, "v"),
		KubeProxyVersion:        "",
		OperatingSystem:         runtime.GOOS,
		Architecture:            runtime.GOARCH,
	}
	return f
}

// nodeStatus is what the agent reports: it changes only when something
// about the node does, so an idle node sends nothing (its Lease is the
// heartbeat).
func nodeStatus(f hostFacts, nodeName, nodeIP string, images []corev1.ContainerImage, ready bool, readyMsg string, since metav1.Time, pressure *pressureState) corev1.NodeStatus {
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string, since metav1.Time) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: since, LastTransitionTime: since}
	}
	readyCond := cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "skiff agent is posting ready status", since)
	if !ready {
		readyCond = cond(corev1.NodeReady, corev1.ConditionFalse, "KubeletNotReady", readyMsg, since)
	}
	// The pressure conditions, in the kubelet's words.
	pressureCond := func(k pressureKind, t corev1.NodeConditionType, onReason, onMsg, offReason, offMsg string) corev1.NodeCondition {
		at := since
		if pressure != nil && !pressure.since[k].IsZero() {
			at = metav1.NewTime(pressure.since[k])
		}
		if pressure != nil && pressure.on[k] {
			return cond(t, corev1.ConditionTrue, onReason, onMsg, at)
		}
		return cond(t, corev1.ConditionFalse, offReason, offMsg, at)
	}
	st := corev1.NodeStatus{
		Capacity:    f.capacity.DeepCopy(),
		Allocatable: f.capacity.DeepCopy(),
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			pressureCond(memoryPressure, corev1.NodeMemoryPressure, "KubeletHasInsufficientMemory", "skiff agent has insufficient memory available",
				"KubeletHasSufficientMemory", "skiff agent has sufficient memory available"),
			pressureCond(diskPressure, corev1.NodeDiskPressure, "KubeletHasDiskPressure", "skiff agent has disk pressure",
				"KubeletHasNoDiskPressure", "skiff agent has no disk pressure"),
			pressureCond(pidPressure, corev1.NodePIDPressure, "KubeletHasInsufficientPID", "skiff agent has insufficient PID available",
				"KubeletHasSufficientPID", "skiff agent has sufficient PID available"),
			readyCond,
		},
		NodeInfo: f.info,
		Images:   images,
	}
	if nodeIP != "" {
		st.Addresses = append(st.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: nodeIP})
	}
	st.Addresses = append(st.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: nodeName})
	return st
}

// detectNodeIP is the address the host uses to reach the server (what
// other nodes see), else its first global IPv4 address.
func detectNodeIP(server string) string {
	host := server
	if u, ok := strings.CutPrefix(server, "https://"); ok {
		host = u
	}
	if h, _, err := net.SplitHostPort(strings.TrimSuffix(host, "/")); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		if c, err := net.Dial("udp", net.JoinHostPort(host, "9")); err == nil {
			defer c.Close()
			if a, ok := c.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsLoopback() {
				return a.IP.String()
			}
		}
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	return "127.0.0.1"
}

func firstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return strings.TrimSpace(string(line))
}

func osImage() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return runtime.GOOS
}
