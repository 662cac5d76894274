package tests

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func testJob(name, outcome string, mutate ...func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{outcomeLabel: outcome}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
		}},
	}
	for _, m := range mutate {
		m(j)
	}
	return j
}

func createJob(t *testing.T, c kubernetes.Interface, j *batchv1.Job) {
	t.Helper()
	if _, err := c.BatchV1().Jobs("default").Create(context.Background(), j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func getJob(t *testing.T, c kubernetes.Interface, name string) *batchv1.Job {
	t.Helper()
	j, err := c.BatchV1().Jobs("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func jobCondition(j *batchv1.Job, typ batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == typ {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

// waitJobCondition waits for the Job's condition typ to be True and
// returns the Job.
func waitJobCondition(t *testing.T, c kubernetes.Interface, name string, typ batchv1.JobConditionType, timeout time.Duration) *batchv1.Job {
	t.Helper()
	var j *batchv1.Job
	eventually(t, timeout, "job "+name+" "+string(typ), func() bool {
		j = getJob(t, c, name)
		cond := jobCondition(j, typ)
		return cond != nil && cond.Status == corev1.ConditionTrue
	})
	return j
}

// conditionTypes lists the Job's True conditions in order.
func conditionTypes(j *batchv1.Job) string {
	var out []string
	for _, c := range j.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			out = append(out, string(c.Type)+"/"+c.Reason)
		}
	}
	return strings.Join(out, ",")
}

func jobPods(t *testing.T, c kubernetes.Interface, name string) []corev1.Pod {
	t.Helper()
	l, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + name})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func hasEvent(t *testing.T, c kubernetes.Interface, kind, name, reason string) bool {
	t.Helper()
	l, err := c.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Items {
		if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name && e.Reason == reason {
			return true
		}
	}
	return false
}

func waitEvent(t *testing.T, c kubernetes.Interface, kind, name, reason string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("event %s about %s %s", reason, kind, name), func() bool { return hasEvent(t, c, kind, name, reason) })
}

// checkCounted: a finished Job has counted every pod and released them.
func checkCounted(t *testing.T, c kubernetes.Interface, j *batchv1.Job) {
	t.Helper()
	if u := j.Status.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
		t.Errorf("job %s finished with uncounted pods %+v", j.Name, u)
	}
	for _, p := range jobPods(t, c, j.Name) {
		for _, f := range p.Finalizers {
			if f == batchv1.JobTrackingFinalizer {
				t.Errorf("pod %s of finished job %s still has the tracking finalizer", p.Name, j.Name)
			}
		}
	}
}

