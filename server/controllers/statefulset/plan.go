package statefulset

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/skiff-io/skiff/server/controllers/history"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Labels Kubernetes puts on a StatefulSet's pods.
const (
	PodNameLabel  = appsv1.StatefulSetPodNameLabel // statefulset.kubernetes.io/pod-name
	PodIndexLabel = appsv1.PodIndexLabel           // apps.kubernetes.io/pod-index
)

var kind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// Revision is one of the set's templates and the name of its
// ControllerRevision (the pods' controller-revision-hash label).
type Revision struct {
	Name     string
	Template *corev1.PodTemplateSpec
}

// Input is what Decide decides from.
type Input struct {
	Set *appsv1.StatefulSet
	// Pods are the pods the set controls, terminating ones included.
	Pods []*corev1.Pod
	// Claims are the set's namespace's claims, by name.
	Claims map[string]*corev1.PersistentVolumeClaim
	// Current is the revision of status.currentRevision (Update when the
	// set has none yet), Update the revision of spec.template.
	Current, Update Revision
	Now             time.Time
}

// ActionKind says what an Action does.
type ActionKind int

// The kinds of Action, in the order Decide may return them.
const (
	// CreateClaim creates Action.Claim.
	CreateClaim ActionKind = iota
	// CreatePod creates Action.Pod.
	CreatePod
	// DeletePod deletes Action.Pod.
	DeletePod
	// SetClaimOwners replaces the owner references of Action.Claim with
	// Action.Claim.OwnerReferences.
	SetClaimOwners
)

func (k ActionKind) String() string {
	return [...]string{"CreateClaim", "CreatePod", "DeletePod", "SetClaimOwners"}[k]
}

// Action is one write.
type Action struct {
	Kind  ActionKind
	Pod   *corev1.Pod
	Claim *corev1.PersistentVolumeClaim
	// PodName, for claim actions, is the pod the claim is for.
	PodName string
}

func (a Action) String() string {
	if a.Claim != nil {
		return a.Kind.String() + " " + a.Claim.Name
	}
	return a.Kind.String() + " " + a.Pod.Name
}

// Plan is what the controller does next for one set.
type Plan struct {
	// Actions run in order; a failed one stops the rest.
	Actions []Action
	Status  appsv1.StatefulSetStatus
	// RequeueAfter, when positive, is when to look again although no
	// event may come (a pod becoming available after minReadySeconds).
	RequeueAfter time.Duration
}

// PodName is the name of the set's pod of ordinal.
func PodName(set *appsv1.StatefulSet, ordinal int) string {
	return set.Name + "-" + strconv.Itoa(ordinal)
}

// ClaimName is the name of the claim of template for the set's pod of
// ordinal.
func ClaimName(template string, set *appsv1.StatefulSet, ordinal int) string {
	return template + "-" + PodName(set, ordinal)
}

// ordinalOf parses the ordinal of a pod of set from its name; -1 if the
// name is not one of the set's.
func ordinalOf(set *appsv1.StatefulSet, pod *corev1.Pod) int {
	rest, ok := strings.CutPrefix(pod.Name, set.Name+"-")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return -1
	}
	return n
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

func replicas(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas != nil {
		return int(*set.Spec.Replicas)
	}
	return 1
}

// NewPod is the set's pod of ordinal from rev.
func NewPod(set *appsv1.StatefulSet, rev Revision, ordinal int) *corev1.Pod {
	t := rev.Template.DeepCopy()
	name := PodName(set, ordinal)
	labels := make(map[string]string, len(t.Labels)+3)
	for k, v := range t.Labels {
		labels[k] = v
	}
	labels[PodNameLabel] = name
	labels[PodIndexLabel] = strconv.Itoa(ordinal)
	labels[history.HashLabel] = rev.Name
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       set.Namespace,
			Labels:          labels,
			Annotations:     t.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, kind)},
		},
		Spec: t.Spec,
	}
	pod.Spec.Hostname = name
	pod.Spec.Subdomain = set.Spec.ServiceName
	for _, ct := range set.Spec.VolumeClaimTemplates {
		vol := corev1.Volume{Name: ct.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: ClaimName(ct.Name, set, ordinal)}}}
		replaced := false
		for i := range pod.Spec.Volumes {
			if pod.Spec.Volumes[i].Name == ct.Name {
				pod.Spec.Volumes[i] = vol
				replaced = true
			}
		}
		if !replaced {
			pod.Spec.Volumes = append(pod.Spec.Volumes, vol)
		}
	}
	return pod
}

