package scheduler

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Snapshot is the cluster as the scheduler sees it: every node, and on each
// the pods bound or assumed to it. The runner keeps one up to date from
// its informers (SetNode, AddPod, ...) and hands it to Schedule, which only
// reads it. A Snapshot is not safe for concurrent use.
type Snapshot struct {
	nodes map[string]*NodeInfo
	// infos is the nodes' infos sorted by name: Schedule walks nodes in
	// this order (a slice, not names to look up in nodes: a decision walks
	// every node two to four times).
	infos []*NodeInfo
	// podNode is where each accounted pod sits, by podKey.
	podNode map[string]string
	// imageNodes counts the nodes holding each (normalized) image.
	imageNodes map[string]int
	// NamespaceLabels holds namespaces' labels, for affinity terms with a
	// namespaceSelector. Nil means such selectors match only empty ones.
	NamespaceLabels map[string]map[string]string
	// Volumes, when set, tells the VolumeBinding filter about a pod's
	// claims (see ClaimVolumes). Nil means pods' claims are not checked.
	Volumes func(pod *corev1.Pod) PodVolumes
}

// NodeInfo is one node and what is accounted on it.
type NodeInfo struct {
	Node *corev1.Node

	allocatable Resources
	requested   Resources
	nonZeroCPU  int64
	nonZeroMem  int64
	pods        map[string]*podInfo
	// ports counts host ports in use: exact (ip, protocol, port) and by
	// (protocol, port) for wildcard binds.
	ports     map[hostPort]int
	portsAny  map[hostPort]int
	owners    map[types.UID]int32
	withAntiA int // pods with required anti-affinity terms
	withAff   int // pods with any affinity or anti-affinity
	images    map[string]int64
	// notReadyTaint is the taint the node lifecycle would add for the
	// node's Ready condition, when the node does not carry it yet.
	notReadyTaint *corev1.Taint
}

// podInfo is a pod with what the scheduler derives from it once. It keeps
// what the scheduler reads of other pods, not the pod: the pod informer
// builds its pods on demand and lets them go (kubeclient.cachedPod), and
// a snapshot entry holding one would keep a 1.25 KiB pod alive for every
// bound pod.
type podInfo struct {
	namespace string
	labels    map[string]string
	requests  Resources
	cpu, mem  int64 // non-zero requests
	ports     []hostPort
	owner     types.UID
	// terms are the pod's own inter-pod affinity terms, parsed once; nil
	// for the many pods without any (the snapshot has an entry for every
	// bound pod, so it keeps them apart). Read them with affinity().
	terms *podTerms
	// deleting: the pod has a deletionTimestamp. requiredAnti: it has
	// required anti-affinity terms; withAff: pod affinity or anti-affinity
	// (the NodeInfo's counts of both).
	deleting, requiredAnti, withAff bool
}

type podTerms struct {
	requiredAff, requiredAnti   []affinityTerm
	preferredAff, preferredAnti []affinityTerm // weights negative for anti
}

var noTerms = &podTerms{}

// affinity returns the pod's inter-pod affinity terms, empty when it has
// none. The caller must not modify them.
func (pi *podInfo) affinity() *podTerms {
	if pi.terms == nil {
		return noTerms
	}
	return pi.terms
}

type hostPort struct {
	ip       string
	protocol corev1.Protocol
	port     int32
}

// NewSnapshot builds a snapshot of nodes and the pods assigned to them.
func NewSnapshot(nodes []*corev1.Node, pods []*corev1.Pod) *Snapshot {
	s := &Snapshot{}
	for _, n := range nodes {
		s.SetNode(n)
	}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			s.AddPod(p, p.Spec.NodeName)
		}
	}
	return s
}

func (s *Snapshot) init() {
	if s.nodes == nil {
		s.nodes = map[string]*NodeInfo{}
		s.podNode = map[string]string{}
		s.imageNodes = map[string]int{}
	}
}

// NumNodes returns how many nodes the snapshot holds.
func (s *Snapshot) NumNodes() int { return len(s.infos) }

// search returns where the node named name is, or would be, in s.infos.
func (s *Snapshot) search(name string) int {
	return sort.Search(len(s.infos), func(i int) bool { return s.infos[i].Node.Name >= name })
}

