package deployment

import (
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Input is what one sync of a Deployment looks at.
type Input struct {
	Deployment *appsv1.Deployment
	// ReplicaSets are the ReplicaSets the Deployment controls.
	ReplicaSets []*appsv1.ReplicaSet
	// Pods are the pods of those ReplicaSets by ReplicaSet UID, including
	// pods being deleted (Recreate waits for them to be gone).
	Pods map[types.UID][]*corev1.Pod
	Now  time.Time
}

// Op is the kind of a ReplicaSet write.
type Op int

// The ReplicaSet writes of a plan.
const (
	// Create the ReplicaSet RS (the new ReplicaSet of a rollout).
	Create Op = iota
	// Update RS: replicas, annotations or minReadySeconds.
	Update
	// Delete RS (an old revision past revisionHistoryLimit).
	Delete
)

// Action is one ReplicaSet write. For Update, RS is the ReplicaSet as it
// should be; From and To are its replicas before and after, for the
// ScalingReplicaSet event.
type Action struct {
	Op       Op
	RS       *appsv1.ReplicaSet
	From, To int32
}

// Plan is the outcome of one sync: ReplicaSet writes in order, then the
// Deployment's annotations and status.
type Plan struct {
	Actions []Action
	// Revision is the Deployment's new deployment.kubernetes.io/revision
	// annotation, "" when unchanged.
	Revision string
	// Status is the Deployment's status after the sync.
	Status appsv1.DeploymentStatus
	// Recheck > 0 asks to look again after that long (to notice a passed
	// progress deadline).
	Recheck time.Duration
	// SelectingAll: the Deployment's selector is empty, nothing is done.
	SelectingAll bool
}

// rollout is one sync in progress: working copies that each step updates
// as the API would, and the writes they add up to.
type rollout struct {
	d       *appsv1.Deployment
	orig    *appsv1.Deployment
	rss     []*appsv1.ReplicaSet
	pods    map[types.UID][]*corev1.Pod
	now     time.Time
	actions []Action
	// index of each ReplicaSet's action by name (writes coalesce).
	index   map[string]int
	from    map[string]int32
	recheck time.Duration
}

// Decide computes one sync of in.Deployment, as the Kubernetes
// deployment controller's syncDeployment does.
func Decide(in Input) Plan {
	r := &rollout{
		d: in.Deployment.DeepCopy(), orig: in.Deployment, pods: in.Pods, now: in.Now,
		index: map[string]int{}, from: map[string]int32{},
	}
	for _, rs := range in.ReplicaSets {
		r.rss = append(r.rss, rs.DeepCopy())
	}
	d := r.d
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		st := d.Status
		if st.ObservedGeneration < d.Generation {
			st.ObservedGeneration = d.Generation
		}
		return Plan{SelectingAll: true, Status: st}
	}
	if d.DeletionTimestamp != nil {
		newRS, olds := r.replicaSets(false)
		r.syncStatus(append(olds, newRS), newRS)
	} else {
		r.checkPaused()
		switch {
		case d.Spec.Paused, r.isScalingEvent():
			r.sync()
		case d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType:
			r.recreate()
		default:
			r.rolling()
		}
	}
	p := Plan{Actions: r.actions, Status: d.Status, Recheck: r.recheck}
	if rev := d.Annotations[RevisionAnnotation]; rev != r.orig.Annotations[RevisionAnnotation] {
		p.Revision = rev
	}
	for i := range p.Actions {
		if a := &p.Actions[i]; a.Op != Delete {
			a.From, a.To = r.from[a.RS.Name], replicas(a.RS.Spec.Replicas)
		}
	}
	return p
}

// write records that rs (a working copy) is to be created or updated.
func (r *rollout) write(op Op, rs *appsv1.ReplicaSet, from int32) {
	if i, ok := r.index[rs.Name]; ok {
		r.actions[i].RS = rs
		return
	}
	r.index[rs.Name] = len(r.actions)
	r.from[rs.Name] = from
	r.actions = append(r.actions, Action{Op: op, RS: rs})
}

func (r *rollout) setStatusCondition(c appsv1.DeploymentCondition) { setCondition(&r.d.Status, c) }

// checkPaused sets Progressing to DeploymentPaused or DeploymentResumed
// when pause changes (unless the deadline already passed).
func (r *rollout) checkPaused() {
	d := r.d
	if !hasProgressDeadline(d) {
		return
	}
	c := getCondition(&d.Status, appsv1.DeploymentProgressing)
	if c != nil && c.Reason == ReasonTimedOut {
		return
	}
	pausedCond := c != nil && c.Reason == ReasonPaused
	switch {
	case d.Spec.Paused && !pausedCond:
		r.setStatusCondition(newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonPaused, "Deployment is paused", r.now))
	case !d.Spec.Paused && pausedCond:
		r.setStatusCondition(newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonResumed, "Deployment is resumed", r.now))
	}
}

