package synchub

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"unsafe"

	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func podJSON(t *testing.T, name, node string, cms ...string) []byte {
	t.Helper()
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: "uid-" + types.UID(name)}, Spec: corev1.PodSpec{NodeName: node}}
	for _, cm := range cms {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: cm, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}}}})
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cmJSON(t *testing.T, name, v string) []byte {
	b, _ := json.Marshal(corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Data: map[string]string{"k": v}})
	return b
}

// names lists a document's objects as kind/name, sorted.
func names(d *protocol.Desired) []string {
	var out []string
	for _, p := range d.Pods {
		out = append(out, "Pod/"+p.Name)
	}
	for _, c := range d.ConfigMaps {
		out = append(out, "ConfigMap/"+c.Name+"="+c.Data["k"])
	}
	for _, r := range d.Removed {
		out = append(out, "-"+r.Kind+"/"+r.Name)
	}
	sort.Strings(out)
	return out
}

func eq(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

func TestIndexDocumentsAndDeltas(t *testing.T) {
	x := newIndex()
	x.reset(10)
	store := map[string][]byte{configMapsPrefix + "ns/cfg": cmJSON(t, "cfg", "v1")}
	get := func(key string, rev int64) ([]byte, error) { return store[key], nil }

	// Unreferenced ConfigMaps are not in any document.
	if err := x.applyObj(protocol.KindConfigMap, configMapsPrefix+"ns/other", cmJSON(t, "other", "x"), 11, nil); err != nil {
		t.Fatal(err)
	}
	// An unbound pod is in no document.
	if err := x.applyPod(podsPrefix+"ns/a", podJSON(t, "a", "", "cfg"), 12, get); err != nil {
		t.Fatal(err)
	}
	if d, _ := x.document("n1", 10); d != nil {
		t.Fatalf("n1 changed with no pod bound: %v", names(d))
	}
	// Binding it brings the pod and its ConfigMap.
	if err := x.applyPod(podsPrefix+"ns/a", podJSON(t, "a", "n1", "cfg"), 13, get); err != nil {
		t.Fatal(err)
	}
	d, _ := x.document("n1", 0)
	eq(t, "whole n1", names(d), "ConfigMap/cfg=v1", "Pod/a")
	if d.Revision != 13 || d.Since != 0 {
		t.Fatalf("revision %d since %d, want 13 and 0", d.Revision, d.Since)
	}
	if d, _ := x.document("n1", 13); d != nil {
		t.Fatalf("no change after 13, got %v", names(d))
	}
	// Another node is untouched.
	if d, _ := x.document("n2", 10); d != nil {
		t.Fatalf("n2 changed: %v", names(d))
	}
	// A ConfigMap update reaches the node as a delta.
	if err := x.applyObj(protocol.KindConfigMap, configMapsPrefix+"ns/cfg", cmJSON(t, "cfg", "v2"), 14, nil); err != nil {
		t.Fatal(err)
	}
	d, _ = x.document("n1", 13)
	eq(t, "delta 13..14", names(d), "ConfigMap/cfg=v2")
	if d.Since != 13 || d.Revision != 14 {
		t.Fatalf("since %d revision %d, want 13 and 14", d.Since, d.Revision)
	}
	// A second pod using the same ConfigMap; deleting the first keeps it.
	if err := x.applyPod(podsPrefix+"ns/b", podJSON(t, "b", "n1", "cfg"), 15, get); err != nil {
		t.Fatal(err)
	}
	if err := x.applyPod(podsPrefix+"ns/a", nil, 16, get); err != nil {
		t.Fatal(err)
	}
	d, _ = x.document("n1", 14)
	eq(t, "delta 14..16", names(d), "-Pod/a", "Pod/b")
	// The last user gone: the ConfigMap leaves the document too.
	if err := x.applyPod(podsPrefix+"ns/b", nil, 17, get); err != nil {
		t.Fatal(err)
	}
	d, _ = x.document("n1", 16)
	eq(t, "delta 16..17", names(d), "-ConfigMap/cfg", "-Pod/b")
	if x.mayRead("n1", protocol.Ref{Kind: protocol.KindConfigMap, Namespace: "ns", Name: "cfg"}) {
		t.Fatal("n1 may still read cfg after its last pod left")
	}
	// An agent from before the index's floor gets the whole document.
	d, _ = x.document("n1", 5)
	if d.Since != 0 {
		t.Fatalf("since 5 < floor 10 must get a whole document, got a delta since %d", d.Since)
	}
	eq(t, "whole n1 at 17", names(d))
}

// TestIndexSkipsUnusedObjects: a ConfigMap or Secret no pod uses is not
// decoded at all (most writes of them are of such), while one a bound pod
// uses is, so its bad value is reported.
func TestIndexSkipsUnusedObjects(t *testing.T) {
	x := newIndex()
	x.reset(10)
	store := map[string][]byte{configMapsPrefix + "ns/cfg": cmJSON(t, "cfg", "v1")}
	get := func(key string, rev int64) ([]byte, error) { return store[key], nil }
	bad := []byte("{not json")
	for _, kind := range []string{protocol.KindConfigMap, protocol.KindSecret} {
		prefix := map[string]string{protocol.KindConfigMap: configMapsPrefix, protocol.KindSecret: secretsPrefix}[kind]
		if err := x.applyObj(kind, prefix+"ns/unused", bad, 11, nil); err != nil {
			t.Fatalf("%s no pod uses: %v", kind, err)
		}
	}
	if err := x.applyPod(podsPrefix+"ns/a", podJSON(t, "a", "n1", "cfg"), 12, get); err != nil {
		t.Fatal(err)
	}
	if err := x.applyObj(protocol.KindConfigMap, configMapsPrefix+"ns/cfg", bad, 13, nil); err == nil {
		t.Fatal("a bad value of a ConfigMap a pod uses was accepted")
	}
	d, _ := x.document("n1", 0)
	eq(t, "n1", names(d), "ConfigMap/cfg=v1", "Pod/a")
}

func TestIndexMovesPodBetweenNodesAndWakesWaiters(t *testing.T) {
	x := newIndex()
	x.reset(1)
	get := func(string, int64) ([]byte, error) { return nil, nil }
	_, wait := x.document("n1", 1)
	if err := x.applyPod(podsPrefix+"ns/a", podJSON(t, "a", "n1"), 2, get); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wait:
	default:
		t.Fatal("a waiter on n1 was not woken by a change to n1")
	}
	if !x.mayRead("n1", protocol.Ref{Kind: protocol.KindPod, Namespace: "ns", Name: "a"}) {
		t.Fatal("n1 may not read its own pod")
	}
	if x.mayRead("n2", protocol.Ref{Kind: protocol.KindPod, Namespace: "ns", Name: "a"}) {
		t.Fatal("n2 may read n1's pod")
	}
	if !x.mayRead("n1", protocol.Ref{Kind: "ServiceAccount", Namespace: "ns", Name: "default"}) ||
		x.mayRead("n2", protocol.Ref{Kind: "ServiceAccount", Namespace: "ns", Name: "default"}) ||
		x.mayRead("n1", protocol.Ref{Kind: "ServiceAccount", Namespace: "ns", Name: "other"}) {
		t.Fatal("service account tokens: n1 runs a pod as ns/default and only that")
	}
	// A pod whose ConfigMap does not exist yet gets it once created.
	if err := x.applyPod(podsPrefix+"ns/c", podJSON(t, "c", "n1", "late"), 3, get); err != nil {
		t.Fatal(err)
	}
	if err := x.applyObj(protocol.KindConfigMap, configMapsPrefix+"ns/late", cmJSON(t, "late", "now"), 4, nil); err != nil {
		t.Fatal(err)
	}
	d, _ := x.document("n1", 3)
	eq(t, "late configmap", names(d), "ConfigMap/late=now")
}