// Node returns the named node's info, or nil.
func (s *Snapshot) Node(name string) *NodeInfo { return s.nodes[name] }

// SetNode adds node or replaces its previous version, keeping the pods
// accounted on it.
func (s *Snapshot) SetNode(node *corev1.Node) {
	s.init()
	ni := s.nodes[node.Name]
	if ni == nil {
		ni = &NodeInfo{pods: map[string]*podInfo{}}
		s.nodes[node.Name] = ni
	}
	if ni.Node == nil {
		i := s.search(node.Name)
		s.infos = append(s.infos, nil)
		copy(s.infos[i+1:], s.infos[i:])
		s.infos[i] = ni
	} else {
		for name := range ni.images {
			s.dropImage(name)
		}
	}
	ni.Node = node
	ni.allocatable = resourcesOf(node.Status.Allocatable)
	ni.images = nil
	for _, img := range node.Status.Images {
		for _, name := range img.Names {
			if ni.images == nil {
				ni.images = map[string]int64{}
			}
			n := normalizedImageName(name)
			if _, dup := ni.images[n]; !dup {
				s.imageNodes[n]++
			}
			ni.images[n] = img.SizeBytes
		}
	}
	ni.notReadyTaint = notReadyTaint(node)
}

func (s *Snapshot) dropImage(name string) {
	if s.imageNodes[name]--; s.imageNodes[name] <= 0 {
		delete(s.imageNodes, name)
	}
}

// RemoveNode forgets a node. Pods still accounted on it stay accounted
// (they count again if the node comes back) until they are removed.
func (s *Snapshot) RemoveNode(name string) {
	ni := s.nodes[name]
	if ni == nil || ni.Node == nil {
		return
	}
	for img := range ni.images {
		s.dropImage(img)
	}
	i := s.search(name)
	s.infos = append(s.infos[:i], s.infos[i+1:]...)
	ni.Node, ni.images, ni.notReadyTaint = nil, nil, nil
	ni.allocatable = Resources{}
	if len(ni.pods) == 0 {
		delete(s.nodes, name)
	}
}

// podKey identifies a pod across updates: its UID, or namespace/name for
// pods built without one (tests).
func podKey(p *corev1.Pod) string {
	if p.UID != "" {
		return string(p.UID)
	}
	return p.Namespace + "/" + p.Name
}

// AddPod accounts pod on node nodeName (its spec.nodeName, or the node it
// was just assumed to), replacing an earlier accounting of the same pod.
// A pod of a node not seen yet counts once the node is set.
func (s *Snapshot) AddPod(pod *corev1.Pod, nodeName string) {
	s.init()
	s.RemovePod(pod)
	ni := s.nodes[nodeName]
	if ni == nil {
		ni = &NodeInfo{pods: map[string]*podInfo{}}
		s.nodes[nodeName] = ni
	}
	pi := newPodInfo(pod)
	k := podKey(pod)
	ni.pods[k] = pi
	s.podNode[k] = nodeName
	ni.requested.add(&pi.requests, 1)
	ni.nonZeroCPU += pi.cpu
	ni.nonZeroMem += pi.mem
	for _, hp := range pi.ports {
		if ni.ports == nil {
			ni.ports, ni.portsAny = map[hostPort]int{}, map[hostPort]int{}
		}
		ni.ports[hp]++
		ni.portsAny[hostPort{protocol: hp.protocol, port: hp.port}]++
	}
	if pi.owner != "" {
		if ni.owners == nil {
			ni.owners = map[types.UID]int32{}
		}
		ni.owners[pi.owner]++
	}
	if pi.requiredAnti {
		ni.withAntiA++
	}
	if pi.withAff {
		ni.withAff++
	}
}

