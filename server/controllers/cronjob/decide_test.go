package cronjob

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// t0 is 10:00:30 UTC: half a minute after a scheduled time of "* * * * *".
var t0 = time.Date(2026, 12, 2, 10, 0, 30, 0, time.UTC)

func mustParse(t *testing.T, spec string) cron.Schedule {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newCronJob(mut ...func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default", UID: "cj-uid", CreationTimestamp: metav1.NewTime(t0.Add(-5 * time.Minute))},
		Spec: batchv1.CronJobSpec{
			Schedule: "* * * * *", ConcurrencyPolicy: batchv1.AllowConcurrent, Suspend: ptr.To(false),
			SuccessfulJobsHistoryLimit: ptr.To[int32](3), FailedJobsHistoryLimit: ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "tick"}, Annotations: map[string]string{"a": "b"}},
				Spec:       batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever}}},
			},
		},
	}
	last := metav1.NewTime(t0.Add(-90 * time.Second)) // 09:59:00
	cj.Status.LastScheduleTime = &last
	for _, m := range mut {
		m(cj)
	}
	return cj
}

// job is a Job of the CronJob; cond "" is running.
func job(name string, cond batchv1.JobConditionType, started time.Time) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "tick", UID: "cj-uid", Controller: ptr.To(true)}}}}
	st := metav1.NewTime(started)
	j.Status.StartTime = &st
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}
		if cond == batchv1.JobComplete {
			done := metav1.NewTime(started.Add(10 * time.Second))
			j.Status.CompletionTime = &done
		}
	}
	return j
}

func active(names ...string) func(*batchv1.CronJob) {
	return func(cj *batchv1.CronJob) {
		for _, n := range names {
			cj.Status.Active = append(cj.Status.Active, corev1.ObjectReference{Kind: "Job", Name: n, Namespace: "default", UID: types.UID(n + "-uid")})
		}
	}
}

type summary struct {
	Create         string
	Delete         []string
	Active         []string
	LastSchedule   string
	LastSuccessful string
	Requeue        time.Duration
	Events         []string
}

func summarize(d Decision) summary {
	s := summary{Requeue: d.Requeue}
	if d.Create != nil {
		s.Create = d.Create.Name
	}
	for _, j := range d.Delete {
		s.Delete = append(s.Delete, j.Name)
	}
	for _, r := range d.Status.Active {
		s.Active = append(s.Active, r.Name)
	}
	if t := d.Status.LastScheduleTime; t != nil {
		s.LastSchedule = t.UTC().Format("15:04:05")
	}
	if t := d.Status.LastSuccessfulTime; t != nil {
		s.LastSuccessful = t.UTC().Format("15:04:05")
	}
	for _, e := range d.Events {
		s.Events = append(s.Events, e.Reason)
	}
	return s
}

