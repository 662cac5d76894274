package kubeclient

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// StripPod is the transform of the shared pod informer: pods are most of
// the controllers' memory at fleet scale, so besides managedFields it
// drops what only the agent reads, and it shares what pods repeat: strings,
// resource lists, and whole containers, labels, owner references and
// tolerations equal to another pod's (shareValue), and pointers to equal
// values (sharePtr).
//
// Dropped: per container (init and ephemeral ones too) command, args,
// workingDir, env, envFrom, volumeMounts, volumeDevices, probes,
// lifecycle, termination message settings, imagePullPolicy,
// securityContext, stdin and tty; every volume but claims (the
// service-account token's projected volume every pod has, ConfigMaps,
// Secrets, emptyDirs…). No controller reads them (the scheduler reads
// names, images, ports and resources, and claim volumes; the Endpoints
// controllers ports), and none writes a cached pod back whole: controllers change pods
// only by patches of metadata or status, by binding and by deletion, so a
// stripped field never reaches the API. A controller that starts to read
// one of them must keep it here.
func StripPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return DropManagedFields(obj)
	}
	p.ManagedFields = nil
	podStrings.mu.Lock()
	defer podStrings.mu.Unlock()
	in := podStrings.intern
	p.Namespace = in(p.Namespace)
	p.GenerateName = in(p.GenerateName)
	p.Labels = shareValue(podStrings, "l", internMap(p.Labels, in))
	for i := range p.OwnerReferences {
		r := &p.OwnerReferences[i]
		r.APIVersion, r.Kind, r.Name = in(r.APIVersion), in(r.Kind), in(r.Name)
	}
	p.OwnerReferences = shareValue(podStrings, "o", p.OwnerReferences)
	s := &p.Spec
	s.NodeName, s.SchedulerName, s.ServiceAccountName = in(s.NodeName), in(s.SchedulerName), in(s.ServiceAccountName)
	s.DeprecatedServiceAccount = in(s.DeprecatedServiceAccount)
	s.PriorityClassName = in(s.PriorityClassName)
	s.Overhead = podStrings.resources(s.Overhead)
	s.RestartPolicy, s.DNSPolicy = corev1.RestartPolicy(in(string(s.RestartPolicy))), corev1.DNSPolicy(in(string(s.DNSPolicy)))
	for _, cs := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for i := range cs {
			stripContainer(&cs[i], in)
		}
	}
	s.InitContainers = shareValue(podStrings, "i", s.InitContainers)
	s.Containers = shareValue(podStrings, "c", s.Containers)
	if s.SecurityContext != nil && reflect.ValueOf(*s.SecurityContext).IsZero() {
		s.SecurityContext = emptyPodSecurity
	}
	for i := range s.EphemeralContainers {
		c := &s.EphemeralContainers[i].EphemeralContainerCommon
		c.Command, c.Args, c.WorkingDir, c.Env, c.EnvFrom = nil, nil, "", nil, nil
		c.VolumeMounts, c.VolumeDevices = nil, nil
		c.LivenessProbe, c.ReadinessProbe, c.StartupProbe, c.Lifecycle = nil, nil, nil, nil
		c.TerminationMessagePath, c.TerminationMessagePolicy, c.ImagePullPolicy = "", "", ""
		c.SecurityContext, c.Stdin, c.StdinOnce, c.TTY = nil, false, false, false
	}
	s.Volumes = claimVolumes(s.Volumes, in)
	s.TerminationGracePeriodSeconds = sharePtr(podStrings, "g", s.TerminationGracePeriodSeconds)
	s.ActiveDeadlineSeconds = sharePtr(podStrings, "a", s.ActiveDeadlineSeconds)
	s.Priority = sharePtr(podStrings, "p", s.Priority)
	s.PreemptionPolicy = sharePtr(podStrings, "e", s.PreemptionPolicy)
	s.EnableServiceLinks = sharePtr(podStrings, "s", s.EnableServiceLinks)
	for i := range s.Tolerations {
		t := &s.Tolerations[i]
		t.Key, t.Operator, t.Value, t.Effect = in(t.Key), corev1.TolerationOperator(in(string(t.Operator))), in(t.Value), corev1.TaintEffect(in(string(t.Effect)))
	}
	s.Tolerations = shareValue(podStrings, "t", s.Tolerations)
	st := &p.Status
	st.Phase, st.QOSClass = corev1.PodPhase(in(string(st.Phase))), corev1.PodQOSClass(in(string(st.QOSClass)))
	st.HostIP = in(st.HostIP)
	for i := range st.HostIPs {
		st.HostIPs[i].IP = in(st.HostIPs[i].IP)
	}
	// Decoding grows slices by doubling: a running pod's five conditions
	// sit in room for eight (1 KiB instead of 640 bytes).
	st.Conditions = exact(st.Conditions)
	st.InitContainerStatuses, st.ContainerStatuses = exact(st.InitContainerStatuses), exact(st.ContainerStatuses)
	for i := range st.Conditions {
		c := &st.Conditions[i]
		c.Type, c.Status = corev1.PodConditionType(in(string(c.Type))), corev1.ConditionStatus(in(string(c.Status)))
		c.Reason, c.Message = in(c.Reason), in(c.Message)
	}
	for _, cs := range [][]corev1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses} {
		for i := range cs {
			cs[i].Name, cs[i].Image, cs[i].ImageID = in(cs[i].Name), in(cs[i].Image), in(cs[i].ImageID)
		}
	}
	return p, nil
}