// findNew returns the oldest ReplicaSet whose template is the
// Deployment's, and the others.
func (r *rollout) findNew() (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	all := append([]*appsv1.ReplicaSet(nil), r.rss...)
	sortByCreation(all)
	var newRS *appsv1.ReplicaSet
	var olds []*appsv1.ReplicaSet
	for _, rs := range all {
		if newRS == nil && EqualIgnoreHash(&rs.Spec.Template, &r.d.Spec.Template) {
			newRS = rs
			continue
		}
		olds = append(olds, rs)
	}
	return newRS, olds
}

// replicaSets returns the new ReplicaSet (creating it when create is set
// and there is none) and the old ones, and brings the new one's revision
// and the Deployment's up to date.
func (r *rollout) replicaSets(create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	d := r.d
	existing, olds := r.findNew()
	newRevision := strconv.FormatInt(maxRevision(olds)+1, 10)
	if existing != nil {
		from := replicas(existing.Spec.Replicas)
		changed := setNewRSAnnotations(d, existing, newRevision, true)
		if existing.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			existing.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			changed = true
		}
		if changed {
			r.write(Update, existing, from)
		}
		r.setRevision(existing.Annotations[RevisionAnnotation])
		if getCondition(&d.Status, appsv1.DeploymentProgressing) == nil {
			r.setStatusCondition(newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonFoundNewRS,
				fmt.Sprintf("Found new replica set %q", existing.Name), r.now))
		}
		return existing, olds
	}
	if !create {
		return nil, olds
	}
	hash := ComputeHash(&d.Spec.Template, d.Status.CollisionCount)
	tmpl := d.Spec.Template.DeepCopy()
	tmpl.Labels = withLabel(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	sel := d.Spec.Selector.DeepCopy()
	sel.MatchLabels = withLabel(sel.MatchLabels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	yes := true
	zero := int32(0)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + hash, Namespace: d.Namespace, Labels: tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "Deployment",
				Name: d.Name, UID: d.UID, Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &zero, MinReadySeconds: d.Spec.MinReadySeconds, Selector: sel, Template: *tmpl},
	}
	n := newRSReplicas(d, append(append([]*appsv1.ReplicaSet(nil), olds...), rs), rs)
	rs.Spec.Replicas = &n
	setNewRSAnnotations(d, rs, newRevision, false)
	r.rss = append(r.rss, rs)
	r.write(Create, rs, 0)
	r.setRevision(newRevision)
	r.setStatusCondition(newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSCreated,
		fmt.Sprintf("Created new replica set %q", rs.Name), r.now))
	return rs, olds
}

func withLabel(in map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(in)+1)
	for a, b := range in {
		out[a] = b
	}
	out[k] = v
	return out
}

func (r *rollout) setRevision(rev string) {
	if rev == "" || r.d.Annotations[RevisionAnnotation] == rev {
		return
	}
	if r.d.Annotations == nil {
		r.d.Annotations = map[string]string{}
	}
	r.d.Annotations[RevisionAnnotation] = rev
}

// newRSReplicas is how many replicas the new ReplicaSet may have now.
func newRSReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	want := replicas(d.Spec.Replicas)
	if !isRollingUpdate(d) {
		return want
	}
	cur := specReplicas(all)
	maxTotal := want + MaxSurge(d)
	if cur >= maxTotal {
		return replicas(newRS.Spec.Replicas)
	}
	up := min(maxTotal-cur, want-replicas(newRS.Spec.Replicas))
	return replicas(newRS.Spec.Replicas) + up
}

// scaleRS sets rs's replicas to n (and the replicas annotations); it
// reports whether the size changed.
func (r *rollout) scaleRS(rs *appsv1.ReplicaSet, n int32) bool {
	d := r.d
	want := replicas(d.Spec.Replicas)
	from := replicas(rs.Spec.Replicas)
	sizeChange := from != n
	if !sizeChange && !replicasAnnotationsNeedUpdate(rs, want, want+MaxSurge(d)) {
		return false
	}
	rs.Spec.Replicas = &n
	setReplicasAnnotations(rs, want, want+MaxSurge(d))
	r.write(Update, rs, from)
	return sizeChange
}

func (r *rollout) scaleRSIfNeeded(rs *appsv1.ReplicaSet, n int32) bool {
	if replicas(rs.Spec.Replicas) == n {
		return false
	}
	return r.scaleRS(rs, n)
}