func TestDecide(t *testing.T) {
	due := fmt.Sprintf("tick-%d", t0.Truncate(time.Minute).Unix()/60)
	next := 30*time.Second + nextDelta
	tests := []struct {
		name     string
		cj       *batchv1.CronJob
		jobs     []*batchv1.Job
		schedule string
		want     summary
	}{
		{
			name: "due: one Job named for the scheduled minute",
			cj:   newCronJob(),
			want: summary{Create: due, LastSchedule: "10:00:00", Requeue: next},
		},
		{
			name: "already started for this minute",
			cj: newCronJob(func(cj *batchv1.CronJob) {
				cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(t0.Truncate(time.Minute)))
			}),
			want: summary{LastSchedule: "10:00:00", Requeue: next},
		},
		{
			name: "a new CronJob waits for its first time",
			cj: newCronJob(func(cj *batchv1.CronJob) {
				cj.Status.LastScheduleTime = nil
				cj.CreationTimestamp = metav1.NewTime(t0.Add(-10 * time.Second))
			}),
			want: summary{Requeue: next},
		},
		{
			name: "hourly",
			cj: newCronJob(func(cj *batchv1.CronJob) {
				cj.Spec.Schedule = "@hourly"
				cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(t0.Truncate(time.Hour)))
			}),
			schedule: "@hourly",
			want:     summary{LastSchedule: "10:00:00", Requeue: time.Hour - 30*time.Second + nextDelta},
		},
		{
			name: "Forbid: skipped while a Job runs",
			cj:   newCronJob(active("tick-1"), func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent }),
			jobs: []*batchv1.Job{job("tick-1", "", t0.Add(-time.Minute))},
			want: summary{Active: []string{"tick-1"}, LastSchedule: "09:59:00", Requeue: next, Events: []string{"JobAlreadyActive"}},
		},
		{
			name: "Allow: runs alongside",
			cj:   newCronJob(active("tick-1")),
			jobs: []*batchv1.Job{job("tick-1", "", t0.Add(-time.Minute))},
			want: summary{Create: due, Active: []string{"tick-1"}, LastSchedule: "10:00:00", Requeue: next},
		},
		{
			name: "Replace: the running Job goes",
			cj:   newCronJob(active("tick-1"), func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent }),
			jobs: []*batchv1.Job{job("tick-1", "", t0.Add(-time.Minute))},
			want: summary{Create: due, Delete: []string{"tick-1"}, LastSchedule: "10:00:00", Requeue: next},
		},
		{
			name: "suspended: nothing starts",
			cj:   newCronJob(func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) }),
			want: summary{LastSchedule: "09:59:00"},
		},
		{
			name: "a finished active Job leaves the list",
			cj:   newCronJob(active("tick-1"), func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) }),
			jobs: []*batchv1.Job{job("tick-1", batchv1.JobComplete, t0.Add(-time.Minute))},
			want: summary{LastSchedule: "09:59:00", LastSuccessful: "09:59:40", Events: []string{"SawCompletedJob"}},
		},
		{
			name: "a missing active Job leaves the list",
			cj:   newCronJob(active("gone"), func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) }),
			want: summary{LastSchedule: "09:59:00", Events: []string{"MissingJob"}},
		},
		{
			name: "an unfinished Job not in the list is reported, not adopted",
			cj:   newCronJob(func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) }),
			jobs: []*batchv1.Job{job("stray", "", t0)},
			want: summary{LastSchedule: "09:59:00", Events: []string{"UnexpectedJob"}},
		},
		{
			name: "history limits: the oldest finished Jobs go",
			cj: newCronJob(func(cj *batchv1.CronJob) {
				cj.Spec.Suspend = ptr.To(true)
				cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](1)
			}),
			jobs: []*batchv1.Job{
				job("s2", batchv1.JobComplete, t0.Add(-2*time.Minute)), job("s3", batchv1.JobComplete, t0.Add(-1*time.Minute)),
				job("s1", batchv1.JobComplete, t0.Add(-3*time.Minute)), job("f1", batchv1.JobFailed, t0.Add(-3*time.Minute)),
				job("f2", batchv1.JobFailed, t0.Add(-2*time.Minute)), job("run", "", t0),
			},
			want: summary{Delete: []string{"s1", "s2", "f1"}, LastSchedule: "09:59:00", LastSuccessful: "09:59:40", Events: []string{"UnexpectedJob"}},
		},
		{
			name: "startingDeadlineSeconds: a start missed by more is skipped",
			cj: newCronJob(func(cj *batchv1.CronJob) {
				cj.Spec.Schedule = "0 * * * *"
				cj.Spec.StartingDeadlineSeconds = ptr.To[int64](10)
				cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(t0.Add(-2*time.Hour - 30*time.Second)))
			}),
			schedule: "0 * * * *",
			// 10:00 was missed by 30s: the next chance is 11:00.
			want: summary{LastSchedule: "08:00:00", Requeue: time.Hour - 30*time.Second + nextDelta},
		},
		{
			name: "startingDeadlineSeconds: within it, started late",
			cj: newCronJob(func(cj *batchv1.CronJob) {
				cj.Spec.StartingDeadlineSeconds = ptr.To[int64](60)
			}),
			want: summary{Create: due, LastSchedule: "10:00:00", Requeue: next},
		},
		{
			name: "too many missed start times: warned, the latest starts",
			cj: newCronJob(func(cj *batchv1.CronJob) {
				cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(t0.Add(-200*time.Minute - 30*time.Second)))
			}),
			want: summary{Create: due, LastSchedule: "10:00:00", Requeue: next, Events: []string{"TooManyMissedTimes"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.schedule
			if spec == "" {
				spec = "* * * * *"
			}
			before := tt.cj.DeepCopy()
			d := Decide(Input{CronJob: tt.cj, Jobs: tt.jobs, Now: t0, Schedule: mustParse(t, spec), Location: time.UTC})
			if diff := cmp.Diff(tt.want, summarize(d)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tt.cj); diff != "" {
				t.Errorf("Decide changed its input:\n%s", diff)
			}
		})
	}
}

