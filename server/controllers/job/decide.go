package job

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Back-off between re-creations after pod failures, kube's: 10 s for the
// first failure, doubling with each further one, at most 6 minutes.
const (
	DefaultBackoff = 10 * time.Second
	MaxBackoff     = 6 * time.Minute
)

const (
	// maxPodsPerSync bounds the pods one pass creates or deletes (kube's).
	maxPodsPerSync = 500
	// maxGeneratedNameLength leaves room for the 5 random characters the
	// API server appends to a generateName.
	maxGeneratedNameLength = 63 - 5
	completionIndexEnv     = "JOB_COMPLETION_INDEX"
	defaultBackoffLimit    = 6
)

// Messages of the conditions kube sets.
const (
	msgCompletions     = "Reached expected number of succeeded pods"
	msgBackoffLimit    = "Job has reached the specified backoff limit"
	msgDeadline        = "Job was active longer than specified deadline"
	msgMaxFailedIndex  = "Job has exceeded the specified maximal number of failed indexes"
	msgFailedIndexes   = "Job has failed indexes"
	reasonSuspended    = "JobSuspended"
	reasonResumed      = "JobResumed"
	msgSuspended       = "Job suspended"
	msgResumed         = "Job resumed"
	eventCompleted     = "Completed"
	eventCompletedText = "Job completed"
)

var jobKind = batchv1.SchemeGroupVersion.WithKind("Job")

// Input is what Decide reads.
type Input struct {
	Job *batchv1.Job
	// Pods are the pods whose controller is Job (by UID), in any state.
	Pods []*corev1.Pod
	Now  time.Time
	// Settled reports that every pod the controller created or deleted
	// for this Job already shows in Pods. Until it does, Decide creates and
	// deletes nothing and declares nothing finished, so that a cache that
	// lags behind the controller's own writes cannot make it act twice.
	Settled bool
}

// Event is an Event to record about the Job.
type Event struct{ Type, Reason, Message string }

// Decision is what Decide wants done, in this order: Delete and Create,
// then write Status, then (only once Status is stored) Release.
type Decision struct {
	// Create are new pods (with generateName) to create.
	Create []*corev1.Pod
	// Delete are active pods to delete. Their tracking finalizer is
	// removed first: pods the controller deletes are not failures.
	Delete []*corev1.Pod
	// Status is the Job's new status; it assumes Create and Delete succeed.
	Status batchv1.JobStatus
	// Release are pods whose tracking finalizer is to be removed once
	// Status is written: their UIDs are in Status.UncountedTerminatedPods
	// (or they do not count at all).
	Release []*corev1.Pod
	// Requeue, when positive, asks to look at the Job again after this
	// long (active deadline, back-off).
	Requeue time.Duration
	// Events are to be recorded once Status is written.
	Events []Event
}

// finish is how the Job ends, once that is decided.
type finish struct {
	failed          bool
	reason, message string
}

