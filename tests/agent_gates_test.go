package tests

import (
	"testing"
	"time"
)

// TestAgentReadinessGates: a pod with a readiness gate is not Ready while
// the gate's condition is missing, with the kubelet's reason, and turns
// Ready once whoever owns the gate sets it True in the pod's status: the
// agent reads the gate from the server's part of the status, not from
// its own report.
func TestAgentReadinessGates(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent())
	node := localNode(t)
	waitNodeReady(t, s, node, 60*time.Second)
	waitDefaultServiceAccount(t, s.client())
	s.mustKubectlStdin(`apiVersion: v1
kind: Pod
metadata: {name: gated}
spec:
  terminationGracePeriodSeconds: 1
  readinessGates: [{conditionType: example.com/lb}]
  containers:
  - name: c
    image: `+TestImage+`
    imagePullPolicy: Never
    command: ["sleep", "3600"]
`, "apply", "-f", "-")
	waitPodPhase(t, s, "default", "gated", "Running", 90*time.Second)
	const ready = `{.status.conditions[?(@.type=="Ready")].status}|{.status.conditions[?(@.type=="Ready")].reason}|{.status.conditions[?(@.type=="ContainersReady")].status}`
	eventually(t, 30*time.Second, "the containers Ready and the pod held back by its gate", func() bool {
		return podField(s, "default", "gated", ready) == "False|ReadinessGatesNotReady|True"
	})
	s.mustKubectl("patch", "pod", "gated", "--subresource=status", "--type=json",
		"-p", `[{"op":"add","path":"/status/conditions/-","value":{"type":"example.com/lb","status":"True"}}]`)
	eventually(t, 30*time.Second, "the pod Ready once its gate is True", func() bool {
		return podField(s, "default", "gated", ready) == "True||True"
	})
	if got := podField(s, "default", "gated", `{.status.conditions[?(@.type=="example.com/lb")].status}`); got != "True" {
		t.Fatalf("the gate's condition after the agent's report: %q", got)
	}
	s.mustKubectl("delete", "pod", "gated", "--wait=true", "--timeout=60s")
}