func stripContainer(c *corev1.Container, in func(string) string) {
	c.Name, c.Image = in(c.Name), in(c.Image)
	c.Command, c.Args, c.WorkingDir, c.Env, c.EnvFrom = nil, nil, "", nil, nil
	c.VolumeMounts, c.VolumeDevices = nil, nil
	c.LivenessProbe, c.ReadinessProbe, c.StartupProbe, c.Lifecycle = nil, nil, nil, nil
	c.TerminationMessagePath, c.TerminationMessagePolicy, c.ImagePullPolicy = "", "", ""
	c.SecurityContext, c.Stdin, c.StdinOnce, c.TTY = nil, false, false, false
	for i := range c.Ports {
		c.Ports[i].Name = in(c.Ports[i].Name)
	}
	c.Resources.Requests = podStrings.resources(c.Resources.Requests)
	c.Resources.Limits = podStrings.resources(c.Resources.Limits)
}

// exact returns s, or a copy of it without spare capacity.
func exact[S ~[]E, E any](s S) S {
	if cap(s) == len(s) || len(s) == 0 {
		return s
	}
	return append(S(nil), s...)
}

func internMap(m map[string]string, in func(string) string) map[string]string {
	for k, v := range m {
		// Assigning to an existing key keeps the map's own copy of the
		// key; only the value is shared.
		m[k] = in(v)
	}
	return m
}

// podStrings shares the strings pods repeat (namespaces, owner and node
// names, images, labels, condition reasons) and their resource lists:
// decoding gives every pod its own copy of each, and a ResourceList map
// of two entries alone takes ~600 bytes. Shared maps are safe because
// cached objects are read-only (DeepCopy copies them). The tables are
// bounded: when one is full both start anew, so names that come and go
// (owners of finished Jobs, say) cannot make them grow without end;
// values handed out before stay valid.
var podStrings = &interner{}

const (
	internMaxEntries  = 8192
	internMaxLen      = 256
	internMaxValueLen = 2048
)

type interner struct {
	mu     sync.Mutex
	table  map[string]string
	lists  map[string]corev1.ResourceList
	values map[string]any
}

func (t *interner) full() bool {
	return t.table == nil || len(t.table) >= internMaxEntries || len(t.lists) >= internMaxEntries || len(t.values) >= internMaxEntries
}

func (t *interner) reset() {
	t.table = make(map[string]string, 256)
	t.lists = make(map[string]corev1.ResourceList, 64)
	t.values = make(map[string]any, 64)
}

// emptyPodSecurity stands for every pod's empty securityContext.
var emptyPodSecurity = &corev1.PodSecurityContext{}

// claimVolumes returns the volumes of vs that are claims, persistent or
// ephemeral: the scheduler's volume binding reads those, and no controller
// reads any other (a Volume is 256 bytes, and every pod has at least the
// service-account token's projected volume, whose name differs per pod).
// vs is reused.
func claimVolumes(vs []corev1.Volume, in func(string) string) []corev1.Volume {
	out := vs[:0]
	for _, v := range vs {
		if v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
			v.Name = in(v.Name)
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	clear(vs[len(out):])
	return exact(out)
}

// sharePtr returns a pointer to a value equal to *p that t hands to every
// pod with an equal one: decoding gives each pod its own for its
// priority, grace period, preemption policy… kind keeps types apart.
func sharePtr[T comparable](t *interner, kind string, p *T) *T {
	if p == nil {
		return nil
	}
	key := kind + fmt.Sprint(*p)
	if s, ok := t.values[key].(*T); ok && *s == *p {
		return s
	}
	if t.full() {
		t.reset()
	}
	t.values[key] = p
	return p
}

// shareValue returns a value equal to v that t hands to every pod with
// an equal one: the containers of pods made from one template are equal
// once stripped, and so, often, are their labels, owner references and
// tolerations. Decoded, each is an allocation of its own per pod (a
// container alone is 408 bytes, a map of two labels ~350). Equal means
// the same JSON, which is how the API stores them; kind keeps slices and
// maps of different types apart. Empty values, and values whose JSON is
// long (unlikely to repeat), are returned as they are.
func shareValue[T any](t *interner, kind string, v T) T {
	rv := reflect.ValueOf(v)
	if rv.Len() == 0 {
		return v
	}
	b, err := json.Marshal(v)
	if err != nil || len(b) > internMaxValueLen {
		return v
	}
	key := kind + string(b)
	if s, ok := t.values[key].(T); ok {
		return s
	}
	if t.full() {
		t.reset()
	}
	t.values[key] = v
	return v
}

func (t *interner) intern(s string) string {
	if s == "" || len(s) > internMaxLen {
		return s
	}
	if v, ok := t.table[s]; ok {
		return v
	}
	if t.full() {
		t.reset()
	}
	t.table[s] = s
	return s
}

// resources returns a shared ResourceList equal to l.
func (t *interner) resources(l corev1.ResourceList) corev1.ResourceList {
	if len(l) == 0 {
		return l
	}
	names := make([]string, 0, len(l))
	for n := range l {
		names = append(names, string(n))
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		q := l[corev1.ResourceName(n)]
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(q.String())
		b.WriteByte(',')
	}
	key := b.String()
	if v, ok := t.lists[key]; ok {
		return v
	}
	if t.full() {
		t.reset()
	}
	t.lists[key] = l
	return l
}