// isScalingEvent reports whether spec.replicas changed since the active
// ReplicaSets were last sized (their desired-replicas annotation).
func (r *rollout) isScalingEvent() bool {
	newRS, olds := r.replicaSets(false)
	for _, rs := range active(append(olds, newRS)) {
		if desired, ok := intAnnotation(rs, DesiredReplicasAnnotation); ok && desired != replicas(r.d.Spec.Replicas) {
			return true
		}
	}
	return false
}

// sync scales (a scaling event, or a paused Deployment) without rolling.
func (r *rollout) sync() {
	newRS, olds := r.replicaSets(false)
	r.scale(newRS, olds)
	if r.d.Spec.Paused {
		r.cleanup(olds)
	}
	r.syncStatus(append(olds, newRS), newRS)
}

// scale sizes the ReplicaSets for spec.replicas; during a rollout the
// change is spread over them in proportion to their size.
func (r *rollout) scale(newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) {
	d := r.d
	want := replicas(d.Spec.Replicas)
	if one := activeOrLatest(newRS, olds); one != nil {
		if replicas(one.Spec.Replicas) != want {
			r.scaleRSIfNeeded(one, want)
		}
		return
	}
	if saturated(d, newRS) {
		for _, old := range active(olds) {
			r.scaleRSIfNeeded(old, 0)
		}
		return
	}
	if !isRollingUpdate(d) {
		return
	}
	all := active(append(append([]*appsv1.ReplicaSet(nil), olds...), newRS))
	allowed := int32(0)
	if want > 0 {
		allowed = want + MaxSurge(d)
	}
	toAdd := allowed - specReplicas(all)
	switch {
	case toAdd > 0:
		sortBySize(all, true)
	case toAdd < 0:
		sortBySize(all, false)
	}
	added := int32(0)
	size := map[string]int32{}
	for _, rs := range all {
		size[rs.Name] = replicas(rs.Spec.Replicas)
		if toAdd != 0 {
			p := proportion(rs, d, toAdd, added)
			size[rs.Name] += p
			added += p
		}
	}
	for i, rs := range all {
		if i == 0 && toAdd != 0 {
			size[rs.Name] = max(0, size[rs.Name]+toAdd-added)
		}
		r.scaleRS(rs, size[rs.Name])
	}
}

func activeOrLatest(newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(olds) == 0 {
		return nil
	}
	sorted := append([]*appsv1.ReplicaSet(nil), olds...)
	sortByCreation(sorted)
	for i, j := 0, len(sorted)-1; i < j; i, j = i+1, j-1 {
		sorted[i], sorted[j] = sorted[j], sorted[i]
	}
	act := active(append(append([]*appsv1.ReplicaSet(nil), sorted...), newRS))
	switch len(act) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return sorted[0]
	case 1:
		return act[0]
	}
	return nil
}

func saturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := intAnnotation(rs, DesiredReplicasAnnotation)
	want := replicas(d.Spec.Replicas)
	return ok && replicas(rs.Spec.Replicas) == want && desired == want && rs.Status.AvailableReplicas == want
}

// proportion is rs's share of toAdd replicas, from the size it was given
// for the Deployment's previous maximum (its max-replicas annotation).
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rs == nil || replicas(rs.Spec.Replicas) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	var fraction int32
	if replicas(d.Spec.Replicas) == 0 {
		fraction = -replicas(rs.Spec.Replicas)
	} else {
		dReplicas := replicas(d.Spec.Replicas) + MaxSurge(d)
		annotated, ok := intAnnotation(rs, MaxReplicasAnnotation)
		if !ok || annotated == 0 {
			annotated = d.Status.Replicas
		}
		if annotated == 0 {
			return 0
		}
		fraction = roundToInt32(float64(replicas(rs.Spec.Replicas)*dReplicas)/float64(annotated)) - replicas(rs.Spec.Replicas)
	}
	allowed := toAdd - added
	if toAdd > 0 {
		return min(fraction, allowed)
	}
	return max(fraction, allowed)
}

// rolling is one step of a RollingUpdate: scale the new ReplicaSet up as
// far as maxSurge allows, else the old ones down as far as
// maxUnavailable allows, then clean up and report.
func (r *rollout) rolling() {
	newRS, olds := r.replicaSets(true)
	all := append(append([]*appsv1.ReplicaSet(nil), olds...), newRS)
	if r.reconcileNew(all, newRS) {
		r.syncRolloutStatus(all, newRS)
		return
	}
	if r.reconcileOld(all, active(olds), newRS) {
		r.syncRolloutStatus(all, newRS)
		return
	}
	if st := r.calculateStatus(all, newRS); complete(r.d, &st) {
		r.cleanup(olds)
	}
	r.syncRolloutStatus(all, newRS)
}

