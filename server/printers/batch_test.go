package printers

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestJobCells(t *testing.T) {
	cond := func(t batchv1.JobConditionType, s corev1.ConditionStatus) []batchv1.JobCondition {
		return []batchv1.JobCondition{{Type: t, Status: s}}
	}
	tests := []struct {
		name                          string
		job                           batchv1.Job
		status, completions, duration string
	}{
		{"not started", batchv1.Job{}, "Running", "0/1", ""},
		{
			"parallel without completions",
			batchv1.Job{Spec: batchv1.JobSpec{Parallelism: ptr(int32(4))}, Status: batchv1.JobStatus{Succeeded: 1, StartTime: agoPtr(10 * time.Minute)}},
			"Running", "1/1 of 4", "10m",
		},
		{
			"complete",
			batchv1.Job{
				Spec: batchv1.JobSpec{Completions: ptr(int32(2))},
				Status: batchv1.JobStatus{
					Succeeded: 2, Conditions: cond(batchv1.JobComplete, corev1.ConditionTrue),
					StartTime: agoPtr(time.Hour), CompletionTime: agoPtr(time.Hour - 75*time.Second),
				},
			},
			"Complete", "2/2", "75s",
		},
		{"failed", batchv1.Job{Status: batchv1.JobStatus{Conditions: cond(batchv1.JobFailed, corev1.ConditionTrue)}}, "Failed", "0/1", ""},
		{"condition not true", batchv1.Job{Status: batchv1.JobStatus{Conditions: cond(batchv1.JobFailed, corev1.ConditionFalse)}}, "Running", "0/1", ""},
		{"suspended", batchv1.Job{Status: batchv1.JobStatus{Conditions: cond(batchv1.JobSuspended, corev1.ConditionTrue)}}, "Suspended", "0/1", ""},
		{"failure target", batchv1.Job{Status: batchv1.JobStatus{Conditions: cond(batchv1.JobFailureTarget, corev1.ConditionTrue)}}, "FailureTarget", "0/1", ""},
		{
			"terminating beats suspended",
			batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: ptr(ago(0))},
				Status:     batchv1.JobStatus{Conditions: cond(batchv1.JobSuspended, corev1.ConditionTrue)},
			},
			"Terminating", "0/1", "",
		},
	}
	for _, tt := range tests {
		row := jobPrinter.Row(&tt.job, now)
		if row[1] != tt.status || row[2] != tt.completions || row[3] != tt.duration {
			t.Errorf("%s: STATUS %q COMPLETIONS %q DURATION %q; want %q %q %q", tt.name, row[1], row[2], row[3], tt.status, tt.completions, tt.duration)
		}
	}
}
