package synchub

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func claimPodJSON(t *testing.T, name, node, claim string) []byte {
	t.Helper()
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: "uid-" + types.UID(name)}, Spec: corev1.PodSpec{NodeName: node,
		Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func claimJSON(name, volume string) []byte {
	b, _ := json.Marshal(corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: volume}})
	return b
}

func volumeJSON(name, cleanupNode string) []byte {
	pv := corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if cleanupNode != "" {
		now := metav1.Now()
		pv.DeletionTimestamp = &now
		pv.Finalizers = []string{protocol.LocalPathCleanupFinalizer}
		pv.Annotations = map[string]string{protocol.LocalPathNodeAnnotation: cleanupNode}
	}
	b, _ := json.Marshal(pv)
	return b
}

func volumeNames(d *protocol.Desired) []string {
	var out []string
	for _, c := range d.PersistentVolumeClaims {
		out = append(out, "PVC/"+c.Name+"="+c.Spec.VolumeName)
	}
	for _, v := range d.PersistentVolumes {
		out = append(out, "PV/"+v.Name)
	}
	for _, r := range d.Removed {
		if r.Kind != protocol.KindPod {
			out = append(out, "-"+r.Kind+"/"+r.Name)
		}
	}
	sort.Strings(out)
	return out
}

// TestIndexClaimsAndVolumes: a node gets the claims its pods use and the
// volumes those are bound to, following bindings as they happen; a
// deleted local-path volume goes to its node until the finalizer is gone.
func TestIndexClaimsAndVolumes(t *testing.T) {
	x := newIndex()
	x.reset(10)
	store := map[string][]byte{claimsPrefix + "ns/data": claimJSON("data", "")}
	get := func(key string, rev int64) ([]byte, error) { return store[key], nil }
	pvRef := protocol.Ref{Kind: protocol.KindPersistentVolume, Name: "pv1"}

	if err := x.applyPod(podsPrefix+"ns/a", claimPodJSON(t, "a", "n1", "data"), 11, get); err != nil {
		t.Fatal(err)
	}
	d, _ := x.document("n1", 0)
	eq(t, "unbound claim", volumeNames(d), "PVC/data=")

	// The claim binds: the volume follows.
	store[volumesPrefix+"pv1"] = volumeJSON("pv1", "")
	store[claimsPrefix+"ns/data"] = claimJSON("data", "pv1")
	if err := x.applyObj(protocol.KindPersistentVolume, volumesPrefix+"pv1", volumeJSON("pv1", ""), 12, get); err != nil {
		t.Fatal(err)
	}
	if d, _ := x.document("n1", 11); d != nil {
		t.Fatalf("an unused volume reached n1: %v", volumeNames(d))
	}
	if err := x.applyObj(protocol.KindPersistentVolumeClaim, claimsPrefix+"ns/data", claimJSON("data", "pv1"), 13, get); err != nil {
		t.Fatal(err)
	}
	d, _ = x.document("n1", 11)
	eq(t, "bound", volumeNames(d), "PV/pv1", "PVC/data=pv1")
	if !x.mayRead("n1", pvRef) || x.mayRead("n2", pvRef) {
		t.Fatal("volume read rights wrong")
	}

	// The pod goes: claim and volume leave the document.
	if err := x.applyPod(podsPrefix+"ns/a", nil, 14, get); err != nil {
		t.Fatal(err)
	}
	d, _ = x.document("n1", 13)
	eq(t, "pod gone", volumeNames(d), "-PersistentVolume/pv1", "-PersistentVolumeClaim/data")

	// The volume is deleted and waits for n1's cleanup: back in n1's
	// document (not n2's), until the finalizer goes.
	if err := x.applyObj(protocol.KindPersistentVolume, volumesPrefix+"pv1", volumeJSON("pv1", "n1"), 15, get); err != nil {
		t.Fatal(err)
	}
	d, _ = x.document("n1", 14)
	eq(t, "cleanup", volumeNames(d), "PV/pv1")
	if d, _ := x.document("n2", 0); len(d.PersistentVolumes) != 0 {
		t.Fatal("n2 got n1's volume")
	}
	if err := x.applyObj(protocol.KindPersistentVolume, volumesPrefix+"pv1", nil, 16, get); err != nil {
		t.Fatal(err)
	}
	d, _ = x.document("n1", 15)
	eq(t, "volume gone", volumeNames(d), "-PersistentVolume/pv1")
	if len(x.objs) != 0 {
		t.Fatalf("index keeps %v", x.objs)
	}
}