// TestIndexSharesPodStrings: pods' entries keep no strings of their own
// where one would do (node, namespace, references); pods that differ
// keep their own references.
func TestIndexSharesPodStrings(t *testing.T) {
	x := newIndex()
	x.reset(10)
	get := func(string, int64) ([]byte, error) { return nil, nil }
	for i, p := range []struct {
		name, node string
		cms        []string
	}{
		{"a", "n1", []string{"cfg"}}, {"b", "n1", []string{"cfg"}}, {"c", "n1", []string{"other"}},
	} {
		if err := x.applyPod(podsPrefix+"ns/"+p.name, podJSON(t, p.name, p.node, p.cms...), int64(11+i), get); err != nil {
			t.Fatal(err)
		}
	}
	a, b, c := x.pods["ns/a"], x.pods["ns/b"], x.pods["ns/c"]
	if unsafe.StringData(a.node) != unsafe.StringData(b.node) || unsafe.StringData(a.node) != unsafe.StringData(x.nodes["n1"].name) {
		t.Error("the node's name is not shared")
	}
	if &a.refs[0] != &b.refs[0] {
		t.Error("equal references are not shared")
	}
	if len(c.refs) != 1 || c.refs[0].Name != "other" || a.refs[0].Name != "cfg" {
		t.Errorf("references: a %v, c %v", a.refs, c.refs)
	}
	if a.namespace != "ns" || a.serviceAccount != "default" {
		t.Errorf("namespace %q, service account %q", a.namespace, a.serviceAccount)
	}
	d, _ := x.document("n1", 10)
	eq(t, "n1", names(d), "Pod/a", "Pod/b", "Pod/c")
}