// NewClaim is the claim of template ct for the set's pod of ordinal,
// without owner references (ClaimOwners gives them).
func NewClaim(set *appsv1.StatefulSet, ct *corev1.PersistentVolumeClaim, ordinal int) *corev1.PersistentVolumeClaim {
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:        ClaimName(ct.Name, set, ordinal),
			Namespace:   set.Namespace,
			Labels:      map[string]string{},
			Annotations: ct.Annotations,
		},
		Spec: *ct.Spec.DeepCopy(),
	}
	for k, v := range ct.Labels {
		claim.Labels[k] = v
	}
	if set.Spec.Selector != nil {
		for k, v := range set.Spec.Selector.MatchLabels {
			claim.Labels[k] = v
		}
	}
	return claim
}

// ClaimOwners are the owner references a claim of the set's pod should
// carry under persistentVolumeClaimRetentionPolicy, keeping references to
// anything else: the set when whenDeleted is Delete (and the pod is in
// range), the pod when whenScaled is Delete and the pod is scaled away.
// pod may be nil (not created yet).
func ClaimOwners(set *appsv1.StatefulSet, claim *corev1.PersistentVolumeClaim, pod *corev1.Pod, inRange bool) []metav1.OwnerReference {
	whenDeleted, whenScaled := appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	if p := set.Spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		if p.WhenDeleted != "" {
			whenDeleted = p.WhenDeleted
		}
		if p.WhenScaled != "" {
			whenScaled = p.WhenScaled
		}
	}
	const del = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	wantSet := whenDeleted == del && (inRange || whenScaled != del)
	wantPod := pod != nil && whenScaled == del && !inRange
	var out []metav1.OwnerReference
	for _, r := range claim.OwnerReferences {
		if r.UID == set.UID || (pod != nil && r.UID == pod.UID) {
			continue
		}
		if r.Kind == "Pod" && r.APIVersion == "v1" && pod != nil && r.Name == pod.Name {
			continue // a stale reference to an earlier pod of this ordinal
		}
		out = append(out, r)
	}
	if wantSet {
		out = append(out, metav1.OwnerReference{APIVersion: kind.GroupVersion().String(), Kind: kind.Kind, Name: set.Name, UID: set.UID})
	}
	if wantPod {
		out = append(out, metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID})
	}
	return out
}

func sameOwners(a, b []metav1.OwnerReference) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(r metav1.OwnerReference) string { return string(r.UID) + "/" + r.Kind + "/" + r.Name }
	seen := map[string]int{}
	for _, r := range a {
		seen[key(r)]++
	}
	for _, r := range b {
		if seen[key(r)] == 0 {
			return false
		}
		seen[key(r)]--
	}
	return true
}

func terminating(pod *corev1.Pod) bool { return pod.DeletionTimestamp != nil }

func finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded
}

func runningAndReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning || terminating(pod) {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// availableIn says whether a running and ready pod has been ready for
// minReadySeconds at now, and if not, how long until it has.
func availableIn(pod *corev1.Pod, minReadySeconds int32, now time.Time) (bool, time.Duration) {
	if !runningAndReady(pod) {
		return false, 0
	}
	if minReadySeconds == 0 {
		return true, 0
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			left := c.LastTransitionTime.Add(time.Duration(minReadySeconds) * time.Second).Sub(now)
			if left <= 0 {
				return true, 0
			}
			return false, left
		}
	}
	return false, 0
}

