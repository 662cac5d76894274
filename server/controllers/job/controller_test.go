package job

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// fixture runs the controller's Sync against a fake API, feeding its pod
// cache by hand (as the informer would) and playing the kubelet.
type fixture struct {
	t      *testing.T
	client kubeclienttest.Fake
	c      *Controller
	now    time.Time
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	f := &fixture{t: t, client: kubeclienttest.New(objs...), now: t0}
	n := 0
	// The fake API does not generate names and UIDs: do it as the server does.
	f.client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		n++
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s%05d", p.GenerateName, n)
		}
		p.UID = types.UID(fmt.Sprintf("uid-%d", n))
		p.CreationTimestamp = metav1.NewTime(f.now)
		return false, nil, nil
	})
	f.c = New(f.client, Options{Now: func() time.Time { return f.now }})
	return f
}

func (f *fixture) pods() []corev1.Pod {
	l, err := f.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return l.Items
}

// refresh makes the cache show the API's pods.
func (f *fixture) refresh() {
	idx := f.c.podInformer.GetIndexer()
	for _, o := range idx.List() {
		_ = idx.Delete(o)
	}
	for _, p := range f.pods() {
		_ = idx.Add(p.DeepCopy())
	}
}

func (f *fixture) sync() time.Duration {
	f.t.Helper()
	f.refresh()
	after, err := f.c.Sync(context.Background(), "default/pi")
	if err != nil {
		f.t.Fatal(err)
	}
	return after
}

func (f *fixture) job() *batchv1.Job {
	j, err := f.client.BatchV1().Jobs("default").Get(context.Background(), "pi", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return j
}

// finishPods ends every pending pod: exit code 0 or 1.
func (f *fixture) finishPods(code int32) int {
	n := 0
	for _, p := range f.pods() {
		if p.Status.Phase != "" || p.DeletionTimestamp != nil {
			continue
		}
		n++
		p.Status.Phase = corev1.PodSucceeded
		if code != 0 {
			p.Status.Phase = corev1.PodFailed
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.NewTime(f.now)}}}}
		if _, err := f.client.CoreV1().Pods("default").UpdateStatus(context.Background(), &p, metav1.UpdateOptions{}); err != nil {
			f.t.Fatal(err)
		}
	}
	return n
}

func TestControllerCompletesAJob(t *testing.T) {
	j := newJob(func(j *batchv1.Job) {
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](2)
		j.Status = batchv1.JobStatus{}
	})
	f := newFixture(t, j)
	for round := 0; round < 20; round++ {
		f.sync()
		if _, _, done := Finished(f.job()); done {
			break
		}
		f.refresh()
		if n := f.finishPods(0); n > 2 {
			t.Fatalf("%d pods ran at once, parallelism is 2", n)
		}
		f.now = f.now.Add(time.Second)
	}
	got := f.job()
	if conditionsOf(got) != "SuccessCriteriaMet/CompletionsReached,Complete/CompletionsReached" || got.Status.Succeeded != 3 {
		t.Fatalf("conditions %q, status %+v", conditionsOf(got), got.Status)
	}
	pods := f.pods()
	if len(pods) != 3 {
		t.Errorf("%d pods, want 3", len(pods))
	}
	for _, p := range pods {
		if hasFinalizer(&p) {
			t.Errorf("pod %s keeps the tracking finalizer", p.Name)
		}
	}
}

