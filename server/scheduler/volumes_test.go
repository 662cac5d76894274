package scheduler

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func withClaim(name string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: name,
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}})
	}
}

func claim(name, class, volume string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class), VolumeName: volume}}
}

func pinnedVolume(name, node string) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if node != "" {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
		}}}}
	}
	return pv
}

func TestVolumeBinding(t *testing.T) {
	classes := map[string]*storagev1.StorageClass{
		"wait": {ObjectMeta: metav1.ObjectMeta{Name: "wait"}, VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)},
		"now":  {ObjectMeta: metav1.ObjectMeta{Name: "now"}, VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)},
	}
	claims := map[string]*corev1.PersistentVolumeClaim{
		"delayed":   claim("delayed", "wait", ""),
		"immediate": claim("immediate", "now", ""),
		"noclass":   claim("noclass", "", ""),
		"on-b":      claim("on-b", "wait", "pv-b"),
		"anywhere":  claim("anywhere", "now", "pv-any"),
		"dangling":  claim("dangling", "now", "pv-missing"),
	}
	gone := claim("going", "wait", "")
	gone.DeletionTimestamp = &metav1.Time{}
	claims["going"] = gone
	volumes := map[string]*corev1.PersistentVolume{"pv-b": pinnedVolume("pv-b", "b"), "pv-any": pinnedVolume("pv-any", "")}
	lookup := VolumeLookup{
		Claim:  func(ns, name string) *corev1.PersistentVolumeClaim { return claims[name] },
		Volume: func(name string) *corev1.PersistentVolume { return volumes[name] },
		Class:  func(name string) *storagev1.StorageClass { return classes[name] },
	}
	tests := []struct {
		name    string
		claims  []string
		want    string // node, or the FitError text
		delayed int
	}{
		{"no claims", nil, "a", 0},
		{"delayed claim is schedulable", []string{"delayed"}, "a", 1},
		{"unbound immediate claim waits", []string{"immediate", "delayed"}, "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.", 1},
		{"claim without class is immediate", []string{"noclass"}, "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.", 0},
		{"missing claim", []string{"nope"}, `0/2 nodes are available: persistentvolumeclaim "nope" not found.`, 0},
		{"claim being deleted", []string{"going"}, `0/2 nodes are available: persistentvolumeclaim "going" is being deleted.`, 0},
		{"bound volume pins the node", []string{"on-b"}, "b", 0},
		{"bound volume without affinity", []string{"anywhere", "delayed"}, "a", 1},
		{"bound to a missing volume", []string{"dangling"}, "0/2 nodes are available: pvc(s) bound to non-existent pv(s).", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*corev1.Pod)
			for _, c := range tt.claims {
				opts = append(opts, withClaim(c))
			}
			p := pod("p", "", "", opts...)
			snap := NewSnapshot([]*corev1.Node{node("a", "4", "4Gi"), node("b", "1", "1Gi")}, nil)
			snap.Volumes = func(p *corev1.Pod) PodVolumes { return ClaimVolumes(p, lookup) }
			res, err := Schedule(snap, p)
			got := res.NodeName
			var fe *FitError
			if errors.As(err, &fe) {
				got = fe.Error()
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if n := len(ClaimVolumes(p, lookup).Delayed); n != tt.delayed {
				t.Errorf("%d delayed claims, want %d", n, tt.delayed)
			}
		})
	}
}

func TestVolumeAffinityConflict(t *testing.T) {
	snap := NewSnapshot([]*corev1.Node{node("a", "4", "4Gi")}, nil)
	snap.Volumes = func(*corev1.Pod) PodVolumes {
		return PodVolumes{Bound: []*corev1.PersistentVolume{pinnedVolume("pv", "elsewhere")}}
	}
	_, err := Schedule(snap, pod("p", "", ""))
	if err == nil || err.Error() != "0/1 nodes are available: 1 node(s) had volume node affinity conflict." {
		t.Fatalf("got %v", err)
	}
}