func (r *rollout) reconcileNew(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) bool {
	want := replicas(r.d.Spec.Replicas)
	cur := replicas(newRS.Spec.Replicas)
	switch {
	case cur == want:
		return false
	case cur > want:
		return r.scaleRSIfNeeded(newRS, want)
	}
	return r.scaleRSIfNeeded(newRS, newRSReplicas(r.d, all, newRS))
}

func (r *rollout) reconcileOld(all, olds []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) bool {
	if specReplicas(olds) == 0 {
		return false
	}
	d := r.d
	minAvailable := replicas(d.Spec.Replicas) - MaxUnavailable(d)
	newUnavailable := replicas(newRS.Spec.Replicas) - newRS.Status.AvailableReplicas
	maxScaledDown := specReplicas(all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false
	}
	// Unhealthy old replicas go first: removing them costs no
	// availability.
	sortByCreation(olds)
	cleaned := int32(0)
	for _, rs := range olds {
		if cleaned >= maxScaledDown {
			break
		}
		n := replicas(rs.Spec.Replicas)
		if n == 0 || n == rs.Status.AvailableReplicas {
			continue
		}
		down := min(maxScaledDown-cleaned, n-rs.Status.AvailableReplicas)
		if down <= 0 {
			continue
		}
		r.scaleRSIfNeeded(rs, n-down)
		cleaned += down
	}
	// Then healthy ones, as far as availability allows. A ReplicaSet
	// counts at most its spec's pods: right after a scale-down its status
	// still counts the pods its controller is deleting, and trusting it
	// would let the next sync take the Deployment below maxUnavailable.
	available := int32(0)
	for _, rs := range all {
		if rs != nil {
			available += min(rs.Status.AvailableReplicas, replicas(rs.Spec.Replicas))
		}
	}
	scaled := int32(0)
	if available > minAvailable {
		total := available - minAvailable
		for _, rs := range olds {
			if scaled >= total {
				break
			}
			n := replicas(rs.Spec.Replicas)
			if n == 0 {
				continue
			}
			down := min(n, total-scaled)
			r.scaleRSIfNeeded(rs, n-down)
			scaled += down
		}
	}
	return cleaned+scaled > 0
}

// recreate is one step of a Recreate rollout: every old pod is gone
// before the new ReplicaSet is scaled up.
func (r *rollout) recreate() {
	newRS, olds := r.replicaSets(false)
	all := append(append([]*appsv1.ReplicaSet(nil), olds...), newRS)
	scaledDown := false
	for _, rs := range active(olds) {
		if r.scaleRSIfNeeded(rs, 0) {
			scaledDown = true
		}
	}
	if scaledDown || r.oldPodsRunning(newRS, olds) {
		r.syncRolloutStatus(all, newRS)
		return
	}
	if newRS == nil {
		newRS, olds = r.replicaSets(true)
		all = append(append([]*appsv1.ReplicaSet(nil), olds...), newRS)
	}
	r.scaleRSIfNeeded(newRS, replicas(r.d.Spec.Replicas))
	if complete(r.d, &r.d.Status) {
		r.cleanup(olds)
	}
	r.syncRolloutStatus(all, newRS)
}

func (r *rollout) oldPodsRunning(newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) bool {
	if sumStatus(olds, actualReplicas) > 0 {
		return true
	}
	for uid, pods := range r.pods {
		if newRS != nil && newRS.UID == uid {
			continue
		}
		for _, p := range pods {
			if p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
				return true
			}
		}
	}
	return false
}

// cleanup deletes the oldest old ReplicaSets past revisionHistoryLimit
// that are scaled to zero and settled.
func (r *rollout) cleanup(olds []*appsv1.ReplicaSet) {
	d := r.d
	if !hasRevisionHistoryLimit(d) {
		return
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range olds {
		if rs != nil && rs.DeletionTimestamp == nil && rs.UID != "" {
			alive = append(alive, rs)
		}
	}
	diff := int32(len(alive)) - *d.Spec.RevisionHistoryLimit
	if diff <= 0 {
		return
	}
	sortByRevision(alive)
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || replicas(rs.Spec.Replicas) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		if _, written := r.index[rs.Name]; written {
			continue
		}
		r.index[rs.Name] = len(r.actions)
		r.actions = append(r.actions, Action{Op: Delete, RS: rs})
	}
}