// Decide computes one pass of the Job controller over a Job that is not
// being deleted and that this controller manages.
func Decide(in Input) Decision {
	job, now := in.Job, in.Now
	var d Decision
	st := *job.Status.DeepCopy()
	if _, _, done := Finished(job); done {
		for _, p := range in.Pods {
			if hasFinalizer(p) {
				d.Release = append(d.Release, p)
			}
		}
		d.Status = st
		return d
	}
	mnow := metav1.NewTime(now)
	suspended := job.Spec.Suspend != nil && *job.Spec.Suspend
	if st.StartTime == nil && !suspended {
		st.StartTime = &mnow
	}
	indexed := IsIndexed(job)
	completions := -1
	if job.Spec.Completions != nil {
		completions = int(*job.Spec.Completions)
	}
	parallelism := 1
	if job.Spec.Parallelism != nil {
		parallelism = int(*job.Spec.Parallelism)
	}
	backoffLimit := int32(defaultBackoffLimit)
	if job.Spec.BackoffLimit != nil {
		backoffLimit = *job.Spec.BackoffLimit
	}
	perIndex := indexed && job.Spec.BackoffLimitPerIndex != nil
	onlyFailed := job.Spec.PodReplacementPolicy != nil && *job.Spec.PodReplacementPolicy == batchv1.Failed

	byUID := make(map[types.UID]*corev1.Pod, len(in.Pods))
	for _, p := range in.Pods {
		byUID[p.UID] = p
	}
	var completed, failedIx indexSet
	if indexed {
		completed = parseIndexes(st.CompletedIndexes, completions)
	}
	if perIndex && st.FailedIndexes != nil {
		failedIx = parseIndexes(*st.FailedIndexes, completions)
	} else {
		failedIx = indexSet{}
	}

	// Pods already in uncountedTerminatedPods: counted for good once
	// their finalizer is gone, released (again) while it is not.
	var uSucc, uFail []types.UID
	seen := map[types.UID]bool{}
	if u := st.UncountedTerminatedPods; u != nil {
		for _, uid := range u.Succeeded {
			seen[uid] = true
			if p := byUID[uid]; p != nil && hasFinalizer(p) {
				uSucc = append(uSucc, uid)
				d.Release = append(d.Release, p)
			} else if !indexed {
				st.Succeeded++
			}
		}
		for _, uid := range u.Failed {
			seen[uid] = true
			if p := byUID[uid]; p != nil && hasFinalizer(p) {
				uFail = append(uFail, uid)
				d.Release = append(d.Release, p)
			} else {
				st.Failed++
			}
		}
	}

	// Pods newly finished: into uncountedTerminatedPods, then released.
	var failJobMessage string
	for _, p := range byFinishTime(in.Pods, now) {
		if !hasFinalizer(p) || seen[p.UID] {
			continue
		}
		ix := podIndex(p)
		validIndex := ix >= 0 && ix < completions
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			d.Release = append(d.Release, p)
			if indexed {
				if !validIndex {
					continue
				}
				completed.add(ix)
			}
			uSucc = append(uSucc, p.UID)
		case podFailed(p, onlyFailed):
			d.Release = append(d.Release, p)
			if indexed && !validIndex {
				continue
			}
			action, msg := matchFailurePolicy(job.Spec.PodFailurePolicy, p)
			if action != nil {
				switch *action {
				case batchv1.PodFailurePolicyActionIgnore:
					continue
				case batchv1.PodFailurePolicyActionFailJob:
					if failJobMessage == "" {
						failJobMessage = msg
					}
				}
			}
			if perIndex && !completed.has(ix) {
				if (action != nil && *action == batchv1.PodFailurePolicyActionFailIndex) ||
					annotationInt(p, batchv1.JobIndexFailureCountAnnotation)+1 > int(*job.Spec.BackoffLimitPerIndex) {
					failedIx.add(ix)
				}
			}
			uFail = append(uFail, p.UID)
		}
	}
	succeeded := int(st.Succeeded) + len(uSucc)
	if indexed {
		succeeded = len(completed)
	}
	failed := int(st.Failed) + len(uFail)
	failedNotCompleted := 0
	for ix := range failedIx {
		if !completed.has(ix) {
			failedNotCompleted++
		}
	}

	var active []*corev1.Pod
	terminating, ready := 0, 0
	for _, p := range in.Pods {
		switch {
		case isFinished(p):
		case p.DeletionTimestamp != nil:
			terminating++
		default:
			active = append(active, p)
			if podReady(p) {
				ready++
			}
		}
	}

	// How the Job ends, if it does.
	var fin *finish
	var requeue []time.Duration
	if c := condition(&st, batchv1.JobFailureTarget); c != nil {
		fin = &finish{true, c.Reason, c.Message}
	} else if c := condition(&st, batchv1.JobSuccessCriteriaMet); c != nil {
		fin = &finish{false, c.Reason, c.Message}
	} else if failJobMessage != "" {
		fin = &finish{true, batchv1.JobReasonPodFailurePolicy, failJobMessage}
	} else if failed > int(backoffLimit) || pastBackoffLimitOnFailure(job, active, backoffLimit) {
		fin = &finish{true, batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimit}
	} else if left, ok := deadlineLeft(job, &st, suspended, now); ok && left <= 0 {
		fin = &finish{true, batchv1.JobReasonDeadlineExceeded, msgDeadline}
	} else if perIndex && job.Spec.MaxFailedIndexes != nil && len(failedIx) > int(*job.Spec.MaxFailedIndexes) {
		fin = &finish{true, batchv1.JobReasonMaxFailedIndexesExceeded, msgMaxFailedIndex}
	} else if perIndex && failedNotCompleted > 0 && len(completed)+failedNotCompleted >= completions {
		fin = &finish{true, batchv1.JobReasonFailedIndexes, msgFailedIndexes}
	} else if msg, met := matchSuccessPolicy(job.Spec.SuccessPolicy, completions, completed); indexed && met {
		fin = &finish{false, batchv1.JobReasonSuccessPolicy, msg}
	} else if ok {
		requeue = append(requeue, left)
	}

	manage := in.Settled && job.DeletionTimestamp == nil
	switch {
	case fin != nil:
		// Whatever still runs has no more work to do.
		d.Delete = removalOrder(active)
	case !manage:
	case suspended:
		d.Delete = removalOrder(active)
		if setCondition(&st, batchv1.JobSuspended, corev1.ConditionTrue, reasonSuspended, msgSuspended, now) {
			d.Events = append(d.Events, Event{corev1.EventTypeNormal, "Suspended", msgSuspended})
		}
	default:
		if c := condition(&st, batchv1.JobSuspended); c != nil {
			setCondition(&st, batchv1.JobSuspended, corev1.ConditionFalse, reasonResumed, msgResumed, now)
			d.Events = append(d.Events, Event{corev1.EventTypeNormal, "Resumed", msgResumed})
			// activeDeadlineSeconds counts the time the Job runs
			// without a break.
			st.StartTime = &mnow
		}
		var wait time.Duration
		if indexed {
			d.Create, d.Delete, wait = manageIndexed(job, in.Pods, active, completed, failedIx, parallelism, completions, onlyFailed, now)
		} else {
			d.Create, d.Delete, wait = manageNonIndexed(job, in.Pods, active, terminating, succeeded, parallelism, completions, onlyFailed, now)
		}
		if wait > 0 {
			requeue = append(requeue, wait)
		}
	}

	activeAfter := len(active) - len(d.Delete) + len(d.Create)
	readyAfter := ready
	for _, p := range d.Delete {
		if podReady(p) {
			readyAfter--
		}
	}
	terminatingAfter := terminating + len(d.Delete)
	if fin == nil && manage && !suspended && activeAfter == 0 {
		if (completions < 0 && succeeded > 0) || (completions >= 0 && succeeded >= completions) {
			fin = &finish{false, batchv1.JobReasonCompletionsReached, msgCompletions}
		}
	}

	st.Active = int32(activeAfter)
	st.Ready = ptrInt32(readyAfter)
	st.Terminating = ptrInt32(terminatingAfter)
	st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: uSucc, Failed: uFail}
	if indexed {
		st.CompletedIndexes = completed.String()
		st.Succeeded = int32(len(completed))
	}
	if perIndex {
		s := failedIx.String()
		st.FailedIndexes = &s
	}

	if fin != nil {
		interim, terminal := batchv1.JobSuccessCriteriaMet, batchv1.JobComplete
		if fin.failed {
			interim, terminal = batchv1.JobFailureTarget, batchv1.JobFailed
		}
		setCondition(&st, interim, corev1.ConditionTrue, fin.reason, fin.message, now)
		// The Job is finished only once every pod is accounted for and
		// none is left running or stopping.
		if in.Settled && len(uSucc)+len(uFail) == 0 && activeAfter == 0 && terminatingAfter == 0 {
			setCondition(&st, terminal, corev1.ConditionTrue, fin.reason, fin.message, now)
			if fin.failed {
				d.Events = append(d.Events, Event{corev1.EventTypeWarning, fin.reason, fin.message})
			} else {
				st.CompletionTime = &mnow
				d.Events = append(d.Events, Event{corev1.EventTypeNormal, eventCompleted, eventCompletedText})
			}
		}
	}
	d.Status = st
	for _, r := range requeue {
		if d.Requeue == 0 || r < d.Requeue {
			d.Requeue = r
		}
	}
	return d
}

