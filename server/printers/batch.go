package printers

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

var (
	jobSpecDoc        = batchv1.JobSpec{}.SwaggerDoc()
	cronJobSpecDoc    = batchv1beta1.CronJobSpec{}.SwaggerDoc()
	cronJobStatusDoc  = batchv1beta1.CronJobStatus{}.SwaggerDoc()
	jobSelectorColumn = metav1.TableColumnDefinition{Name: "Selector", Type: "string", Priority: 1, Description: jobSpecDoc["selector"]}
)

var jobPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Status", Type: "string", Description: "Status of the job."},
		{Name: "Completions", Type: "string", Description: batchv1.JobStatus{}.SwaggerDoc()["succeeded"]},
		{Name: "Duration", Type: "string", Description: "Time required to complete the job."},
		ageColumn,
		containersColumn,
		imagesColumn,
		jobSelectorColumn,
	},
	Row: rowOf(func(job *batchv1.Job, now time.Time) []interface{} {
		names, images := containerCells(job.Spec.Template.Spec.Containers)
		return []interface{}{
			job.Name, jobStatus(job), jobCompletions(job), jobDuration(job, now), age(job.CreationTimestamp, now),
			names, images, metav1.FormatLabelSelector(job.Spec.Selector),
		}
	}),
}

// jobStatus is the first of Complete, Failed, Terminating, Suspended and
// FailureTarget that applies, else Running.
func jobStatus(job *batchv1.Job) string {
	switch {
	case jobCondition(job, batchv1.JobComplete):
		return "Complete"
	case jobCondition(job, batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case jobCondition(job, batchv1.JobSuspended):
		return "Suspended"
	case jobCondition(job, batchv1.JobFailureTarget):
		return "FailureTarget"
	}
	return "Running"
}

func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// jobCompletions is "succeeded/completions"; a job without a completion
// count needs one success, shown "n/1", or "n/1 of <parallelism>".
func jobCompletions(job *batchv1.Job) string {
	if job.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	}
	if p := job.Spec.Parallelism; p != nil && *p > 1 {
		return fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, *p)
	}
	return fmt.Sprintf("%d/1", job.Status.Succeeded)
}

// jobDuration is how long the job ran, or has been running; empty before
// it starts.
func jobDuration(job *batchv1.Job, now time.Time) string {
	switch {
	case job.Status.StartTime == nil:
		return ""
	case job.Status.CompletionTime == nil:
		return duration.HumanDuration(now.Sub(job.Status.StartTime.Time))
	}
	return duration.HumanDuration(job.Status.CompletionTime.Sub(job.Status.StartTime.Time))
}

var cronJobPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Schedule", Type: "string", Description: cronJobSpecDoc["schedule"]},
		{Name: "Timezone", Type: "string", Description: cronJobSpecDoc["timeZone"]},
		{Name: "Suspend", Type: "boolean", Description: cronJobSpecDoc["suspend"]},
		{Name: "Active", Type: "integer", Description: cronJobStatusDoc["active"]},
		{Name: "Last Schedule", Type: "string", Description: cronJobStatusDoc["lastScheduleTime"]},
		ageColumn,
		containersColumn,
		imagesColumn,
		jobSelectorColumn,
	},
	Row: rowOf(func(cj *batchv1.CronJob, now time.Time) []interface{} {
		tz := "<none>"
		if cj.Spec.TimeZone != nil {
			tz = *cj.Spec.TimeZone
		}
		// kube defaults suspend to false, so it never shows "<unset>".
		suspend := "False"
		if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
			suspend = "True"
		}
		last := "<none>"
		if cj.Status.LastScheduleTime != nil {
			last = age(*cj.Status.LastScheduleTime, now)
		}
		tmpl := cj.Spec.JobTemplate.Spec
		names, images := containerCells(tmpl.Template.Spec.Containers)
		return []interface{}{
			cj.Name, cj.Spec.Schedule, tz, suspend, int64(len(cj.Status.Active)), last, age(cj.CreationTimestamp, now),
			names, images, metav1.FormatLabelSelector(tmpl.Selector),
		}
	}),
}
