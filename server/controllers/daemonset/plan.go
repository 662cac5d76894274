package daemonset

import (
	"sort"
	"strconv"
	"time"

	"github.com/skiff-io/skiff/server/controllers/history"
	"github.com/skiff-io/skiff/server/scheduler"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TemplateGenerationLabel is the deprecated label Kubernetes still puts on
// daemon pods: the DaemonSet's generation when the pod was made.
const TemplateGenerationLabel = appsv1.DeprecatedTemplateGeneration

// nodeNameField is the field node affinity pins a daemon pod by.
const nodeNameField = "metadata.name"

// Input is what Plan decides from.
type Input struct {
	DS    *appsv1.DaemonSet
	Nodes []*corev1.Node
	// Pods are the pods the DaemonSet controls, terminating ones included.
	Pods []*corev1.Pod
	// Hash is the controller-revision-hash of the current template.
	Hash string
	Now  time.Time
	// BackingOff holds the nodes whose failed daemon pod must not be
	// replaced yet.
	BackingOff map[string]bool
}

// Plan is what the controller does next for one DaemonSet.
type Plan struct {
	// Create lists the nodes that get a new daemon pod, in name order.
	Create []string
	// Delete lists pods to delete: misplaced, surplus, or replaced by a
	// rolling update.
	Delete []*corev1.Pod
	// DeleteFailed lists failed pods to delete (and so replace); their
	// nodes start or extend their back-off.
	DeleteFailed []*corev1.Pod
	// Status is the DaemonSet's status as the pods stand now.
	Status appsv1.DaemonSetStatus
	// RequeueAfter, when positive, is when the DaemonSet must be looked at
	// again although nothing may change (a pod becoming available after
	// minReadySeconds, a back-off ending).
	RequeueAfter time.Duration
}

// NodeFit says whether a DaemonSet's pod belongs on node: ShouldRun (a new
// pod may be placed there) and ShouldContinueRunning (a pod already there
// may stay: the node only has NoSchedule taints it does not tolerate).
func NodeFit(ds *appsv1.DaemonSet, node *corev1.Node) (shouldRun, shouldContinueRunning bool) {
	pod := &corev1.Pod{Spec: *ds.Spec.Template.Spec.DeepCopy()}
	AddDaemonTolerations(&pod.Spec)
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != node.Name {
		return false, false
	}
	if !scheduler.MatchesNodeAffinity(pod, node) {
		return false, false
	}
	if scheduler.UntoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations, corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute) == nil {
		return true, true
	}
	return false, scheduler.UntoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations, corev1.TaintEffectNoExecute) == nil
}

// AddDaemonTolerations adds the tolerations Kubernetes gives every daemon
// pod, so that daemons keep running on nodes that are not ready,
// unreachable, under pressure or cordoned (and, for host-network pods,
// whose pod network is not up yet).
func AddDaemonTolerations(spec *corev1.PodSpec) {
	add := func(key string, effect corev1.TaintEffect) {
		for _, t := range spec.Tolerations {
			if t.Key == key && t.Effect == effect && t.Operator == corev1.TolerationOpExists {
				return
			}
		}
		spec.Tolerations = append(spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect})
	}
	add(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)
	add(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
	add(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)
	if spec.HostNetwork {
		add(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)
	}
}

// NewPod is the daemon pod of ds for node, made from the template with
// revision hash: pinned to node by required node affinity, with the daemon
// tolerations and a controller reference to ds.
func NewPod(ds *appsv1.DaemonSet, node, hash string) *corev1.Pod {
	t := ds.Spec.Template.DeepCopy()
	labels := make(map[string]string, len(t.Labels)+2)
	for k, v := range t.Labels {
		labels[k] = v
	}
	labels[history.HashLabel] = hash
	labels[TemplateGenerationLabel] = strconv.FormatInt(ds.Generation, 10)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    ds.Name + "-",
			Namespace:       ds.Namespace,
			Labels:          labels,
			Annotations:     t.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, appsv1.SchemeGroupVersion.WithKind("DaemonSet"))},
		},
		Spec: t.Spec,
	}
	AddDaemonTolerations(&pod.Spec)
	pinToNode(&pod.Spec, node)
	return pod
}

// pinToNode makes every required node affinity term also require the node
// name, as Kubernetes does for daemon pods since 1.12: the scheduler, not
// the controller, then binds them, respecting resources and ports.
func pinToNode(spec *corev1.PodSpec, node string) {
	pin := []corev1.NodeSelectorRequirement{{Key: nodeNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	na := spec.Affinity.NodeAffinity
	if na.RequiredDuringSchedulingIgnoredDuringExecution == nil || len(na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms) == 0 {
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: pin}}}
		return
	}
	terms := na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	for i := range terms {
		terms[i].MatchFields = pin
	}
}