// TestJobController drives the Job controller through the API, with Node
// objects and a stand-in kubelet.
func TestJobController(t *testing.T) {
	needIntegration(t, "kubectl")
	t.Parallel()
	s := startServer(t)
	c := s.client()
	waitDefaultServiceAccount(t, c)
	schedNode(t, c, "n1", "64", "64Gi")
	kl := startFakeKubelet(t, c, 0)
	ctx := context.Background()

	t.Run("completions and parallelism", func(t *testing.T) {
		createJob(t, c, testJob("five", "succeed", func(j *batchv1.Job) {
			j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](5), ptr.To[int32](2)
		}))
		j := waitJobCondition(t, c, "five", batchv1.JobComplete, 60*time.Second)
		if got := conditionTypes(j); got != "SuccessCriteriaMet/CompletionsReached,Complete/CompletionsReached" {
			t.Errorf("conditions %q", got)
		}
		if j.Status.Succeeded != 5 || j.Status.Failed != 0 || j.Status.Active != 0 || j.Status.CompletionTime == nil || j.Status.StartTime == nil {
			t.Errorf("status %+v", j.Status)
		}
		if m := kl.max("five"); m > 2 || m == 0 {
			t.Errorf("%d pods ran at once, parallelism is 2", m)
		}
		if n := len(jobPods(t, c, "five")); n != 5 {
			t.Errorf("%d pods, want 5", n)
		}
		checkCounted(t, c, j)
		waitEvent(t, c, "Job", "five", "Completed", 10*time.Second)
		waitEvent(t, c, "Job", "five", "SuccessfulCreate", 10*time.Second)
		// kubectl sees it as kube shows it.
		out := s.mustKubectl("get", "job", "five", "--no-headers")
		if f := strings.Fields(out); len(f) < 3 || f[1] != "Complete" || f[2] != "5/5" {
			t.Errorf("kubectl get job: %q", out)
		}
	})

	t.Run("backoff limit", func(t *testing.T) {
		start := time.Now()
		createJob(t, c, testJob("failing", "fail", func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](1) }))
		j := waitJobCondition(t, c, "failing", batchv1.JobFailed, 60*time.Second)
		if got := conditionTypes(j); got != "FailureTarget/BackoffLimitExceeded,Failed/BackoffLimitExceeded" {
			t.Errorf("conditions %q", got)
		}
		if c := jobCondition(j, batchv1.JobFailed); c.Message != "Job has reached the specified backoff limit" {
			t.Errorf("message %q", c.Message)
		}
		if j.Status.Failed != 2 || j.Status.Succeeded != 0 || j.Status.CompletionTime != nil {
			t.Errorf("status %+v", j.Status)
		}
		// The second pod waits out the 10s back-off after the first failure.
		// The back-off counts from the failed container's finishedAt, which
		// the API keeps to the second, so up to 1s of it can already be gone.
		if d := time.Since(start); d < 9*time.Second {
			t.Errorf("failed after %s: no back-off between the two pods", d)
		}
		if n := len(jobPods(t, c, "failing")); n != 2 {
			t.Errorf("%d pods, want 2", n)
		}
		checkCounted(t, c, j)
		waitEvent(t, c, "Job", "failing", "BackoffLimitExceeded", 10*time.Second)
	})

	t.Run("active deadline", func(t *testing.T) {
		createJob(t, c, testJob("slow", "run", func(j *batchv1.Job) {
			j.Spec.Parallelism, j.Spec.Completions = ptr.To[int32](2), ptr.To[int32](4)
			j.Spec.ActiveDeadlineSeconds = ptr.To[int64](3)
		}))
		eventually(t, 20*time.Second, "two pods running", func() bool { return getJob(t, c, "slow").Status.Active == 2 })
		j := waitJobCondition(t, c, "slow", batchv1.JobFailed, 30*time.Second)
		if got := conditionTypes(j); got != "FailureTarget/DeadlineExceeded,Failed/DeadlineExceeded" {
			t.Errorf("conditions %q", got)
		}
		if j.Status.Active != 0 || j.Status.Failed != 0 {
			t.Errorf("status %+v", j.Status)
		}
		if n := len(jobPods(t, c, "slow")); n != 0 {
			t.Errorf("%d pods left running past the deadline", n)
		}
		waitEvent(t, c, "Job", "slow", "DeadlineExceeded", 10*time.Second)
		waitEvent(t, c, "Job", "slow", "SuccessfulDelete", 10*time.Second)
	})

	t.Run("indexed", func(t *testing.T) {
		createJob(t, c, testJob("idx", "succeed", func(j *batchv1.Job) {
			j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](4), ptr.To[int32](2)
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		}))
		j := waitJobCondition(t, c, "idx", batchv1.JobComplete, 60*time.Second)
		if j.Status.CompletedIndexes != "0-3" || j.Status.Succeeded != 4 {
			t.Errorf("completedIndexes %q succeeded %d", j.Status.CompletedIndexes, j.Status.Succeeded)
		}
		seen := map[string]bool{}
		for _, p := range jobPods(t, c, "idx") {
			ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
			seen[ix] = true
			if p.Labels[batchv1.JobCompletionIndexAnnotation] != ix || p.Spec.Hostname != "idx-"+ix || !strings.HasPrefix(p.Name, "idx-"+ix+"-") {
				t.Errorf("pod %s: index label %q, hostname %q", p.Name, p.Labels[batchv1.JobCompletionIndexAnnotation], p.Spec.Hostname)
			}
			env := p.Spec.Containers[0].Env
			if len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" || env[0].ValueFrom == nil || env[0].ValueFrom.FieldRef == nil ||
				env[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['batch.kubernetes.io/job-completion-index']" {
				t.Errorf("pod %s env %+v", p.Name, env)
			}
		}
		if len(seen) != 4 {
			t.Errorf("indexes %v", seen)
		}
		checkCounted(t, c, j)
	})

	t.Run("suspend and resume", func(t *testing.T) {
		createJob(t, c, testJob("later", "succeed", func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) }))
		j := waitJobCondition(t, c, "later", batchv1.JobSuspended, 20*time.Second)
		if len(jobPods(t, c, "later")) != 0 || j.Status.StartTime != nil {
			t.Fatalf("a suspended job started: %+v", j.Status)
		}
		waitEvent(t, c, "Job", "later", "Suspended", 10*time.Second)
		s.mustKubectl("patch", "job", "later", "--type=merge", "-p", `{"spec":{"suspend":false}}`)
		j = waitJobCondition(t, c, "later", batchv1.JobComplete, 30*time.Second)
		if cond := jobCondition(j, batchv1.JobSuspended); cond == nil || cond.Status != corev1.ConditionFalse || cond.Reason != "JobResumed" {
			t.Errorf("Suspended condition after resume: %+v", cond)
		}

		// Suspending a running Job stops its pods.
		createJob(t, c, testJob("paused", "run"))
		eventually(t, 20*time.Second, "a pod running", func() bool { return getJob(t, c, "paused").Status.Active == 1 })
		s.mustKubectl("patch", "job", "paused", "--type=merge", "-p", `{"spec":{"suspend":true}}`)
		waitJobCondition(t, c, "paused", batchv1.JobSuspended, 20*time.Second)
		eventually(t, 20*time.Second, "the suspended job's pod gone", func() bool {
			return len(jobPods(t, c, "paused")) == 0 && getJob(t, c, "paused").Status.Active == 0
		})
		if j := getJob(t, c, "paused"); j.Status.Failed != 0 {
			t.Errorf("suspending counted a failure: %+v", j.Status)
		}
	})

	t.Run("ttl after finished", func(t *testing.T) {
		createJob(t, c, testJob("brief", "succeed", func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](1) }))
		eventually(t, 60*time.Second, "job brief deleted after its TTL", func() bool {
			_, err := c.BatchV1().Jobs("default").Get(ctx, "brief", metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
		eventually(t, 30*time.Second, "its pods deleted", func() bool { return len(jobPods(t, c, "brief")) == 0 })
	})

	t.Run("deleting a running job", func(t *testing.T) {
		// Its pods hold the tracking finalizer: the controller lets go
		// of them so that the garbage collector can delete them.
		createJob(t, c, testJob("doomed", "run", func(j *batchv1.Job) { j.Spec.Parallelism, j.Spec.Completions = ptr.To[int32](2), ptr.To[int32](2) }))
		eventually(t, 20*time.Second, "two pods running", func() bool { return getJob(t, c, "doomed").Status.Active == 2 })
		s.mustKubectl("delete", "job", "doomed", "--wait=true", "--timeout=30s")
		eventually(t, 30*time.Second, "its pods gone", func() bool { return len(jobPods(t, c, "doomed")) == 0 })
	})

	t.Run("pod failure policy", func(t *testing.T) {
		createJob(t, c, testJob("policy", "fail", func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action:      batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}},
			}}}
		}))
		j := waitJobCondition(t, c, "policy", batchv1.JobFailed, 30*time.Second)
		if cond := jobCondition(j, batchv1.JobFailed); cond.Reason != "PodFailurePolicy" ||
			!strings.HasPrefix(cond.Message, "Container main for pod default/policy-") || !strings.HasSuffix(cond.Message, "failed with exit code 1 matching FailJob rule at index 0") {
			t.Errorf("Failed condition %+v", cond)
		}
	})
}

