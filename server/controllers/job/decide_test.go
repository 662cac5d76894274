package job

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func newJob(mut ...func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: "job-uid", CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Spec: batchv1.JobSpec{
			Completions: ptr.To[int32](1), Parallelism: ptr.To[int32](1), BackoffLimit: ptr.To[int32](6),
			CompletionMode:       ptr.To(batchv1.NonIndexedCompletion),
			PodReplacementPolicy: ptr.To(batchv1.TerminatingOrFailed),
			Suspend:              ptr.To(false),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{batchv1.JobNameLabel: "pi"}},
				Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
			},
		},
	}
	started := metav1.NewTime(t0.Add(-time.Minute))
	j.Status.StartTime = &started
	for _, m := range mut {
		m(j)
	}
	return j
}

// pod is a pod of the Job: phase "" is pending, opts adjust it.
type podOpt func(*corev1.Pod)

func pod(name string, phase corev1.PodPhase, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"),
			CreationTimestamp: metav1.NewTime(t0.Add(-30 * time.Second)),
			Finalizers:        []string{batchv1.JobTrackingFinalizer},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "pi", UID: "job-uid",
				Controller: ptr.To(true)}}},
		Spec:   corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: phase},
	}
	if phase == corev1.PodSucceeded || phase == corev1.PodFailed {
		code := int32(0)
		if phase == corev1.PodFailed {
			code = 1
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.NewTime(t0.Add(-time.Second))}}}}
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func released(p *corev1.Pod) { p.Finalizers = nil }
func ready(p *corev1.Pod) {
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
}
func deleting(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(t0.Add(-time.Second))) }
func finishedAt(t time.Time) podOpt {
	return func(p *corev1.Pod) { p.Status.ContainerStatuses[0].State.Terminated.FinishedAt = metav1.NewTime(t) }
}
func exitCode(c int32) podOpt {
	return func(p *corev1.Pod) { p.Status.ContainerStatuses[0].State.Terminated.ExitCode = c }
}
func index(i int) podOpt {
	return func(p *corev1.Pod) {
		p.Annotations = map[string]string{batchv1.JobCompletionIndexAnnotation: fmt.Sprint(i)}
	}
}
func annotate(k, v string) podOpt {
	return func(p *corev1.Pod) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[k] = v
	}
}

func uncounted(succ, fail []types.UID) func(*batchv1.Job) {
	return func(j *batchv1.Job) {
		j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: succ, Failed: fail}
	}
}

// summary is what the table checks of a Decision.
type summary struct {
	Create     int
	CreateIx   []string // completion indexes of the created pods
	Delete     []string
	Release    []string
	Active     int32
	Succeeded  int32
	Failed     int32
	Terminat   int32
	Uncounted  string // "s:uid,... f:uid,..."
	Conditions string // True conditions "Type/Reason", in order
	Indexes    string // completed/failed indexes "c=.. f=.."
	Requeue    time.Duration
	Events     []string
	Completion bool
	StartTime  *time.Time
}

func summarize(d Decision) summary {
	s := summary{Create: len(d.Create), Active: d.Status.Active, Succeeded: d.Status.Succeeded, Failed: d.Status.Failed,
		Requeue: d.Requeue, Completion: d.Status.CompletionTime != nil}
	for _, p := range d.Create {
		if ix, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]; ok {
			s.CreateIx = append(s.CreateIx, ix)
		}
	}
	for _, p := range d.Delete {
		s.Delete = append(s.Delete, p.Name)
	}
	for _, p := range d.Release {
		s.Release = append(s.Release, p.Name)
	}
	if d.Status.Terminating != nil {
		s.Terminat = *d.Status.Terminating
	}
	if u := d.Status.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
		s.Uncounted = fmt.Sprintf("s:%v f:%v", u.Succeeded, u.Failed)
	}
	var conds []string
	for _, c := range d.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			conds = append(conds, string(c.Type)+"/"+c.Reason)
		}
	}
	s.Conditions = strings.Join(conds, ",")
	if d.Status.CompletedIndexes != "" || d.Status.FailedIndexes != nil {
		s.Indexes = "c=" + d.Status.CompletedIndexes + " f=" + ptr.Deref(d.Status.FailedIndexes, "-")
	}
	for _, e := range d.Events {
		s.Events = append(s.Events, e.Reason)
	}
	if d.Status.StartTime != nil {
		st := d.Status.StartTime.Time
		s.StartTime = &st
	}
	return s
}