// RemovePod forgets pod wherever it was accounted.
func (s *Snapshot) RemovePod(pod *corev1.Pod) {
	k := podKey(pod)
	nodeName, ok := s.podNode[k]
	if !ok {
		return
	}
	delete(s.podNode, k)
	ni := s.nodes[nodeName]
	pi := ni.pods[k]
	delete(ni.pods, k)
	ni.requested.add(&pi.requests, -1)
	ni.nonZeroCPU -= pi.cpu
	ni.nonZeroMem -= pi.mem
	for _, hp := range pi.ports {
		if ni.ports[hp]--; ni.ports[hp] <= 0 {
			delete(ni.ports, hp)
		}
		anyKey := hostPort{protocol: hp.protocol, port: hp.port}
		if ni.portsAny[anyKey]--; ni.portsAny[anyKey] <= 0 {
			delete(ni.portsAny, anyKey)
		}
	}
	if pi.owner != "" {
		if ni.owners[pi.owner]--; ni.owners[pi.owner] <= 0 {
			delete(ni.owners, pi.owner)
		}
	}
	if pi.requiredAnti {
		ni.withAntiA--
	}
	if pi.withAff {
		ni.withAff--
	}
	if ni.Node == nil && len(ni.pods) == 0 {
		delete(s.nodes, nodeName)
	}
}

// NodeOf returns the node pod is accounted on.
func (s *Snapshot) NodeOf(pod *corev1.Pod) (string, bool) {
	n, ok := s.podNode[podKey(pod)]
	return n, ok
}

// Pods returns how many pods are accounted on the node.
func (ni *NodeInfo) Pods() int { return len(ni.pods) }

// Requested returns the sum of the requests of the node's pods.
func (ni *NodeInfo) Requested() Resources { return ni.requested.clone() }

func newPodInfo(pod *corev1.Pod) *podInfo {
	pi := &podInfo{namespace: pod.Namespace, labels: pod.Labels, requests: PodRequests(pod),
		deleting: pod.DeletionTimestamp != nil, requiredAnti: hasRequiredAntiAffinity(pod)}
	if a := pod.Spec.Affinity; a != nil && (a.PodAffinity != nil || a.PodAntiAffinity != nil) {
		pi.withAff = true
	}
	pi.cpu, pi.mem = nonZeroRequests(pod)
	pi.ports = podHostPorts(pod)
	if ref := metav1.GetControllerOf(pod); ref != nil {
		pi.owner = ref.UID
	}
	if a := pod.Spec.Affinity; a != nil {
		t := &podTerms{}
		if pa := a.PodAffinity; pa != nil {
			t.requiredAff = requiredTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution)
			t.preferredAff = preferredTerms(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution, 1)
		}
		if pa := a.PodAntiAffinity; pa != nil {
			t.requiredAnti = requiredTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution)
			t.preferredAnti = preferredTerms(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution, -1)
		}
		if len(t.requiredAff)+len(t.preferredAff)+len(t.requiredAnti)+len(t.preferredAnti) > 0 {
			pi.terms = t
		}
	}
	return pi
}

func podHostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(cs []corev1.Container) {
		for i := range cs {
			for _, p := range cs[i].Ports {
				if p.HostPort <= 0 {
					continue
				}
				hp := hostPort{ip: p.HostIP, protocol: p.Protocol, port: p.HostPort}
				if hp.ip == "" {
					hp.ip = "0.0.0.0"
				}
				if hp.protocol == "" {
					hp.protocol = corev1.ProtocolTCP
				}
				out = append(out, hp)
			}
		}
	}
	add(pod.Spec.Containers)
	add(pod.Spec.InitContainers)
	return out
}

func hasRequiredAntiAffinity(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	return a != nil && a.PodAntiAffinity != nil && len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0
}

// notReadyTaint returns the NoSchedule taint Kubernetes' node lifecycle
// puts on a node whose Ready condition is False (not-ready) or Unknown or
// missing (unreachable), unless the node carries it already. The scheduler
// applies it itself so that a NotReady node gets no new pods even before
// anything has tainted it, while pods that tolerate it (DaemonSets) still
// land there.
func notReadyTaint(node *corev1.Node) *corev1.Taint {
	status := corev1.ConditionUnknown
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			status = c.Status
		}
	}
	var key string
	switch status {
	case corev1.ConditionTrue:
		return nil
	case corev1.ConditionFalse:
		key = corev1.TaintNodeNotReady
	default:
		key = corev1.TaintNodeUnreachable
	}
	for _, t := range node.Spec.Taints {
		if t.Key == key && (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) {
			return nil
		}
	}
	return &corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule}
}

// normalizedImageName adds the ":latest" tag an untagged reference means.
func normalizedImageName(name string) string {
	last := name[strings.LastIndex(name, "/")+1:]
	if !strings.ContainsAny(last, ":@") {
		return name + ":latest"
	}
	return name
}
