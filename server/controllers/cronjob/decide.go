package cronjob

import (
	"fmt"
	"sort"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const (
	// tooManyMissed is how many missed start times make the controller
	// warn (kube's).
	tooManyMissed = 100
	// nextDelta is added to the next scheduled time when requeueing, so
	// that the pass runs just after it.
	nextDelta = 100 * time.Millisecond
)

var cronJobKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// Input is what Decide reads.
type Input struct {
	CronJob *batchv1.CronJob
	// Jobs are the Jobs controlled by CronJob (by UID).
	Jobs []*batchv1.Job
	Now  time.Time
	// Schedule is the parsed schedule; nil when it could not be parsed
	// (then nothing is scheduled).
	Schedule cron.Schedule
	// Location is the CronJob's time zone, for the scheduled-timestamp
	// annotation (UTC when it names none).
	Location *time.Location
}

// Event is an Event to record about the CronJob.
type Event struct{ Type, Reason, Message string }

// Decision is what Decide wants done: Delete, then Create, then write
// Status (adding the created Job to Status.Active).
type Decision struct {
	// Delete are Jobs to delete (in the background): running ones the
	// Replace policy supersedes, and finished ones beyond the history
	// limits.
	Delete []*batchv1.Job
	// Create is the Job to create, if one is due.
	Create *batchv1.Job
	// Status is the CronJob's new status (without the Job to create).
	Status batchv1.CronJobStatus
	// Requeue, when positive, is when to look again: just after the next
	// scheduled time.
	Requeue time.Duration
	Events  []Event
}

// JobName is the name of the Job a CronJob starts for scheduled: one name
// per scheduled minute, so that a Job is never created twice.
func JobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}

// Decide computes one pass of the CronJob controller.
func Decide(in Input) (d Decision) {
	cj, now := in.CronJob, in.Now
	st := *cj.Status.DeepCopy()

	byUID := make(map[types.UID]*batchv1.Job, len(in.Jobs))
	for _, j := range in.Jobs {
		byUID[j.UID] = j
		inActive := activeIndex(&st, j.UID) >= 0
		cond, done := finished(j)
		switch {
		case !inActive && !done:
			d.Events = append(d.Events, Event{corev1.EventTypeWarning, "UnexpectedJob",
				fmt.Sprintf("Saw a job that the controller did not create or forgot: %s", j.Name)})
		case inActive && done:
			removeActive(&st, j.UID)
			d.Events = append(d.Events, Event{corev1.EventTypeNormal, "SawCompletedJob",
				fmt.Sprintf("Saw completed job: %s, condition: %v", j.Name, cond)})
		}
		if done && j.Status.CompletionTime != nil &&
			(st.LastSuccessfulTime == nil || j.Status.CompletionTime.After(st.LastSuccessfulTime.Time)) {
			st.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
		}
	}
	for _, ref := range append([]corev1.ObjectReference(nil), st.Active...) {
		if byUID[ref.UID] == nil {
			removeActive(&st, ref.UID)
			d.Events = append(d.Events, Event{corev1.EventTypeNormal, "MissingJob", fmt.Sprintf("Active job went missing: %v", ref.Name)})
		}
	}

	defer func() {
		d.Delete = append(d.Delete, pruneHistory(cj, in.Jobs, d.Delete)...)
		for _, j := range d.Delete {
			removeActive(&st, j.UID)
		}
		d.Status = st
	}()
	if cj.DeletionTimestamp != nil || (cj.Spec.Suspend != nil && *cj.Spec.Suspend) || in.Schedule == nil {
		return d
	}

	earliest := cj.CreationTimestamp.Time
	if st.LastScheduleTime != nil {
		earliest = st.LastScheduleTime.Time
	}
	from := earliest
	if sds := cj.Spec.StartingDeadlineSeconds; sds != nil {
		if t := now.Add(-time.Duration(*sds) * time.Second); t.After(from) {
			from = t
		}
	}
	scheduled, missed, err := mostRecent(in.Schedule, from, now)
	if err != nil {
		d.Events = append(d.Events, Event{corev1.EventTypeWarning, "InvalidSchedule",
			fmt.Sprintf("invalid schedule: %s : %s", cj.Spec.Schedule, err)})
		return d
	}
	if missed > tooManyMissed {
		d.Events = append(d.Events, Event{corev1.EventTypeWarning, "TooManyMissedTimes",
			"too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"})
	}
	requeue := func() {
		d.Requeue = nextIn(in.Schedule, &st, earliest, now)
	}
	if scheduled.IsZero() {
		requeue()
		return d
	}
	if sds := cj.Spec.StartingDeadlineSeconds; sds != nil && scheduled.Add(time.Duration(*sds)*time.Second).Before(now) {
		d.Events = append(d.Events, Event{corev1.EventTypeWarning, "MissSchedule",
			fmt.Sprintf("Missed scheduled time to start a job: %s", scheduled.UTC().Format(time.RFC1123Z))})
		requeue()
		return d
	}
	name := JobName(cj, scheduled)
	for _, ref := range st.Active {
		if ref.Name == name {
			requeue()
			return d
		}
	}
	if st.LastScheduleTime != nil && st.LastScheduleTime.Time.Equal(scheduled) {
		requeue()
		return d
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(st.Active) > 0 {
			d.Events = append(d.Events, Event{corev1.EventTypeNormal, "JobAlreadyActive",
				"Not starting job because prior execution is running and concurrency policy is Forbid"})
			requeue()
			return d
		}
	case batchv1.ReplaceConcurrent:
		for _, ref := range st.Active {
			if j := byUID[ref.UID]; j != nil {
				d.Delete = append(d.Delete, j)
			}
		}
	}
	d.Create = newJob(cj, scheduled, in.Location)
	st.LastScheduleTime = &metav1.Time{Time: scheduled}
	requeue()
	return d
}