// Decide computes the next writes for one set and its status.
func Decide(in Input) Plan {
	set := in.Set
	var p Plan
	later := func(d time.Duration) {
		if d > 0 && (p.RequeueAfter == 0 || d < p.RequeueAfter) {
			p.RequeueAfter = d
		}
	}
	start, n := startOrdinal(set), replicas(set)
	monotonic := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	minReady := set.Spec.MinReadySeconds
	available := func(pod *corev1.Pod) bool {
		ok, left := availableIn(pod, minReady, in.Now)
		later(left)
		return ok
	}

	slots := make([]*corev1.Pod, n)
	var condemned []*corev1.Pod
	for _, pod := range in.Pods {
		ord := ordinalOf(set, pod)
		switch {
		case ord < 0:
		case ord >= start && ord < start+n:
			slots[ord-start] = pod
		default:
			condemned = append(condemned, pod)
		}
	}
	// Highest ordinal first.
	sort.Slice(condemned, func(i, j int) bool { return ordinalOf(set, condemned[i]) > ordinalOf(set, condemned[j]) })

	// Status, from the pods as they are.
	st := &p.Status
	st.ObservedGeneration = set.Generation
	st.CollisionCount = set.Status.CollisionCount
	st.CurrentRevision, st.UpdateRevision = in.Current.Name, in.Update.Name
	for _, pod := range in.Pods {
		if ordinalOf(set, pod) < 0 {
			continue
		}
		st.Replicas++
		if runningAndReady(pod) {
			st.ReadyReplicas++
			if available(pod) {
				st.AvailableReplicas++
			}
		}
		if !terminating(pod) {
			rev := pod.Labels[history.HashLabel]
			if rev == in.Current.Name {
				st.CurrentReplicas++
			}
			if rev == in.Update.Name {
				st.UpdatedReplicas++
			}
		}
	}
	if set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType &&
		st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas && int(st.Replicas) == n {
		// The rollout is complete: the update revision is now current.
		st.CurrentRevision = st.UpdateRevision
		st.CurrentReplicas = st.UpdatedReplicas
	}

	partition := 0
	if set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType {
		if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
			partition = int(*ru.Partition)
		}
	}
	// revisionFor: new pods below the partition keep the current
	// template; the others get the update.
	revisionFor := func(ord int) Revision {
		if set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType && ord < start+partition {
			return in.Current
		}
		return in.Update
	}

	// Claims of living pods: present, and owned as the policy says.
	claimActions := func(pod *corev1.Pod, ord int, inRange bool) (acts []Action, stale bool) {
		for i := range set.Spec.VolumeClaimTemplates {
			ct := &set.Spec.VolumeClaimTemplates[i]
			name := ClaimName(ct.Name, set, ord)
			have, ok := in.Claims[name]
			if !ok {
				if !inRange {
					continue
				}
				claim := NewClaim(set, ct, ord)
				claim.OwnerReferences = ClaimOwners(set, claim, pod, inRange)
				acts = append(acts, Action{Kind: CreateClaim, Claim: claim, PodName: PodName(set, ord)})
				continue
			}
			if have.DeletionTimestamp != nil {
				stale = true
				continue
			}
			if pod == nil {
				// A claim still owned by an earlier pod of this ordinal
				// is about to be collected: wait for it.
				for _, r := range have.OwnerReferences {
					if r.Kind == "Pod" && r.APIVersion == "v1" && r.Name == PodName(set, ord) {
						stale = true
					}
				}
				continue
			}
			if owners := ClaimOwners(set, have, pod, inRange); !sameOwners(owners, have.OwnerReferences) {
				c := have.DeepCopy()
				c.OwnerReferences = owners
				acts = append(acts, Action{Kind: SetClaimOwners, Claim: c, PodName: pod.Name})
			}
		}
		return acts, stale
	}

	// Living replicas, lowest ordinal first.
	for i, pod := range slots {
		ord := start + i
		if pod == nil {
			acts, stale := claimActions(nil, ord, true)
			if stale {
				later(time.Second)
				if monotonic {
					return p
				}
				continue
			}
			p.Actions = append(p.Actions, acts...)
			p.Actions = append(p.Actions, Action{Kind: CreatePod, Pod: NewPod(set, revisionFor(ord), ord)})
			if monotonic {
				return p
			}
			continue
		}
		if finished(pod) {
			// Recreated once it is gone.
			if !terminating(pod) {
				p.Actions = append(p.Actions, Action{Kind: DeletePod, Pod: pod})
			}
			if monotonic {
				return p
			}
			continue
		}
		if !terminating(pod) {
			acts, _ := claimActions(pod, ord, true)
			p.Actions = append(p.Actions, acts...)
		}
		if monotonic && (terminating(pod) || !runningAndReady(pod) || !available(pod)) {
			return p
		}
	}

	// Scaled-away pods, highest ordinal first: their claims get the
	// policy's owners before the pod goes.
	for _, pod := range condemned {
		ord := ordinalOf(set, pod)
		if !terminating(pod) {
			acts, _ := claimActions(pod, ord, false)
			p.Actions = append(p.Actions, acts...)
		}
	}
	firstUnhealthy := firstUnhealthyPod(slots, condemned, set, in.Now)
	for _, pod := range condemned {
		if terminating(pod) {
			if monotonic {
				return p
			}
			continue
		}
		if monotonic && pod != firstUnhealthy && !available(pod) {
			return p
		}
		p.Actions = append(p.Actions, Action{Kind: DeletePod, Pod: pod})
		if monotonic {
			return p
		}
	}

	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return p
	}
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		p.Actions = append(p.Actions, rollUnavailable(in, slots, partition, available)...)
		return p
	}
	// Rolling update: replace the highest-ordinal pod not at the update
	// revision, down to the partition, one at a time, each once the ones
	// above it are healthy.
	for i := len(slots) - 1; i >= partition && i >= 0; i-- {
		pod := slots[i]
		if pod == nil {
			return p
		}
		if pod.Labels[history.HashLabel] != in.Update.Name && !terminating(pod) {
			p.Actions = append(p.Actions, Action{Kind: DeletePod, Pod: pod})
			return p
		}
		if terminating(pod) || !available(pod) {
			return p
		}
	}
	return p
}