func TestControllerCountsBeforeReleasing(t *testing.T) {
	j := newJob(func(j *batchv1.Job) { j.Status = batchv1.JobStatus{} })
	f := newFixture(t, j)
	f.sync()
	f.refresh()
	f.finishPods(1)
	// Every finalizer removal must come after the status write that
	// records the pod as uncounted.
	recorded := map[string]bool{}
	f.client.PrependReactor("update", "jobs", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" {
			if u := a.(clienttesting.UpdateAction).GetObject().(*batchv1.Job).Status.UncountedTerminatedPods; u != nil {
				for _, uid := range u.Failed {
					recorded[string(uid)] = true
				}
			}
		}
		return false, nil, nil
	})
	released := 0
	f.client.PrependReactor("patch", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		name := a.(clienttesting.PatchAction).GetName()
		p, err := f.client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), "default", name)
		if err != nil {
			return false, nil, err
		}
		if !recorded[string(p.(*corev1.Pod).UID)] {
			t.Errorf("pod %s released before it was recorded", name)
		}
		released++
		return false, nil, nil
	})
	f.sync()
	if released != 1 {
		t.Fatalf("%d pods released, want 1", released)
	}
	got := f.job()
	if got.Status.Failed != 0 || len(got.Status.UncountedTerminatedPods.Failed) != 1 {
		t.Fatalf("after the first pass: %+v", got.Status)
	}
	f.sync()
	if got = f.job(); got.Status.Failed != 1 || len(got.Status.UncountedTerminatedPods.Failed) != 0 {
		t.Fatalf("after the second pass: %+v", got.Status)
	}
	// The replacement waits out the back-off, then comes.
	if after := f.sync(); after != DefaultBackoff || len(f.pods()) != 1 {
		t.Fatalf("requeue %s, %d pods", after, len(f.pods()))
	}
	f.now = f.now.Add(DefaultBackoff)
	f.sync()
	if n := len(f.pods()); n != 2 {
		t.Fatalf("%d pods after the back-off, want 2", n)
	}
}

func TestControllerDeletesAfterTTL(t *testing.T) {
	j := newJob(func(j *batchv1.Job) {
		j.Spec.TTLSecondsAfterFinished = ptr.To[int32](60)
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(t0.Add(-20 * time.Second))}}
	})
	f := newFixture(t, j)
	if after := f.sync(); after != 40*time.Second {
		t.Fatalf("requeue after %s, want 40s", after)
	}
	f.now = f.now.Add(40 * time.Second)
	f.sync()
	if _, err := f.client.BatchV1().Jobs("default").Get(context.Background(), "pi", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("job not deleted after its TTL: %v", err)
	}
}

func TestControllerLeavesOtherManagers(t *testing.T) {
	j := newJob(func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To("example.com/other") })
	f := newFixture(t, j)
	f.sync()
	if n := len(f.pods()); n != 0 {
		t.Fatalf("created %d pods for a Job managed elsewhere", n)
	}
}

func conditionsOf(j *batchv1.Job) string {
	s := summarize(Decision{Status: j.Status})
	return s.Conditions
}

// TestControllerAdoptsAndReleases: an orphan the selector matches is
// adopted (and counts instead of a new pod), a pod relabelled out of the
// selector is released.
func TestControllerAdoptsAndReleases(t *testing.T) {
	j := newJob(func(j *batchv1.Job) {
		j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.JobNameLabel: "pi"}}
		j.Status = batchv1.JobStatus{}
	})
	orphan := pod("orphan", corev1.PodRunning, func(p *corev1.Pod) {
		p.OwnerReferences, p.Finalizers = nil, nil
		p.Labels = map[string]string{batchv1.JobNameLabel: "pi"}
	})
	f := newFixture(t, j, orphan)
	f.sync()
	pods := f.pods()
	if len(pods) != 1 {
		t.Fatalf("%d pods after adopting the orphan, want it alone", len(pods))
	}
	if ref := metav1.GetControllerOf(&pods[0]); ref == nil || ref.UID != j.UID || !hasFinalizer(&pods[0]) {
		t.Fatalf("adopted pod: owners %+v, finalizers %v", pods[0].OwnerReferences, pods[0].Finalizers)
	}
	p := pods[0]
	p.Labels = nil
	if _, err := f.client.CoreV1().Pods("default").Update(context.Background(), &p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.sync()
	released, err := f.client.CoreV1().Pods("default").Get(context.Background(), "orphan", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if metav1.GetControllerOf(released) != nil || hasFinalizer(released) {
		t.Errorf("released pod: owners %+v, finalizers %v", released.OwnerReferences, released.Finalizers)
	}
}