// manageNonIndexed keeps min(parallelism, completions left) pods running.
func manageNonIndexed(job *batchv1.Job, pods, active []*corev1.Pod, terminating, succeeded, parallelism, completions int,
	onlyFailed bool, now time.Time) (create, del []*corev1.Pod, wait time.Duration) {
	want := parallelism
	switch {
	case completions < 0 && succeeded > 0:
		// A work queue Job: once a pod succeeded, no new ones start and
		// the others finish on their own.
		want = len(active)
	case completions >= 0:
		want = min(completions-succeeded, parallelism)
	}
	want = max(want, 0)
	if len(active) > want {
		return nil, removalOrder(active)[:min(len(active)-want, maxPodsPerSync)], 0
	}
	n := want - len(active)
	if onlyFailed {
		n -= terminating
	}
	if n <= 0 {
		return nil, nil, 0
	}
	if wait = backoffLeft(job, pods, now); wait > 0 {
		return nil, nil, wait
	}
	for i := 0; i < min(n, maxPodsPerSync); i++ {
		create = append(create, newPod(job, -1, nil))
	}
	return create, nil, 0
}

// manageIndexed keeps one pod for each index neither completed nor
// failed, at most parallelism of them, lowest indexes first.
func manageIndexed(job *batchv1.Job, pods, active []*corev1.Pod, completed, failedIx indexSet, parallelism, completions int,
	onlyFailed bool, now time.Time) (create, del []*corev1.Pod, wait time.Duration) {
	byIndex := map[int][]*corev1.Pod{}
	for _, p := range active {
		ix := podIndex(p)
		if ix < 0 || ix >= completions || completed.has(ix) || failedIx.has(ix) {
			del = append(del, p)
			continue
		}
		byIndex[ix] = append(byIndex[ix], p)
	}
	var kept []*corev1.Pod
	for _, ps := range byIndex {
		// Duplicates of one index: keep the one furthest along.
		ps = removalOrder(ps)
		del = append(del, ps[:len(ps)-1]...)
		kept = append(kept, ps[len(ps)-1])
	}
	remaining := completions - len(completed)
	for ix := range failedIx {
		if !completed.has(ix) {
			remaining--
		}
	}
	want := max(min(parallelism, remaining), 0)
	if len(kept) > want {
		// Highest indexes go first.
		sort.Slice(kept, func(i, j int) bool { return podIndex(kept[i]) > podIndex(kept[j]) })
		return nil, append(del, kept[:len(kept)-want]...), 0
	}
	n := want - len(kept)
	if n <= 0 {
		return nil, del, 0
	}
	// The latest pod of each index carries its failure counts.
	last := map[int]*corev1.Pod{}
	stopping := indexSet{}
	for _, p := range pods {
		ix := podIndex(p)
		if ix < 0 {
			continue
		}
		if l := last[ix]; l == nil || l.CreationTimestamp.Before(&p.CreationTimestamp) ||
			(l.CreationTimestamp.Equal(&p.CreationTimestamp) && l.Name < p.Name) {
			last[ix] = p
		}
		if p.DeletionTimestamp != nil && !isFinished(p) {
			stopping.add(ix)
		}
	}
	perIndex := job.Spec.BackoffLimitPerIndex != nil
	if !perIndex {
		if wait = backoffLeft(job, pods, now); wait > 0 {
			return nil, del, wait
		}
	}
	for ix := 0; ix < completions && len(create) < min(n, maxPodsPerSync); ix++ {
		if completed.has(ix) || failedIx.has(ix) || len(byIndex[ix]) > 0 || (onlyFailed && stopping.has(ix)) {
			continue
		}
		if perIndex {
			if w := indexBackoffLeft(job, last[ix], now); w > 0 {
				if wait == 0 || w < wait {
					wait = w
				}
				continue
			}
		}
		create = append(create, newPod(job, ix, last[ix]))
	}
	return create, del, wait
}