func TestDecide(t *testing.T) {
	started := t0.Add(-time.Minute)
	tests := []struct {
		name    string
		job     *batchv1.Job
		pods    []*corev1.Pod
		unready bool // Settled false
		want    summary
	}{
		{
			name: "a new job starts parallelism pods",
			job: newJob(func(j *batchv1.Job) {
				j.Status.StartTime = nil
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](5), ptr.To[int32](2)
			}),
			want: summary{Create: 2, Active: 2, StartTime: &t0},
		},
		{
			name: "never more than the completions left",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](5), ptr.To[int32](4)
				j.Status.Succeeded = 3
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodRunning)},
			want: summary{Create: 1, Active: 2, Succeeded: 3, StartTime: &started},
		},
		{
			name: "a cache that lags: nothing created",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](5), ptr.To[int32](2)
			}),
			unready: true,
			want:    summary{StartTime: &started},
		},
		{
			name: "a finished pod is first written as uncounted, then released",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](5), ptr.To[int32](2)
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodSucceeded), pod("b", corev1.PodRunning)},
			want: summary{Create: 1, Active: 2, Release: []string{"a"}, Uncounted: "s:[a-uid] f:[]", StartTime: &started},
		},
		{
			name: "an uncounted pod without its finalizer is counted",
			job: newJob(uncounted([]types.UID{"a-uid"}, []types.UID{"gone-uid"}), func(j *batchv1.Job) {
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](5), ptr.To[int32](2)
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodSucceeded, released), pod("b", corev1.PodRunning), pod("c", corev1.PodRunning)},
			want: summary{Active: 2, Succeeded: 1, Failed: 1, StartTime: &started},
		},
		{
			name: "an uncounted pod still holding its finalizer is released again",
			job:  newJob(uncounted([]types.UID{"a-uid"}, nil)),
			pods: []*corev1.Pod{pod("a", corev1.PodSucceeded)},
			want: summary{Release: []string{"a"}, Uncounted: "s:[a-uid] f:[]",
				Conditions: "SuccessCriteriaMet/CompletionsReached", StartTime: &started},
		},
		{
			name: "all completions counted: SuccessCriteriaMet then Complete",
			job:  newJob(uncounted([]types.UID{"a-uid"}, nil)),
			pods: []*corev1.Pod{pod("a", corev1.PodSucceeded, released)},
			want: summary{Succeeded: 1, Conditions: "SuccessCriteriaMet/CompletionsReached,Complete/CompletionsReached",
				Completion: true, Events: []string{"Completed"}, StartTime: &started},
		},
		{
			name: "work queue: after a success no new pods, complete when the rest end",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.Completions, j.Spec.Parallelism = nil, ptr.To[int32](3)
				j.Status.Succeeded = 1
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodSucceeded, released), pod("b", corev1.PodRunning)},
			want: summary{Active: 1, Succeeded: 1, StartTime: &started},
		},
		{
			name: "work queue: done",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.Completions, j.Spec.Parallelism = nil, ptr.To[int32](3)
				j.Status.Succeeded = 2
			}),
			want: summary{Succeeded: 2, Conditions: "SuccessCriteriaMet/CompletionsReached,Complete/CompletionsReached",
				Completion: true, Events: []string{"Completed"}, StartTime: &started},
		},
		{
			name: "a failure waits out the back-off before the replacement",
			job:  newJob(),
			pods: []*corev1.Pod{pod("a", corev1.PodFailed, finishedAt(t0.Add(-3*time.Second)))},
			want: summary{Release: []string{"a"}, Uncounted: "s:[] f:[a-uid]", Requeue: 7 * time.Second, StartTime: &started},
		},
		{
			name: "the back-off doubles",
			job:  newJob(func(j *batchv1.Job) { j.Status.Failed = 2 }),
			pods: []*corev1.Pod{pod("a", corev1.PodFailed, released, finishedAt(t0.Add(-15*time.Second))),
				pod("b", corev1.PodFailed, released, finishedAt(t0.Add(-5*time.Second)))},
			want: summary{Failed: 2, Requeue: 15 * time.Second, StartTime: &started},
		},
		{
			name: "back-off over: replaced",
			job:  newJob(func(j *batchv1.Job) { j.Status.Failed = 1 }),
			pods: []*corev1.Pod{pod("a", corev1.PodFailed, released, finishedAt(t0.Add(-11*time.Second)))},
			want: summary{Create: 1, Active: 1, Failed: 1, StartTime: &started},
		},
		{
			name: "backoffLimit exceeded: FailureTarget while the failure is uncounted",
			job:  newJob(func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](1); j.Status.Failed = 1 }),
			pods: []*corev1.Pod{pod("a", corev1.PodFailed, released), pod("b", corev1.PodFailed)},
			want: summary{Failed: 1, Release: []string{"b"}, Uncounted: "s:[] f:[b-uid]",
				Conditions: "FailureTarget/BackoffLimitExceeded", StartTime: &started},
		},
		{
			name: "backoffLimit exceeded: Failed once counted",
			job: newJob(uncounted(nil, []types.UID{"b-uid"}), func(j *batchv1.Job) {
				j.Spec.BackoffLimit = ptr.To[int32](1)
				j.Status.Failed = 1
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodFailed, released), pod("b", corev1.PodFailed, released)},
			want: summary{Failed: 2, Conditions: "FailureTarget/BackoffLimitExceeded,Failed/BackoffLimitExceeded",
				Events: []string{"BackoffLimitExceeded"}, StartTime: &started},
		},
		{
			name: "restartPolicy OnFailure: container restarts count",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.BackoffLimit = ptr.To[int32](2)
				j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodRunning, func(p *corev1.Pod) {
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", RestartCount: 2}}
			})},
			want: summary{Delete: []string{"a"}, Terminat: 1, Conditions: "FailureTarget/BackoffLimitExceeded", StartTime: &started},
		},
		{
			name: "deadline passed: pods deleted, Failed only once they are gone",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
				j.Spec.Parallelism, j.Spec.Completions = ptr.To[int32](2), ptr.To[int32](2)
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodRunning, ready), pod("b", corev1.PodPending)},
			want: summary{Delete: []string{"b", "a"}, Terminat: 2, Conditions: "FailureTarget/DeadlineExceeded", StartTime: &started},
		},
		{
			name: "deadline passed and nothing left",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
				j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue,
					Reason: batchv1.JobReasonDeadlineExceeded, Message: msgDeadline}}
			}),
			want: summary{Conditions: "FailureTarget/DeadlineExceeded,Failed/DeadlineExceeded", Events: []string{"DeadlineExceeded"}, StartTime: &started},
		},
		{
			name: "deadline ahead: requeued for it",
			job:  newJob(func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](100) }),
			pods: []*corev1.Pod{pod("a", corev1.PodRunning)},
			want: summary{Active: 1, Requeue: 40 * time.Second, StartTime: &started},
		},
		{
			name: "suspended: active pods deleted, not counted",
			job:  newJob(func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) }),
			pods: []*corev1.Pod{pod("a", corev1.PodRunning)},
			want: summary{Delete: []string{"a"}, Terminat: 1, Conditions: "Suspended/JobSuspended", Events: []string{"Suspended"}, StartTime: &started},
		},
		{
			name: "created suspended: not started",
			job:  newJob(func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true); j.Status.StartTime = nil }),
			want: summary{Conditions: "Suspended/JobSuspended", Events: []string{"Suspended"}},
		},
		{
			name: "resumed: the deadline clock restarts",
			job: newJob(func(j *batchv1.Job) {
				j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue, Reason: reasonSuspended}}
			}),
			want: summary{Create: 1, Active: 1, Events: []string{"Resumed"}, StartTime: &t0},
		},
		{
			name: "terminating pods are replaced at once by default",
			job:  newJob(),
			pods: []*corev1.Pod{pod("a", corev1.PodRunning, deleting, released)},
			want: summary{Create: 1, Active: 1, Terminat: 1, StartTime: &started},
		},
		{
			name: "with podReplacementPolicy Failed only once they failed",
			job:  newJob(func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed) }),
			pods: []*corev1.Pod{pod("a", corev1.PodRunning, deleting, released)},
			want: summary{Terminat: 1, StartTime: &started},
		},
		{
			// (replaced at once: only pods that failed on their own back off)
			name: "a pod deleted by someone else counts as failed",
			job:  newJob(),
			pods: []*corev1.Pod{pod("a", corev1.PodRunning, deleting)},
			want: summary{Create: 1, Active: 1, Terminat: 1, Release: []string{"a"}, Uncounted: "s:[] f:[a-uid]", StartTime: &started},
		},
		{
			name: "too many pods: the least advanced go",
			job:  newJob(func(j *batchv1.Job) { j.Spec.Parallelism, j.Spec.Completions = ptr.To[int32](1), ptr.To[int32](3) }),
			pods: []*corev1.Pod{pod("a", corev1.PodRunning, ready), pod("b", corev1.PodPending), pod("c", corev1.PodRunning)},
			want: summary{Active: 1, Delete: []string{"b", "c"}, Terminat: 2, StartTime: &started},
		},
		{
			name: "pod failure policy Ignore: not counted, replaced without back-off",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
					Action:          batchv1.PodFailurePolicyActionIgnore,
					OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
				}}}
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodFailed, func(p *corev1.Pod) {
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
			})},
			want: summary{Create: 1, Active: 1, Release: []string{"a"}, StartTime: &started},
		},
		{
			name: "pod failure policy FailJob on an exit code",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
					{Action: batchv1.PodFailurePolicyActionCount, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
						Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}}},
					{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
						ContainerName: ptr.To("main"), Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{1, 2}}},
				}}
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodFailed, exitCode(42))},
			want: summary{Release: []string{"a"}, Uncounted: "s:[] f:[a-uid]", Conditions: "FailureTarget/PodFailurePolicy", StartTime: &started},
		},
		{
			name: "indexed: missing indexes are created, lowest first",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](4), ptr.To[int32](2)
				j.Status.CompletedIndexes, j.Status.Succeeded = "0", 1
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodSucceeded, index(2))},
			want: summary{Create: 2, CreateIx: []string{"1", "3"}, Active: 2, Succeeded: 2, Release: []string{"a"},
				Uncounted: "s:[a-uid] f:[]", Indexes: "c=0,2 f=-", StartTime: &started},
		},
		{
			name: "indexed: a duplicate and a completed index's pod are deleted",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](3)
				j.Status.CompletedIndexes, j.Status.Succeeded = "0", 1
			}),
			pods: []*corev1.Pod{pod("z", corev1.PodRunning, index(0)), pod("a", corev1.PodRunning, index(1), ready),
				pod("b", corev1.PodPending, index(1)), pod("c", corev1.PodRunning, index(2))},
			want: summary{Active: 2, Succeeded: 1, Delete: []string{"z", "b"}, Terminat: 2, Indexes: "c=0 f=-", StartTime: &started},
		},
		{
			name: "indexed: every index done",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](3)
				j.Status.CompletedIndexes, j.Status.Succeeded = "0-2", 3
			}),
			want: summary{Succeeded: 3, Indexes: "c=0-2 f=-", Completion: true, Events: []string{"Completed"},
				Conditions: "SuccessCriteriaMet/CompletionsReached,Complete/CompletionsReached", StartTime: &started},
		},
		{
			name: "backoffLimitPerIndex: the index fails, the others go on",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](3)
				j.Spec.BackoffLimitPerIndex, j.Spec.BackoffLimit = ptr.To[int32](1), ptr.To[int32](1000)
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodFailed, index(0), annotate(batchv1.JobIndexFailureCountAnnotation, "1")),
				pod("b", corev1.PodFailed, index(1)), pod("c", corev1.PodRunning, index(2))},
			// Index 1 gets a second chance after its back-off; index 0 is out of them.
			want: summary{Active: 1, Release: []string{"a", "b"}, Uncounted: "s:[] f:[a-uid b-uid]", Indexes: "c= f=0",
				Requeue: 9 * time.Second, StartTime: &started},
		},
		{
			name: "backoffLimitPerIndex: the replacement carries the index's failure count",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](1), ptr.To[int32](1)
				j.Spec.BackoffLimitPerIndex, j.Spec.BackoffLimit = ptr.To[int32](2), ptr.To[int32](1000)
				j.Status.Failed = 1
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodFailed, index(0), released, finishedAt(t0.Add(-time.Minute)))},
			want: summary{Create: 1, CreateIx: []string{"0"}, Active: 1, Failed: 1, Indexes: "c= f=", StartTime: &started},
		},
		{
			name: "maxFailedIndexes exceeded",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](3)
				j.Spec.BackoffLimitPerIndex, j.Spec.MaxFailedIndexes, j.Spec.BackoffLimit = ptr.To[int32](0), ptr.To[int32](0), ptr.To[int32](1000)
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodFailed, index(0)), pod("c", corev1.PodRunning, index(2))},
			want: summary{Release: []string{"a"}, Uncounted: "s:[] f:[a-uid]", Indexes: "c= f=0", Delete: []string{"c"}, Terminat: 1,
				Conditions: "FailureTarget/MaxFailedIndexesExceeded", StartTime: &started},
		},
		{
			name: "successPolicy succeededIndexes met: the other pods are deleted, then the Job completes",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](5), ptr.To[int32](2)
				j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr.To("0")}}}
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodSucceeded, index(0)), pod("b", corev1.PodRunning, index(1))},
			want: summary{Succeeded: 1, Release: []string{"a"}, Uncounted: "s:[a-uid] f:[]", Indexes: "c=0 f=-",
				Delete: []string{"b"}, Terminat: 1, Conditions: "SuccessCriteriaMet/SuccessPolicy", StartTime: &started},
		},
		{
			name: "successPolicy met, nothing left running: Complete with its reason",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](5), ptr.To[int32](2)
				j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
					{SucceededIndexes: ptr.To("1,3")}, {SucceededCount: ptr.To[int32](2)}}}
				j.Status.CompletedIndexes, j.Status.Succeeded = "0,2", 2
			}),
			want: summary{Succeeded: 2, Indexes: "c=0,2 f=-", Completion: true, Events: []string{"Completed"},
				Conditions: "SuccessCriteriaMet/SuccessPolicy,Complete/SuccessPolicy", StartTime: &started},
		},
		{
			name: "successPolicy succeededIndexes with succeededCount: enough of them",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](5), ptr.To[int32](1)
				j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
					{SucceededIndexes: ptr.To("1-3"), SucceededCount: ptr.To[int32](2)}}}
				j.Status.CompletedIndexes, j.Status.Succeeded = "0,1,3", 3
			}),
			want: summary{Succeeded: 3, Indexes: "c=0,1,3 f=-", Completion: true, Events: []string{"Completed"},
				Conditions: "SuccessCriteriaMet/SuccessPolicy,Complete/SuccessPolicy", StartTime: &started},
		},
		{
			name: "successPolicy not met yet: the Job goes on",
			job: newJob(func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](1)
				j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
					{SucceededIndexes: ptr.To("0,2")}, {SucceededIndexes: ptr.To("7")}, {SucceededCount: ptr.To[int32](2)}}}
				j.Status.CompletedIndexes, j.Status.Succeeded = "0", 1
			}),
			want: summary{Create: 1, CreateIx: []string{"1"}, Active: 1, Succeeded: 1, Indexes: "c=0 f=-", StartTime: &started},
		},
		{
			name: "a finished Job only releases pods",
			job: newJob(func(j *batchv1.Job) {
				j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "X"}}
			}),
			pods: []*corev1.Pod{pod("a", corev1.PodRunning)},
			want: summary{Release: []string{"a"}, Conditions: "Failed/X", StartTime: &started},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.job.DeepCopy()
			d := Decide(Input{Job: tt.job, Pods: tt.pods, Now: t0, Settled: !tt.unready})
			if diff := cmp.Diff(tt.want, summarize(d)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tt.job); diff != "" {
				t.Errorf("Decide changed its input:\n%s", diff)
			}
		})
	}
}