func TestNewJob(t *testing.T) {
	cj := newCronJob()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no tz database: %v", err)
	}
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	j := newJob(cj, at, loc)
	if j.Name != fmt.Sprintf("tick-%d", at.Unix()/60) || j.Namespace != "default" {
		t.Errorf("name %s/%s", j.Namespace, j.Name)
	}
	if got := j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2026-12-02T11:00:00+01:00" {
		t.Errorf("scheduled timestamp %q", got)
	}
	if j.Labels["app"] != "tick" || j.Annotations["a"] != "b" || j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("template not copied: %+v", j)
	}
	if ref := metav1.GetControllerOf(j); ref == nil || ref.Kind != "CronJob" || ref.UID != cj.UID {
		t.Errorf("owner %+v", j.OwnerReferences)
	}
	if _, ok := cj.Spec.JobTemplate.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; ok {
		t.Error("newJob changed the template")
	}
}

func TestMostRecent(t *testing.T) {
	tests := []struct {
		spec       string
		from, now  string
		want       string
		wantMissed int64
		wantErr    bool
	}{
		{spec: "* * * * *", from: "10:00:00", now: "10:00:30", want: ""},
		{spec: "* * * * *", from: "10:00:00", now: "10:01:00", want: "10:01", wantMissed: 1},
		{spec: "*/5 * * * *", from: "10:00:00", now: "10:17:00", want: "10:15", wantMissed: 3},
		{spec: "* * * * *", from: "08:00:00", now: "10:00:30", want: "10:00", wantMissed: 120},
		{spec: "30 6-16/4 * * *", from: "00:00:00", now: "23:00:00", want: "14:30", wantMissed: 5}, // an estimate, as kube's
		{spec: "@every 1m30s", from: "10:00:00", now: "10:05:00", want: "10:04:30", wantMissed: 3},
		{spec: "TZ=Asia/Tokyo 0 19 * * *", from: "00:00:00", now: "11:00:00", want: "10:00", wantMissed: 1},
		{spec: "59 23 31 2 *", from: "00:00:00", now: "11:00:00", want: ""},
	}
	for _, tt := range tests {
		s, err := cron.ParseStandard(tt.spec)
		if err != nil {
			if strings.HasPrefix(tt.spec, "TZ=") {
				continue // no tz database on this host
			}
			t.Fatal(err)
		}
		at := func(v string) time.Time {
			tm, err := time.Parse("15:04:05", v)
			if err != nil {
				t.Fatal(err)
			}
			return time.Date(2026, 12, 2, tm.Hour(), tm.Minute(), tm.Second(), 0, time.UTC)
		}
		got, missed, err := mostRecent(s, at(tt.from), at(tt.now))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v", tt.spec, err)
			continue
		}
		gotS := ""
		if !got.IsZero() {
			gotS = got.UTC().Format("15:04")
			if got.Second() != 0 {
				gotS = got.UTC().Format("15:04:05")
			}
		}
		if gotS != tt.want || missed != tt.wantMissed {
			t.Errorf("%s from %s to %s: %q (%d missed), want %q (%d)", tt.spec, tt.from, tt.now, gotS, missed, tt.want, tt.wantMissed)
		}
	}
}