// TestIndexLeavesTheNodesOwnStatusOut: an update of only the status a
// node reports (its reports, stored) does not change the node's document;
// anything else of the pod does, and whatever sends the pod sends it as
// now stored.
func TestIndexLeavesTheNodesOwnStatusOut(t *testing.T) {
	x := newIndex()
	x.reset(10)
	get := func(string, int64) ([]byte, error) { return nil, nil }
	pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", UID: "uid-a"}, Spec: corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}}}
	rev := int64(10)
	put := func(what string, change func(p *corev1.Pod)) {
		t.Helper()
		change(&pod)
		b, err := json.Marshal(pod)
		if err != nil {
			t.Fatal(err)
		}
		rev++
		if err := x.applyPod(podsPrefix+"ns/a", b, rev, get); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	put("bind", func(*corev1.Pod) {})
	d, _ := x.document("n1", 10)
	eq(t, "bound", names(d), "Pod/a")
	have := d.Revision
	for _, c := range []struct {
		what   string
		change func(p *corev1.Pod)
		news   bool
	}{
		{"the node's status", func(p *corev1.Pod) {
			p.Status = protocol.MergePodStatus(p.Status, corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.5",
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}})
			p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "skiff-agent", Subresource: "status"}}
		}, false},
		{"the node's conditions again", func(p *corev1.Pod) {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue})
		}, false},
		{"a condition the server owns", func(p *corev1.Pod) {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: "example.com/gate", Status: corev1.ConditionTrue})
		}, true},
		{"a label", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "x"} }, true},
		{"deletion", func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{}; p.DeletionGracePeriodSeconds = new(int64) }, true},
	} {
		put(c.what, c.change)
		d, _ := x.document("n1", have)
		if !c.news {
			if d != nil {
				t.Fatalf("%s: the node got a document (%v)", c.what, names(d))
			}
			continue
		}
		if d == nil {
			t.Fatalf("%s: the node's document did not change", c.what)
		}
		eq(t, c.what, names(d), "Pod/a")
		if d.Pods[0].ResourceVersion != fmt.Sprint(rev) || d.Pods[0].Status.Phase != corev1.PodRunning || d.Pods[0].Status.PodIP != "10.42.0.5" {
			t.Fatalf("%s: sent the pod at %s with status %+v, want it at %d, Running", c.what, d.Pods[0].ResourceVersion, d.Pods[0].Status, rev)
		}
		have = d.Revision
	}
	// The status the hub merges the next report into is the stored one.
	p, err := x.pod("ns", "a")
	if err != nil || p.ResourceVersion != fmt.Sprint(rev) {
		t.Fatalf("pod: %v at %v, want %d", err, p, rev)
	}
}

// A pod without a node is not decoded: its JSON, without a "nodeName"
// key, is left alone (here it is not even valid). One with the key
// elsewhere is decoded, and placed only if it has a node.
func TestIndexSkipsUnboundPods(t *testing.T) {
	x := newIndex()
	x.reset(10)
	get := func(string, int64) ([]byte, error) { return nil, nil }
	if err := x.applyPod(podsPrefix+"ns/a", []byte(`{"metadata":{"name":"a"},"spec":{`), 11, get); err != nil {
		t.Fatalf("unbound pod decoded: %v", err)
	}
	labelled := func(node string) []byte {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns", UID: "uid-b", Labels: map[string]string{"nodeName": "n1"}},
			Spec: corev1.PodSpec{NodeName: node}}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := x.applyPod(podsPrefix+"ns/b", labelled(""), 12, get); err != nil {
		t.Fatal(err)
	}
	if d, _ := x.document("n1", 10); d != nil {
		t.Fatalf("n1 got an unbound pod: %v", names(d))
	}
	if err := x.applyPod(podsPrefix+"ns/b", labelled("n1"), 13, get); err != nil {
		t.Fatal(err)
	}
	d, _ := x.document("n1", 0)
	eq(t, "n1", names(d), "Pod/b")
}
