package podgc

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Defaults, Kubernetes'.
const (
	// DefaultThreshold is how many finished pods are kept
	// (--terminated-pod-gc-threshold).
	DefaultThreshold = 12500
	// DefaultQuarantine is how long a pod's node must be missing before
	// the pod is deleted: a Node and its pods may be created in either
	// order.
	DefaultQuarantine = 40 * time.Second
)

// Reason says why a pod is deleted.
type Reason string

// Reasons.
const (
	Orphaned               Reason = "node gone"
	Terminated             Reason = "too many finished pods"
	UnscheduledTerminating Reason = "deleted before it was scheduled"
)

// Deletion is one pod to delete.
type Deletion struct {
	Pod    *corev1.Pod
	Reason Reason
}

// Input is what Decide looks at.
type Input struct {
	Pods []*corev1.Pod
	// NodeExists reports whether a Node of that name exists.
	NodeExists func(name string) bool
	// MissingSince is when a node was first seen missing (the caller
	// tracks it across calls; false when not known missing).
	MissingSince func(name string) (time.Time, bool)
	// Threshold is how many finished pods to keep; <= 0 keeps them all.
	Threshold  int
	Quarantine time.Duration
	Now        time.Time
}

// Decide lists the pods to delete, and how long until a quarantine ends
// (0 if none is running).
func Decide(in Input) (out []Deletion, next time.Duration) {
	var finished []*corev1.Pod
	for _, p := range in.Pods {
		node := p.Spec.NodeName
		switch {
		case node == "" && p.DeletionTimestamp != nil:
			out = append(out, Deletion{p, UnscheduledTerminating})
			continue
		case node != "" && !in.NodeExists(node):
			since, ok := in.MissingSince(node)
			if !ok {
				since = in.Now
			}
			if end := since.Add(in.Quarantine); !in.Now.Before(end) {
				out = append(out, Deletion{p, Orphaned})
				continue
			} else if d := end.Sub(in.Now); next == 0 || d < next {
				next = d
			}
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			finished = append(finished, p)
		}
	}
	if in.Threshold > 0 && len(finished) > in.Threshold {
		sort.Slice(finished, func(i, j int) bool {
			a, b := finished[i], finished[j]
			if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
				return a.CreationTimestamp.Before(&b.CreationTimestamp)
			}
			return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
		})
		for _, p := range finished[:len(finished)-in.Threshold] {
			out = append(out, Deletion{p, Terminated})
		}
	}
	return out, next
}
