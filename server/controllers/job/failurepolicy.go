package job

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// matchFailurePolicy finds the first rule of the Job's podFailurePolicy
// that a failed pod matches. It returns the rule's action (nil when none
// matches, which counts the failure as usual) and kube's message for the
// FailJob action.
func matchFailurePolicy(p *batchv1.PodFailurePolicy, pod *corev1.Pod) (*batchv1.PodFailurePolicyAction, string) {
	if p == nil {
		return nil, ""
	}
	for i, rule := range p.Rules {
		action := rule.Action
		if r := rule.OnExitCodes; r != nil {
			if cs := matchingContainer(r, pod); cs != nil {
				return &action, fmt.Sprintf("Container %s for pod %s/%s failed with exit code %v matching %v rule at index %d",
					cs.Name, pod.Namespace, pod.Name, cs.State.Terminated.ExitCode, action, i)
			}
			continue
		}
		for _, pc := range rule.OnPodConditions {
			for _, c := range pod.Status.Conditions {
				if c.Type == pc.Type && c.Status == pc.Status {
					return &action, fmt.Sprintf("Pod %s/%s has condition %v matching %v rule at index %d",
						pod.Namespace, pod.Name, c.Type, action, i)
				}
			}
		}
	}
	return nil, ""
}

// matchingContainer returns the status of a container (init containers
// first) that ended with a non-zero exit code the requirement selects;
// containers that succeeded never match.
func matchingContainer(r *batchv1.PodFailurePolicyOnExitCodesRequirement, pod *corev1.Pod) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for i := range list {
			cs := &list[i]
			t := cs.State.Terminated
			if t == nil || t.ExitCode == 0 {
				continue
			}
			if r.ContainerName != nil && *r.ContainerName != cs.Name {
				continue
			}
			in := false
			for _, v := range r.Values {
				if v == t.ExitCode {
					in = true
					break
				}
			}
			if in == (r.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) {
				return cs
			}
		}
	}
	return nil
}