func TestNewPodIndexed(t *testing.T) {
	j := newJob(func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.BackoffLimitPerIndex = ptr.To[int32](3)
	})
	last := pod("old", corev1.PodFailed, index(4), annotate(batchv1.JobIndexFailureCountAnnotation, "1"))
	p := newPod(j, 4, last)
	if p.GenerateName != "pi-4-" || p.Spec.Hostname != "pi-4" || p.Namespace != "default" {
		t.Errorf("generateName %q hostname %q", p.GenerateName, p.Spec.Hostname)
	}
	if p.Annotations[batchv1.JobCompletionIndexAnnotation] != "4" || p.Labels[batchv1.JobCompletionIndexAnnotation] != "4" ||
		p.Annotations[batchv1.JobIndexFailureCountAnnotation] != "2" {
		t.Errorf("annotations %v labels %v", p.Annotations, p.Labels)
	}
	want := []corev1.EnvVar{{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: "metadata.labels['batch.kubernetes.io/job-completion-index']"}}}}
	if diff := cmp.Diff(want, p.Spec.Containers[0].Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if len(p.Finalizers) != 1 || p.Finalizers[0] != batchv1.JobTrackingFinalizer {
		t.Errorf("finalizers %v", p.Finalizers)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != j.UID || ref.Kind != "Job" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("owner %+v", p.OwnerReferences)
	}
	if len(j.Spec.Template.Spec.Containers[0].Env) != 0 || j.Spec.Template.Annotations != nil {
		t.Error("newPod changed the Job's template")
	}
}

func TestBackoffDelay(t *testing.T) {
	for n, want := range map[int]time.Duration{0: 0, 1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second,
		6: 320 * time.Second, 7: 6 * time.Minute, 50: 6 * time.Minute} {
		if got := backoffDelay(n); got != want {
			t.Errorf("backoffDelay(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestIndexSet(t *testing.T) {
	for in, want := range map[string]string{"": "", "0": "0", "1,3-5,7": "1,3-5,7", "0,1": "0,1", "0,1,2": "0-2",
		"5,1-3,4": "1-5", "2-1,x,3": "3", "8-12": "8,9"} {
		if got := parseIndexes(in, 10).String(); got != want {
			t.Errorf("parseIndexes(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTTLLeft(t *testing.T) {
	j := newJob(func(j *batchv1.Job) {
		j.Spec.TTLSecondsAfterFinished = ptr.To[int32](100)
	})
	if _, ok := TTLLeft(j, t0); ok {
		t.Error("a running Job has a TTL")
	}
	j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-30 * time.Second))}}
	if left, ok := TTLLeft(j, t0); !ok || left != 70*time.Second {
		t.Errorf("TTLLeft = %s, %v", left, ok)
	}
}