// newPod builds a pod of job from its template; ix is its completion
// index (-1 for NonIndexed Jobs) and last the index's previous pod.
func newPod(job *batchv1.Job, ix int, last *corev1.Pod) *corev1.Pod {
	t := job.Spec.Template.DeepCopy()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    generateName(job.Name + "-"),
			Namespace:       job.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      []string{batchv1.JobTrackingFinalizer},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, jobKind)},
		},
		Spec: t.Spec,
	}
	if ix < 0 {
		return p
	}
	s := strconv.Itoa(ix)
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[batchv1.JobCompletionIndexAnnotation] = s
	p.Labels[batchv1.JobCompletionIndexAnnotation] = s
	p.GenerateName = generateName(fmt.Sprintf("%s-%d-", job.Name, ix))
	p.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, ix)
	// The index reaches the containers through the downward API, from the
	// pod's own label, as kube's controller arranges it.
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range cs {
			addIndexEnv(&cs[i])
		}
	}
	if job.Spec.BackoffLimitPerIndex != nil {
		failures, ignored := 0, 0
		if last != nil {
			failures = annotationInt(last, batchv1.JobIndexFailureCountAnnotation)
			ignored = annotationInt(last, batchv1.JobIndexIgnoredFailureCountAnnotation)
			if last.Status.Phase == corev1.PodFailed {
				if a, _ := matchFailurePolicy(job.Spec.PodFailurePolicy, last); a != nil && *a == batchv1.PodFailurePolicyActionIgnore {
					ignored++
				} else {
					failures++
				}
			}
		}
		p.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(failures)
		if ignored > 0 {
			p.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(ignored)
		}
	}
	return p
}

