package cronjob

import (
	"context"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestControllerStartsAJobOnce(t *testing.T) {
	cj := newCronJob()
	f := kubeclienttest.New(cj)
	c := New(f, Options{Now: func() time.Time { return t0 }})
	ctx := context.Background()
	after, err := c.Sync(ctx, "default/tick")
	if err != nil {
		t.Fatal(err)
	}
	if after != 30*time.Second+nextDelta {
		t.Errorf("requeue after %s", after)
	}
	jobs, err := f.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(jobs.Items) != 1 {
		t.Fatalf("jobs %v, %v", jobs, err)
	}
	got, _ := f.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{})
	if len(got.Status.Active) != 1 || got.Status.Active[0].Name != jobs.Items[0].Name ||
		!got.Status.LastScheduleTime.Time.Equal(t0.Truncate(time.Minute)) {
		t.Fatalf("status %+v", got.Status)
	}

	// A status write lost after the create: the next pass finds the Job
	// by its name and records it instead of starting another.
	got.Status.Active, got.Status.LastScheduleTime = nil, cj.Status.LastScheduleTime
	if _, err := f.BatchV1().CronJobs("default").UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The job is in the API but not yet in the (unstarted) cache.
	if _, err := c.Sync(ctx, "default/tick"); err != nil {
		t.Fatal(err)
	}
	jobs, _ = f.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
	got, _ = f.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{})
	if len(jobs.Items) != 1 || len(got.Status.Active) != 1 || got.Status.LastScheduleTime == nil {
		t.Fatalf("%d jobs, status %+v", len(jobs.Items), got.Status)
	}
}

func TestControllerUnknownTimeZone(t *testing.T) {
	cj := newCronJob(func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Nowhere/Atlantis") })
	f := kubeclienttest.New(cj)
	c := New(f, Options{Now: func() time.Time { return t0 }})
	if _, err := c.Sync(context.Background(), "default/tick"); err != nil {
		t.Fatal(err)
	}
	jobs, _ := f.BatchV1().Jobs("default").List(context.Background(), metav1.ListOptions{})
	if len(jobs.Items) != 0 {
		t.Fatalf("started %d jobs with an unknown time zone", len(jobs.Items))
	}
}