// TestCronJobController: a CronJob fires on the minute with kube's Job
// name and annotation, Forbid skips while a Job is active, history
// limits prune finished Jobs.
func TestCronJobController(t *testing.T) {
	needIntegration(t, "kubectl")
	t.Parallel()
	s := startServer(t)
	c := s.client()
	waitDefaultServiceAccount(t, c)
	schedNode(t, c, "n1", "64", "64Gi")
	startFakeKubelet(t, c, 0)
	ctx := context.Background()

	newCron := func(name string, policy batchv1.ConcurrencyPolicy) *batchv1.CronJob {
		cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: batchv1.CronJobSpec{
			Schedule: "*/1 * * * *", ConcurrencyPolicy: policy,
			SuccessfulJobsHistoryLimit: ptr.To[int32](1), FailedJobsHistoryLimit: ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{Spec: testJob("", "succeed").Spec},
		}}
		created, err := c.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return created
	}
	// A Job the CronJob owns that the Job controller leaves alone
	// (managedBy), so the test sets its status.
	ownedJob := func(cj *batchv1.CronJob, name string, cond batchv1.JobConditionType, started time.Time) *batchv1.Job {
		j := testJob(name, "run", func(j *batchv1.Job) {
			j.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))}
			j.Spec.ManagedBy = ptr.To("example.com/test")
		})
		j, err := c.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st := metav1.NewTime(started)
		j.Status.StartTime = &st
		if cond != "" {
			j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: st}}
			if cond == batchv1.JobComplete {
				j.Status.CompletionTime = &st
				j.Status.Conditions = append([]batchv1.JobCondition{{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: st}}, j.Status.Conditions...)
			}
		}
		if j, err = c.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		return j
	}

	// Set up well before a minute boundary, so that the first firing
	// comes after the history checks.
	if sec := time.Now().Second(); sec > 40 {
		<-time.After(time.Duration(61-sec) * time.Second)
	}
	every := newCron("every", batchv1.AllowConcurrent)
	forbid := newCron("forbid", batchv1.ForbidConcurrent)
	// Forbid already has a Job running.
	blocker := ownedJob(forbid, "forbid-blocker", "", time.Now())
	forbid.Status.Active = []corev1.ObjectReference{{Kind: "Job", APIVersion: "batch/v1", Namespace: "default", Name: blocker.Name, UID: blocker.UID}}
	if _, err := c.BatchV1().CronJobs("default").UpdateStatus(ctx, forbid, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// History: three Jobs completed, two failed; limits of one each.
	base := time.Now().Add(-time.Hour)
	for i, cond := range []batchv1.JobConditionType{batchv1.JobComplete, batchv1.JobComplete, batchv1.JobFailed, batchv1.JobComplete, batchv1.JobFailed} {
		ownedJob(every, "every-old-"+strconv.Itoa(i), cond, base.Add(time.Duration(i)*time.Minute))
	}
	eventually(t, 20*time.Second, "history pruned to the limits", func() bool {
		l, err := c.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, j := range l.Items {
			if strings.HasPrefix(j.Name, "every-old-") && j.DeletionTimestamp == nil {
				left = append(left, j.Name)
			}
		}
		return strings.Join(left, ",") == "every-old-3,every-old-4"
	})
	waitEvent(t, c, "CronJob", "every", "SuccessfulDelete", 10*time.Second)
	if cj, _ := c.BatchV1().CronJobs("default").Get(ctx, "every", metav1.GetOptions{}); cj.Status.LastSuccessfulTime == nil ||
		!cj.Status.LastSuccessfulTime.Time.Equal(base.Add(3*time.Minute).Truncate(time.Second)) {
		t.Errorf("lastSuccessfulTime %v, want the newest completion %v", cj.Status.LastSuccessfulTime, base.Add(3*time.Minute))
	}

	// The next minute boundary fires "every".
	var fired *batchv1.Job
	eventually(t, 75*time.Second, "CronJob every fires", func() bool {
		l, err := c.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, j := range l.Items {
			if strings.HasPrefix(j.Name, "every-") && !strings.HasPrefix(j.Name, "every-old-") {
				fired = &l.Items[i]
				return true
			}
		}
		return false
	})
	ts, err := time.Parse(time.RFC3339, fired.Annotations[batchv1.CronJobScheduledTimestampAnnotation])
	if err != nil || ts.Second() != 0 || fired.Name != fmt.Sprintf("every-%d", ts.Unix()/60) {
		t.Errorf("job %s with scheduled timestamp %q (%v)", fired.Name, fired.Annotations[batchv1.CronJobScheduledTimestampAnnotation], err)
	}
	if ref := metav1.GetControllerOf(fired); ref == nil || ref.UID != every.UID {
		t.Errorf("job %s is not controlled by the CronJob: %+v", fired.Name, fired.OwnerReferences)
	}
	waitEvent(t, c, "CronJob", "every", "SuccessfulCreate", 10*time.Second)
	// It completes, the CronJob sees it, and the older completed Job
	// goes (history limit 1).
	eventually(t, 60*time.Second, "the fired job complete and seen", func() bool {
		cj, err := c.BatchV1().CronJobs("default").Get(ctx, "every", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.BatchV1().Jobs("default").Get(ctx, "every-old-3", metav1.GetOptions{})
		return len(cj.Status.Active) == 0 && cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Time.Equal(ts) &&
			cj.Status.LastSuccessfulTime != nil && !cj.Status.LastSuccessfulTime.Time.Before(ts) && apierrors.IsNotFound(err)
	})
	waitEvent(t, c, "CronJob", "every", "SawCompletedJob", 10*time.Second)

	// Forbid skipped the same minute.
	waitEvent(t, c, "CronJob", "forbid", "JobAlreadyActive", 10*time.Second)
	l, err := c.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range l.Items {
		if strings.HasPrefix(j.Name, "forbid-") && j.Name != "forbid-blocker" {
			t.Errorf("Forbid started %s while forbid-blocker was active", j.Name)
		}
	}
	out := s.mustKubectl("get", "cronjob", "forbid", "-o", "jsonpath={.status.active[*].name}")
	if out != "forbid-blocker" {
		t.Errorf("forbid's active jobs: %q", out)
	}
}

// TestJobWithAgent runs Jobs on the server's own agent: real containers.
func TestJobWithAgent(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent())
	waitNodeReady(t, s, localNode(t), 60*time.Second)
	c := s.client()
	waitDefaultServiceAccount(t, c)

	s.mustKubectl("create", "job", "hello", "--image="+TestImage, "--", "sh", "-c", "echo done")
	if out, err := s.kubectl("wait", "--for=condition=complete", "job/hello", "--timeout=120s"); err != nil {
		t.Fatalf("kubectl wait: %v\n%s\n%s", err, out, s.mustKubectl("describe", "job", "hello"))
	}
	if out := s.mustKubectl("logs", "job/hello"); strings.TrimSpace(out) != "done" {
		t.Errorf("kubectl logs job/hello: %q", out)
	}
	j := getJob(t, c, "hello")
	if got := conditionTypes(j); got != "SuccessCriteriaMet/CompletionsReached,Complete/CompletionsReached" || j.Status.Succeeded != 1 {
		t.Errorf("conditions %q, status %+v", got, j.Status)
	}
	checkCounted(t, c, j)

	// An Indexed Job's containers get their index from the pod's label.
	out, err := s.kubectlStdin(`apiVersion: batch/v1
kind: Job
metadata: {name: indexed}
spec:
  completions: 2
  parallelism: 2
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: `+TestImage+`, imagePullPolicy: Never, command: [sh, -c, "echo index=$JOB_COMPLETION_INDEX"]}
`, "apply", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	if out, err := s.kubectl("wait", "--for=condition=complete", "job/indexed", "--timeout=120s"); err != nil {
		t.Fatalf("kubectl wait: %v\n%s\n%s", err, out, s.mustKubectl("describe", "job", "indexed"))
	}
	for _, p := range jobPods(t, c, "indexed") {
		want := "index=" + p.Annotations[batchv1.JobCompletionIndexAnnotation]
		if out := s.mustKubectl("logs", p.Name); strings.TrimSpace(out) != want {
			t.Errorf("pod %s logs %q, want %q", p.Name, out, want)
		}
	}

	out, err = s.kubectlStdin(`apiVersion: batch/v1
kind: Job
metadata: {name: fails}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: `+TestImage+`, imagePullPolicy: Never, command: [sh, -c, "exit 1"]}
`, "apply", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	if out, err := s.kubectl("wait", "--for=condition=failed", "job/fails", "--timeout=120s"); err != nil {
		t.Fatalf("kubectl wait: %v\n%s\n%s", err, out, s.mustKubectl("describe", "job", "fails"))
	}
	j = getJob(t, c, "fails")
	if cond := jobCondition(j, batchv1.JobFailed); cond.Reason != "BackoffLimitExceeded" || j.Status.Failed != 2 {
		t.Errorf("Failed condition %+v, status %+v", cond, j.Status)
	}
	checkCounted(t, c, j)
}