// rollUnavailable is the rolling update with maxUnavailable (Kubernetes'
// MaxUnavailableStatefulSet): while fewer than maxUnavailable of the living
// pods are unhealthy, delete old pods from the highest ordinal down to the
// partition, as many as the difference.
func rollUnavailable(in Input, slots []*corev1.Pod, partition int, available func(*corev1.Pod) bool) []Action {
	ru := in.Set.Spec.UpdateStrategy.RollingUpdate
	maxUnavailable, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, len(slots), false)
	if err != nil || maxUnavailable < 1 {
		maxUnavailable = 1
	}
	unavailable := 0
	for _, pod := range slots {
		if pod == nil || terminating(pod) || !available(pod) {
			unavailable++
		}
	}
	var acts []Action
	for i := len(slots) - 1; i >= partition && i >= 0 && unavailable < maxUnavailable; i-- {
		pod := slots[i]
		if pod != nil && !terminating(pod) && pod.Labels[history.HashLabel] != in.Update.Name {
			acts = append(acts, Action{Kind: DeletePod, Pod: pod})
			if available(pod) {
				unavailable++
			}
		}
	}
	return acts
}

// firstUnhealthyPod is the lowest-ordinal pod, living or condemned, that
// is not running, ready and available: in OrderedReady mode only it may
// be removed while unhealthy, so a scale-down halts at an unhealthy pod
// above it, as Kubernetes' does. condemned is in descending order.
func firstUnhealthyPod(slots, condemned []*corev1.Pod, set *appsv1.StatefulSet, now time.Time) *corev1.Pod {
	for _, pod := range slots {
		if pod == nil {
			continue
		}
		if ok, _ := availableIn(pod, set.Spec.MinReadySeconds, now); !ok {
			return pod
		}
	}
	for i := len(condemned) - 1; i >= 0; i-- {
		if ok, _ := availableIn(condemned[i], set.Spec.MinReadySeconds, now); !ok {
			return condemned[i]
		}
	}
	return nil
}

// eventMessage is Kubernetes' wording of a write's Event.
func eventMessage(set *appsv1.StatefulSet, a Action, err error) (reason, message string) {
	verb, ok := "create", "SuccessfulCreate"
	if a.Kind == DeletePod {
		verb, ok = "delete", "SuccessfulDelete"
	}
	if a.Kind == SetClaimOwners {
		verb, ok = "update", "SuccessfulUpdate"
	}
	if a.Claim != nil {
		if err != nil {
			return "Failed" + strings.TrimPrefix(ok, "Successful"), fmt.Sprintf("%s Claim %s for Pod %s in StatefulSet %s failed error: %s", verb, a.Claim.Name, a.PodName, set.Name, err)
		}
		return ok, fmt.Sprintf("%s Claim %s Pod %s in StatefulSet %s success", verb, a.Claim.Name, a.PodName, set.Name)
	}
	if err != nil {
		return "Failed" + strings.TrimPrefix(ok, "Successful"), fmt.Sprintf("%s Pod %s in StatefulSet %s failed error: %s", verb, a.Pod.Name, set.Name, err)
	}
	return ok, fmt.Sprintf("%s Pod %s in StatefulSet %s successful", verb, a.Pod.Name, set.Name)
}