// calculateStatus is the Deployment's status from its ReplicaSets,
// keeping its conditions and updating Available.
func (r *rollout) calculateStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) appsv1.DeploymentStatus {
	d := r.d
	available := sumStatus(all, availableReplicas)
	unavailable := max(0, specReplicas(all)-available)
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            sumStatus(all, actualReplicas),
		UpdatedReplicas:     sumStatus([]*appsv1.ReplicaSet{newRS}, actualReplicas),
		ReadyReplicas:       sumStatus(all, readyReplicas),
		AvailableReplicas:   available,
		UnavailableReplicas: unavailable,
		CollisionCount:      d.Status.CollisionCount,
		TerminatingReplicas: d.Status.TerminatingReplicas,
	}
	st.Conditions = append(st.Conditions, d.Status.Conditions...)
	if available >= replicas(d.Spec.Replicas)-MaxUnavailable(d) {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, ReasonMinimumAvailable, "Deployment has minimum availability.", r.now))
	} else {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, ReasonMinimumUnavailable, "Deployment does not have minimum availability.", r.now))
	}
	return st
}

// syncStatus reports status without judging progress (scaling, paused,
// being deleted).
func (r *rollout) syncStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) {
	r.d.Status = r.calculateStatus(all, newRS)
}

// syncRolloutStatus reports status and judges the rollout's progress
// against progressDeadlineSeconds.
func (r *rollout) syncRolloutStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) {
	d := r.d
	st := r.calculateStatus(all, newRS)
	if !hasProgressDeadline(d) {
		removeCondition(&st, appsv1.DeploymentProgressing)
	}
	cur := getCondition(&d.Status, appsv1.DeploymentProgressing)
	done := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == ReasonNewRSAvailable
	if hasProgressDeadline(d) && !done {
		switch {
		case complete(d, &st):
			msg := fmt.Sprintf("Deployment %q has successfully progressed.", d.Name)
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q has successfully progressed.", newRS.Name)
			}
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSAvailable, msg, r.now))
		case progressing(d, &st):
			msg := fmt.Sprintf("Deployment %q is progressing.", d.Name)
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q is progressing.", newRS.Name)
			}
			c := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, msg, r.now)
			if cur != nil {
				if cur.Status == corev1.ConditionTrue {
					c.LastTransitionTime = cur.LastTransitionTime
				}
				removeCondition(&st, appsv1.DeploymentProgressing)
			}
			setCondition(&st, c)
		case timedOut(d, &st, r.now):
			msg := fmt.Sprintf("Deployment %q has timed out progressing.", d.Name)
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q has timed out progressing.", newRS.Name)
			}
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonTimedOut, msg, r.now))
		}
	}
	if f := replicaFailure(all, newRS); f != nil {
		setCondition(&st, *f)
	} else {
		removeCondition(&st, appsv1.DeploymentReplicaFailure)
	}
	// A rollout still under way is looked at again when its deadline
	// passes, even if nothing else happens.
	if c := getCondition(&st, appsv1.DeploymentProgressing); hasProgressDeadline(d) && c != nil &&
		!complete(d, &st) && c.Reason != ReasonTimedOut {
		after := c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(r.now)
		r.recheck = max(after, 0) + time.Second
	}
	d.Status = st
}

// replicaFailure is the new ReplicaSet's ReplicaFailure condition, else
// the first of an old one's, as a Deployment condition.
func replicaFailure(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) *appsv1.DeploymentCondition {
	for _, set := range [][]*appsv1.ReplicaSet{{newRS}, all} {
		for _, rs := range set {
			if rs == nil {
				continue
			}
			for _, c := range rs.Status.Conditions {
				if c.Type == appsv1.ReplicaSetReplicaFailure {
					return &appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: c.Status,
						Reason: c.Reason, Message: c.Message, LastUpdateTime: c.LastTransitionTime, LastTransitionTime: c.LastTransitionTime}
				}
			}
		}
	}
	return nil
}

// Claim splits the ReplicaSets of d's namespace into those d controls
// and matches, the orphans it matches (to adopt) and those it controls
// but no longer matches (to release).
func Claim(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) (owned, adopt, release []*appsv1.ReplicaSet) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil, nil, nil
	}
	for _, rs := range rss {
		matches := sel.Matches(labels.Set(rs.Labels))
		ref := metav1.GetControllerOfNoCopy(rs)
		switch {
		case ref != nil && ref.UID == d.UID:
			if matches {
				owned = append(owned, rs)
			} else if d.DeletionTimestamp == nil {
				release = append(release, rs)
			}
		case ref == nil && matches && d.DeletionTimestamp == nil && rs.DeletionTimestamp == nil:
			adopt = append(adopt, rs)
			owned = append(owned, rs)
		}
	}
	return owned, adopt, release
}