// TargetNode is the node a daemon pod is on, or is pinned to while it
// waits for the scheduler.
func TargetNode(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, r := range t.MatchFields {
			if r.Key == nodeNameField && r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 {
				return r.Values[0]
			}
		}
	}
	return ""
}

// isUpdated reports whether pod was made from the current template.
func isUpdated(pod *corev1.Pod, hash string) bool {
	return pod.Labels[history.HashLabel] == hash
}

// availableIn says whether pod is available (Ready for minReadySeconds)
// at now, and if it is Ready but not yet available, how long until it is.
func availableIn(pod *corev1.Pod, minReadySeconds int32, now time.Time) (bool, time.Duration) {
	if pod.DeletionTimestamp != nil {
		return false, 0
	}
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.PodReady {
			continue
		}
		if c.Status != corev1.ConditionTrue {
			return false, 0
		}
		if minReadySeconds == 0 {
			return true, 0
		}
		left := c.LastTransitionTime.Add(time.Duration(minReadySeconds) * time.Second).Sub(now)
		if left <= 0 {
			return true, 0
		}
		return false, left
	}
	return false, 0
}

func isReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// olderFirst orders pods by creation, then name.
func olderFirst(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

// Decide computes the plan for one DaemonSet: pods to create on nodes
// without one, pods to delete (misplaced, surplus, failed, or replaced by a
// rolling update), and the status.
func Decide(in Input) Plan {
	ds := in.DS
	var p Plan
	byNode := map[string][]*corev1.Pod{}
	for _, pod := range in.Pods {
		if pod.DeletionTimestamp != nil && (pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded) {
			continue // finished and going: no longer holds the node
		}
		n := TargetNode(pod)
		byNode[n] = append(byNode[n], pod)
	}
	for _, pods := range byNode {
		olderFirst(pods)
	}
	nodes := append([]*corev1.Node(nil), in.Nodes...)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	known := map[string]bool{}
	var running []string // eligible nodes, for the rolling update
	later := func(d time.Duration) {
		if d > 0 && (p.RequeueAfter == 0 || d < p.RequeueAfter) {
			p.RequeueAfter = d
		}
	}
	surge := maxSurge(ds) > 0

	st := &p.Status
	for _, node := range nodes {
		known[node.Name] = true
		pods := byNode[node.Name]
		shouldRun, shouldContinue := NodeFit(ds, node)
		switch {
		case shouldRun && len(pods) == 0:
			p.Create = append(p.Create, node.Name)
		case shouldContinue:
			var alive []*corev1.Pod
			for _, pod := range pods {
				switch {
				case pod.DeletionTimestamp != nil:
				case pod.Status.Phase == corev1.PodFailed:
					if in.BackingOff[node.Name] {
						later(time.Second)
						continue
					}
					p.DeleteFailed = append(p.DeleteFailed, pod)
				case pod.Status.Phase == corev1.PodSucceeded:
					p.Delete = append(p.Delete, pod)
				default:
					alive = append(alive, pod)
				}
			}
			if !surge {
				// One pod per node: keep the oldest.
				if len(alive) > 1 {
					p.Delete = append(p.Delete, alive[1:]...)
				}
			} else {
				// At most one old and one updated pod: keep the oldest of each.
				var sawNew, sawOld bool
				for _, pod := range alive {
					seen := &sawOld
					if isUpdated(pod, in.Hash) {
						seen = &sawNew
					}
					if *seen {
						p.Delete = append(p.Delete, pod)
					}
					*seen = true
				}
			}
		case len(pods) > 0:
			for _, pod := range pods {
				if pod.DeletionTimestamp == nil {
					p.Delete = append(p.Delete, pod)
				}
			}
		}

		if shouldRun {
			running = append(running, node.Name)
			st.DesiredNumberScheduled++
			if len(pods) > 0 {
				st.CurrentNumberScheduled++
				pod := pods[0]
				if isReady(pod) {
					st.NumberReady++
				}
				ok, left := availableIn(pod, ds.Spec.MinReadySeconds, in.Now)
				if ok {
					st.NumberAvailable++
				}
				later(left)
				if isUpdated(pod, in.Hash) {
					st.UpdatedNumberScheduled++
				}
			}
		} else if len(pods) > 0 {
			st.NumberMisscheduled++
		}
	}
	// Pods on nodes that are gone.
	for n, pods := range byNode {
		if known[n] {
			continue
		}
		for _, pod := range pods {
			if pod.DeletionTimestamp == nil {
				p.Delete = append(p.Delete, pod)
			}
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	st.ObservedGeneration = ds.Generation
	st.CollisionCount = ds.Status.CollisionCount

	if ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType {
		p.rollingUpdate(in, byNode, running, later)
	}
	sortPods(p.Delete)
	return p
}

func sortPods(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
}

// maxSurge and maxUnavailable resolve the rolling update's bounds against
// the number of nodes that should run a pod (percentages: surge rounds
// up, unavailability down, as Kubernetes does; both zero means one
// unavailable).
func maxSurge(ds *appsv1.DaemonSet) int {
	s, _ := bounds(ds, 0)
	return s
}

func bounds(ds *appsv1.DaemonSet, desired int) (surge, unavailable int) {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
		return 0, 0
	}
	one := intstr.FromInt32(1)
	zero := intstr.FromInt32(0)
	su, un := &zero, &one
	if ru != nil {
		if ru.MaxSurge != nil {
			su = ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			un = ru.MaxUnavailable
		}
	}
	surge, _ = intstr.GetScaledValueFromIntOrPercent(su, desired, true)
	if su.Type == intstr.Int {
		surge = su.IntValue()
	}
	unavailable, _ = intstr.GetScaledValueFromIntOrPercent(un, desired, false)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

// rollingUpdate replaces old pods on the eligible nodes. Without surge it
// deletes old pods while no more than maxUnavailable nodes lack an
// available pod; with surge it starts updated pods beside old ones on up
// to maxSurge nodes and deletes each old pod once its successor is
// available.
func (p *Plan) rollingUpdate(in Input, byNode map[string][]*corev1.Pod, nodes []string, later func(time.Duration)) {
	ds := in.DS
	maxSurge, maxUnavailable := bounds(ds, int(p.Status.DesiredNumberScheduled))
	planned := map[string]bool{}
	for _, pod := range append(append([]*corev1.Pod(nil), p.Delete...), p.DeleteFailed...) {
		planned[pod.Name] = true
	}
	creating := map[string]bool{}
	for _, n := range p.Create {
		creating[n] = true
	}
	avail := func(pod *corev1.Pod) bool {
		ok, left := availableIn(pod, ds.Spec.MinReadySeconds, in.Now)
		later(left)
		return ok
	}
	var unavailable, surged int
	var now, candidates []*corev1.Pod
	var surgeNow, surgeCandidates []string
	for _, n := range nodes {
		var newPod, oldPod *corev1.Pod
		consistent := true
		for _, pod := range byNode[n] {
			if pod.DeletionTimestamp != nil || planned[pod.Name] || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
				continue
			}
			slot := &oldPod
			if isUpdated(pod, in.Hash) {
				slot = &newPod
			}
			if *slot != nil {
				consistent = false
			}
			*slot = pod
		}
		if maxSurge == 0 {
			switch {
			case !consistent || (newPod == nil && oldPod == nil) || (newPod != nil && oldPod != nil):
				unavailable++
			case newPod != nil:
				if !avail(newPod) {
					unavailable++
				}
			case !avail(oldPod):
				now = append(now, oldPod) // down anyway: replace at once
			case unavailable < maxUnavailable:
				candidates = append(candidates, oldPod)
			}
			continue
		}
		switch {
		case !consistent:
			surged++
		case oldPod == nil:
		case newPod == nil:
			switch {
			case !avail(oldPod):
				surgeNow = append(surgeNow, n)
			case surged < maxSurge:
				surgeCandidates = append(surgeCandidates, n)
			}
		case !avail(newPod):
			surged++
		default:
			now = append(now, oldPod)
		}
	}
	if maxSurge == 0 {
		left := maxUnavailable - unavailable
		if left < 0 {
			left = 0
		}
		if left > len(candidates) {
			left = len(candidates)
		}
		p.Delete = append(p.Delete, now...)
		p.Delete = append(p.Delete, candidates[:left]...)
		return
	}
	left := maxSurge - surged
	if left < 0 {
		left = 0
	}
	if left > len(surgeCandidates) {
		left = len(surgeCandidates)
	}
	p.Delete = append(p.Delete, now...)
	for _, n := range append(surgeNow, surgeCandidates[:left]...) {
		if !creating[n] {
			p.Create = append(p.Create, n)
		}
	}
	sort.Strings(p.Create)
}