func addIndexEnv(c *corev1.Container) {
	for _, e := range c.Env {
		if e.Name == completionIndexEnv {
			return
		}
	}
	c.Env = append(c.Env, corev1.EnvVar{Name: completionIndexEnv, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: fmt.Sprintf("metadata.labels['%s']", batchv1.JobCompletionIndexAnnotation)},
	}})
}

func generateName(s string) string {
	if len(s) > maxGeneratedNameLength {
		return s[:maxGeneratedNameLength]
	}
	return s
}

// backoffDelay is the wait after n consecutive failures.
func backoffDelay(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := DefaultBackoff
	for i := 1; i < n; i++ {
		d *= 2
		if d >= MaxBackoff {
			return MaxBackoff
		}
	}
	return d
}

// backoffLeft is how long to wait before replacing failed pods: the
// back-off of the failures since the last success, from the last failure.
// Pods the controller deleted (terminating ones) and failures the pod
// failure policy ignores do not count.
func backoffLeft(job *batchv1.Job, pods []*corev1.Pod, now time.Time) time.Duration {
	var lastSuccess, lastFailure time.Time
	var failures []time.Time
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			if t := finishTime(p); t.After(lastSuccess) {
				lastSuccess = t
			}
		case p.Status.Phase == corev1.PodFailed && p.DeletionTimestamp == nil:
			if a, _ := matchFailurePolicy(job.Spec.PodFailurePolicy, p); a != nil && *a == batchv1.PodFailurePolicyActionIgnore {
				continue
			}
			failures = append(failures, finishTime(p))
		}
	}
	n := 0
	for _, t := range failures {
		if t.After(lastSuccess) {
			n++
			if t.After(lastFailure) {
				lastFailure = t
			}
		}
	}
	return max(lastFailure.Add(backoffDelay(n)).Sub(now), 0)
}

// indexBackoffLeft is the per-index back-off after last, the index's
// latest pod, failed.
func indexBackoffLeft(job *batchv1.Job, last *corev1.Pod, now time.Time) time.Duration {
	if last == nil || last.Status.Phase != corev1.PodFailed {
		return 0
	}
	n := annotationInt(last, batchv1.JobIndexFailureCountAnnotation) + annotationInt(last, batchv1.JobIndexIgnoredFailureCountAnnotation) + 1
	return max(finishTime(last).Add(backoffDelay(n)).Sub(now), 0)
}

// deadlineLeft is the time left before activeDeadlineSeconds; ok is false
// when no deadline runs (none set, not started, or suspended).
func deadlineLeft(job *batchv1.Job, st *batchv1.JobStatus, suspended bool, now time.Time) (time.Duration, bool) {
	if job.Spec.ActiveDeadlineSeconds == nil || st.StartTime == nil || suspended {
		return 0, false
	}
	end := st.StartTime.Add(time.Duration(*job.Spec.ActiveDeadlineSeconds) * time.Second)
	return end.Sub(now), true
}

// pastBackoffLimitOnFailure: with restartPolicy OnFailure the kubelet
// restarts failing containers in place, so their restarts count against
// backoffLimit.
func pastBackoffLimitOnFailure(job *batchv1.Job, active []*corev1.Pod, limit int32) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var restarts int32
	for _, p := range active {
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, cs := range p.Status.InitContainerStatuses {
			restarts += cs.RestartCount
		}
		for _, cs := range p.Status.ContainerStatuses {
			restarts += cs.RestartCount
		}
	}
	if limit == 0 {
		return restarts > 0
	}
	return restarts >= limit
}