// mostRecent is the latest scheduled time in (from, now] (zero if none)
// and roughly how many there are.
func mostRecent(s cron.Schedule, from, now time.Time) (time.Time, int64, error) {
	t1 := s.Next(from)
	if t1.IsZero() || now.Before(t1) {
		return time.Time{}, 0, nil
	}
	t2 := s.Next(t1)
	if t2.IsZero() || now.Before(t2) {
		return t1, 1, nil
	}
	step := t2.Sub(t1).Round(time.Second)
	if step < time.Second {
		return time.Time{}, 0, fmt.Errorf("time difference between two schedules is less than 1 second")
	}
	// Jump to a little before now by whole periods, then walk: a
	// CronJob left alone for a year must not cost half a million steps.
	missed := int64(now.Sub(t1)/step) + 1
	start := t1
	if missed > 2 {
		start = t1.Add(time.Duration(missed-2) * step)
	}
	var last time.Time
	for t := s.Next(start); !t.IsZero() && !t.After(now); t = s.Next(t) {
		last = t
	}
	if last.IsZero() {
		// An irregular schedule ("30 6-16/4 * * 1-5") can overshoot the
		// jump: walk from the first one instead.
		for t := t1; !t.IsZero() && !t.After(now); t = s.Next(t) {
			last = t
		}
	}
	return last, missed, nil
}

// nextIn is how long until just after the next scheduled time.
func nextIn(s cron.Schedule, st *batchv1.CronJobStatus, earliest, now time.Time) time.Duration {
	if st.LastScheduleTime != nil && st.LastScheduleTime.After(earliest) {
		earliest = st.LastScheduleTime.Time
	}
	base := earliest
	if t, missed, err := mostRecent(s, earliest, now); err != nil || (t.IsZero() && missed > 0) {
		base = now
	} else if !t.IsZero() {
		base = t
	}
	next := s.Next(base)
	if next.IsZero() {
		return 0
	}
	return max(next.Add(nextDelta).Sub(now), nextDelta)
}

// newJob builds the Job a CronJob starts for the scheduled time.
func newJob(cj *batchv1.CronJob, scheduled time.Time, loc *time.Location) *batchv1.Job {
	if loc == nil {
		loc = time.UTC
	}
	labels := map[string]string{}
	for k, v := range cj.Spec.JobTemplate.Labels {
		labels[k] = v
	}
	annotations := map[string]string{}
	for k, v := range cj.Spec.JobTemplate.Annotations {
		annotations[k] = v
	}
	annotations[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            JobName(cj, scheduled),
			Namespace:       cj.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, cronJobKind)},
		},
	}
	cj.Spec.JobTemplate.Spec.DeepCopyInto(&j.Spec)
	return j
}

// pruneHistory picks the oldest finished Jobs beyond the history limits
// (by start time, as kube orders them), skipping ones already deleted.
func pruneHistory(cj *batchv1.CronJob, jobs, deleting []*batchv1.Job) []*batchv1.Job {
	if cj.Spec.SuccessfulJobsHistoryLimit == nil && cj.Spec.FailedJobsHistoryLimit == nil {
		return nil
	}
	skip := map[types.UID]bool{}
	for _, j := range deleting {
		skip[j.UID] = true
	}
	var succeeded, failed []*batchv1.Job
	for _, j := range jobs {
		if skip[j.UID] || j.DeletionTimestamp != nil {
			continue
		}
		switch cond, _ := finished(j); cond {
		case batchv1.JobComplete:
			succeeded = append(succeeded, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	var out []*batchv1.Job
	for _, g := range []struct {
		jobs  []*batchv1.Job
		limit *int32
	}{{succeeded, cj.Spec.SuccessfulJobsHistoryLimit}, {failed, cj.Spec.FailedJobsHistoryLimit}} {
		if g.limit == nil || len(g.jobs) <= int(*g.limit) {
			continue
		}
		sort.Slice(g.jobs, func(a, b int) bool { return startedBefore(g.jobs[a], g.jobs[b]) })
		out = append(out, g.jobs[:len(g.jobs)-int(*g.limit)]...)
	}
	return out
}

// startedBefore orders Jobs by status.startTime, Jobs never started last,
// then by name.
func startedBefore(a, b *batchv1.Job) bool {
	sa, sb := a.Status.StartTime, b.Status.StartTime
	switch {
	case sa == nil && sb != nil:
		return false
	case sa != nil && sb == nil:
		return true
	case sa == nil && sb == nil, sa.Equal(sb):
		return a.Name < b.Name
	}
	return sa.Before(sb)
}

// finished reports the Job's terminal condition, if it has one.
func finished(j *batchv1.Job) (batchv1.JobConditionType, bool) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type, true
		}
	}
	return "", false
}

func activeIndex(st *batchv1.CronJobStatus, uid types.UID) int {
	for i, ref := range st.Active {
		if ref.UID == uid {
			return i
		}
	}
	return -1
}

func removeActive(st *batchv1.CronJobStatus, uid types.UID) {
	if i := activeIndex(st, uid); i >= 0 {
		st.Active = append(st.Active[:i:i], st.Active[i+1:]...)
	}
}
