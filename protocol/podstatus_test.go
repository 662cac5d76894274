package protocol

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestMergePodStatusKeepsWhatTheServerOwns(t *testing.T) {
	cond := func(t corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: s}
	}
	server := corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable, NominatedNodeName: "n1",
		Conditions: []corev1.PodCondition{cond(corev1.PodScheduled, "True"), cond(corev1.PodReady, "False"), cond("example.com/gate", "True")}}
	node := corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.7",
		Conditions: []corev1.PodCondition{cond(corev1.PodReady, "True"), cond(corev1.PodScheduled, "False")}}
	got := MergePodStatus(server, node)
	want := corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.7", QOSClass: corev1.PodQOSBurstable, NominatedNodeName: "n1",
		Conditions: []corev1.PodCondition{cond(corev1.PodScheduled, "True"), cond("example.com/gate", "True"), cond(corev1.PodReady, "True")}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged:\n%+v\nwant\n%+v", got, want)
	}
	// What the node does not report is exactly what the merge keeps of
	// the server's status.
	if s, m := ServerPodStatus(server), ServerPodStatus(got); !reflect.DeepEqual(s, m) {
		t.Fatalf("the server's part changed in the merge: %+v -> %+v", s, m)
	}
	if s := ServerPodStatus(server); s.Phase != "" || len(s.Conditions) != 2 || s.NominatedNodeName != "n1" {
		t.Fatalf("server part: %+v", s)
	}
}