// Finished reports whether the Job has its terminal condition (Complete
// or Failed), which one, and since when.
func Finished(job *batchv1.Job) (batchv1.JobConditionType, time.Time, bool) {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type, c.LastTransitionTime.Time, true
		}
	}
	return "", time.Time{}, false
}

// IsIndexed reports whether the Job's completionMode is Indexed.
func IsIndexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

// condition returns the Job's condition of type t when it is True.
func condition(st *batchv1.JobStatus, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t && st.Conditions[i].Status == corev1.ConditionTrue {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition sets condition t to status, adding it only when status is
// True (kube never adds a False condition that was not there). It
// reports whether anything changed.
func setCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) bool {
	mnow := metav1.NewTime(now)
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status == status && c.Reason == reason && c.Message == message {
			return false
		}
		if c.Status != status {
			c.LastTransitionTime = mnow
		}
		c.Status, c.Reason, c.Message, c.LastProbeTime = status, reason, message, mnow
		return true
	}
	if status != corev1.ConditionTrue {
		return false
	}
	st.Conditions = append(st.Conditions, batchv1.JobCondition{Type: t, Status: status, Reason: reason, Message: message,
		LastProbeTime: mnow, LastTransitionTime: mnow})
	return true
}

func hasFinalizer(p *corev1.Pod) bool {
	for _, f := range p.Finalizers {
		if f == batchv1.JobTrackingFinalizer {
			return true
		}
	}
	return false
}

func isFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// podFailed reports whether p counts as failed: it failed, or (unless
// only failed pods are replaced) it is being deleted before succeeding.
func podFailed(p *corev1.Pod, onlyFailed bool) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if onlyFailed {
		// A pod that never got to a node never reaches a phase either.
		return p.DeletionTimestamp != nil && p.Spec.NodeName == "" && p.Status.Phase != corev1.PodSucceeded
	}
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podIndex is the pod's completion index, -1 when it has none.
func podIndex(p *corev1.Pod) int {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		if v, ok = p.Labels[batchv1.JobCompletionIndexAnnotation]; !ok {
			return -1
		}
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return -1
	}
	return i
}

func annotationInt(p *corev1.Pod, key string) int {
	i, err := strconv.Atoi(p.Annotations[key])
	if err != nil || i < 0 {
		return 0
	}
	return i
}

// finishTime is when the pod finished: its containers' last finishedAt,
// else when its deletion started, else when its Ready condition changed,
// else its creation.
func finishTime(p *corev1.Pod) time.Time {
	var t time.Time
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			if term := cs.State.Terminated; term != nil && term.FinishedAt.After(t) {
				t = term.FinishedAt.Time
			}
		}
	}
	if !t.IsZero() {
		return t
	}
	if p.DeletionTimestamp != nil {
		return p.DeletionTimestamp.Time
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	return p.CreationTimestamp.Time
}

// byFinishTime orders the finished and the deleted pods by when they
// finished (then name), so that failures are judged in the order they
// happened.
func byFinishTime(pods []*corev1.Pod, now time.Time) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if isFinished(p) || p.DeletionTimestamp != nil {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := finishTime(out[i]), finishTime(out[j])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// removalOrder sorts pods so that the ones to remove first come first:
// unscheduled before scheduled, pending before running, not ready before
// ready, newer before older (kube's order, in short).
func removalOrder(pods []*corev1.Pod) []*corev1.Pod {
	out := append([]*corev1.Pod(nil), pods...)
	rank := func(p *corev1.Pod) int {
		r := 0
		if p.Spec.NodeName != "" {
			r += 4
		}
		if p.Status.Phase == corev1.PodRunning {
			r += 2
		}
		if podReady(p) {
			r++
		}
		return r
	}
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		if !out[i].CreationTimestamp.Equal(&out[j].CreationTimestamp) {
			return out[j].CreationTimestamp.Before(&out[i].CreationTimestamp)
		}
		return out[i].Name > out[j].Name
	})
	return out
}

func ptrInt32(i int) *int32 {
	v := int32(i)
	return &v
}
