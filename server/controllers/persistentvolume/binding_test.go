package persistentvolume

import (
	"strings"
	"testing"

	"github.com/skiff-io/skiff/server/scheduler"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func pvc(name, class, size string, opts ...func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-c-" + name)},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr.To(class),
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func pv(name, class, size string, opts ...func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
	v := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: "uid-v"},
		Spec: corev1.PersistentVolumeSpec{
			StorageClassName:              class,
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable},
	}
	for _, o := range opts {
		o(v)
	}
	return v
}

func claimRef(c *corev1.PersistentVolumeClaim, withUID bool) func(*corev1.PersistentVolume) {
	return func(v *corev1.PersistentVolume) {
		v.Spec.ClaimRef = &corev1.ObjectReference{Namespace: c.Namespace, Name: c.Name}
		if withUID {
			v.Spec.ClaimRef.UID = c.UID
		}
	}
}

func pinned(node string) func(*corev1.PersistentVolume) {
	return func(v *corev1.PersistentVolume) {
		v.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}}
	}
}

func node(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}}}
}

func TestFindVolume(t *testing.T) {
	claim := pvc("data", "manual", "2Gi")
	other := pvc("other", "manual", "1Gi")
	deleting := func(v *corev1.PersistentVolume) { v.DeletionTimestamp = &metav1.Time{} }
	released := func(v *corev1.PersistentVolume) { v.Status.Phase = corev1.VolumeReleased }
	labelled := func(v *corev1.PersistentVolume) { v.Labels = map[string]string{"tier": "gold"} }
	gold := pvc("data", "manual", "2Gi", func(c *corev1.PersistentVolumeClaim) {
		c.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "gold"}}
	})
	rwx := pvc("data", "manual", "1Gi", func(c *corev1.PersistentVolumeClaim) {
		c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
	})
	block := pvc("data", "manual", "1Gi", func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeBlock) })
	tests := []struct {
		name    string
		claim   *corev1.PersistentVolumeClaim
		volumes []*corev1.PersistentVolume
		node    *corev1.Node
		want    string
	}{
		{"none", claim, nil, nil, ""},
		{"smallest that fits", claim, []*corev1.PersistentVolume{pv("a", "manual", "10Gi"), pv("b", "manual", "1Gi"), pv("c", "manual", "3Gi"), pv("d", "manual", "2Gi")}, nil, "d"},
		{"ties by name", claim, []*corev1.PersistentVolume{pv("z", "manual", "5Gi"), pv("y", "manual", "5Gi")}, nil, "y"},
		{"class must match", claim, []*corev1.PersistentVolume{pv("a", "fast", "5Gi"), pv("b", "", "5Gi")}, nil, ""},
		{"claimed by another claim", claim, []*corev1.PersistentVolume{pv("a", "manual", "5Gi", claimRef(other, true))}, nil, ""},
		{"pre-bound to this claim wins over smaller", claim, []*corev1.PersistentVolume{pv("a", "manual", "2Gi"), pv("z", "manual", "50Gi", claimRef(claim, false))}, nil, "z"},
		{"pre-bound but too small", claim, []*corev1.PersistentVolume{pv("z", "manual", "1Gi", claimRef(claim, false))}, nil, ""},
		{"released and being deleted are skipped", claim, []*corev1.PersistentVolume{pv("a", "manual", "5Gi", released), pv("b", "manual", "5Gi", deleting)}, nil, ""},
		{"selector", gold, []*corev1.PersistentVolume{pv("a", "manual", "5Gi"), pv("b", "manual", "9Gi", labelled)}, nil, "b"},
		{"access modes", rwx, []*corev1.PersistentVolume{pv("a", "manual", "5Gi")}, nil, ""},
		{"volume mode", block, []*corev1.PersistentVolume{pv("a", "manual", "5Gi")}, nil, ""},
		{"node affinity with a selected node", claim, []*corev1.PersistentVolume{pv("a", "manual", "2Gi", pinned("n2")), pv("b", "manual", "4Gi", pinned("n1"))}, node("n1"), "b"},
		{"node affinity ignored without node", claim, []*corev1.PersistentVolume{pv("a", "manual", "2Gi", pinned("n2"))}, nil, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if v := FindVolume(tt.claim, tt.volumes, tt.node); v != nil {
				got = v.Name
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNextStep(t *testing.T) {
	wffc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-path"}, Provisioner: LocalPathProvisioner,
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)}
	immediateLocal := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-now"}, Provisioner: LocalPathProvisioner,
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)}
	external := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "ebs"}, Provisioner: "ebs.csi.aws.com",
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)}
	selected := func(n string) func(*corev1.PersistentVolumeClaim) {
		return func(c *corev1.PersistentVolumeClaim) { c.Annotations = map[string]string{scheduler.AnnSelectedNode: n} }
	}
	tests := []struct {
		name    string
		claim   *corev1.PersistentVolumeClaim
		class   *storagev1.StorageClass
		node    *corev1.Node
		volumes []*corev1.PersistentVolume
		kind    StepKind
		reason  string
	}{
		{"waits for a consumer", pvc("c", "local-path", "1Gi"), wffc, nil, nil, Wait, "WaitForFirstConsumer"},
		{"provisions on the selected node", pvc("c", "local-path", "1Gi", selected("n1")), wffc, node("n1"), nil, Provision, ""},
		{"selected node missing", pvc("c", "local-path", "1Gi", selected("gone")), wffc, nil, nil, Wait, "ProvisioningFailed"},
		{"static volume on the node first", pvc("c", "local-path", "1Gi", selected("n1")), wffc, node("n1"),
			[]*corev1.PersistentVolume{pv("static", "local-path", "1Gi", pinned("n1"))}, Bind, ""},
		{"static volume on another node is not used", pvc("c", "local-path", "1Gi", selected("n1")), wffc, node("n1"),
			[]*corev1.PersistentVolume{pv("static", "local-path", "1Gi", pinned("n2"))}, Provision, ""},
		{"local-path needs a node", pvc("c", "local-now", "1Gi"), immediateLocal, nil, nil, Wait, "ProvisioningFailed"},
		{"external provisioner", pvc("c", "ebs", "1Gi"), external, nil, nil, External, "ExternalProvisioning"},
		{"no class, no volume", pvc("c", "", "1Gi"), nil, nil, nil, Wait, "FailedBinding"},
		{"missing class", pvc("c", "nope", "1Gi"), nil, nil, nil, Wait, "ProvisioningFailed"},
		{"missing class, matching volume", pvc("c", "nope", "1Gi"), nil, nil, []*corev1.PersistentVolume{pv("v", "nope", "1Gi")}, Bind, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextStep(tt.claim, tt.class, tt.node, tt.volumes)
			if got.Kind != tt.kind || got.Reason != tt.reason {
				t.Errorf("got %+v, want kind %d reason %q", got, tt.kind, tt.reason)
			}
			if got.Kind == Provision && got.Node != tt.node.Name {
				t.Errorf("provision on %q", got.Node)
			}
		})
	}
}

func TestProvisionVolume(t *testing.T) {
	class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-path"}, Provisioner: LocalPathProvisioner,
		ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimRetain)}
	claim := pvc("data", "local-path", "3Gi")
	v := ProvisionVolume(claim, class, "edge-1", "/var/lib/skiff/storage")
	if v.Name != "pvc-"+string(claim.UID) || v.Spec.HostPath.Path != "/var/lib/skiff/storage/pvc-"+string(claim.UID)+"_ns_data" {
		t.Errorf("name %q path %q", v.Name, v.Spec.HostPath.Path)
	}
	if v.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain || v.Spec.StorageClassName != "local-path" {
		t.Errorf("policy %s class %s", v.Spec.PersistentVolumeReclaimPolicy, v.Spec.StorageClassName)
	}
	if !claimedBy(v, claim) || v.Spec.ClaimRef.UID != claim.UID {
		t.Errorf("claimRef %+v", v.Spec.ClaimRef)
	}
	if Mismatch(claim, v) != "" {
		t.Errorf("provisioned volume does not match its claim: %s", Mismatch(claim, v))
	}
	if !scheduler.VolumeFitsNode(v, node("edge-1")) || scheduler.VolumeFitsNode(v, node("edge-2")) {
		t.Error("node affinity does not pin edge-1")
	}
	if len(v.Finalizers) != 1 || v.Finalizers[0] != CleanupFinalizer || v.Annotations[AnnLocalPathNode] != "edge-1" {
		t.Errorf("finalizers %v annotations %v", v.Finalizers, v.Annotations)
	}
}

func TestDecideVolume(t *testing.T) {
	claim := pvc("data", "manual", "1Gi")
	bound := claim.DeepCopy()
	bound.Spec.VolumeName = "v"
	bound.Status.Phase = corev1.ClaimBound
	boundElsewhere := claim.DeepCopy()
	boundElsewhere.Spec.VolumeName = "w"
	replaced := claim.DeepCopy()
	replaced.UID = "new"
	phase := func(p corev1.PersistentVolumePhase) func(*corev1.PersistentVolume) {
		return func(v *corev1.PersistentVolume) { v.Status.Phase = p }
	}
	policy := func(p corev1.PersistentVolumeReclaimPolicy) func(*corev1.PersistentVolume) {
		return func(v *corev1.PersistentVolume) { v.Spec.PersistentVolumeReclaimPolicy = p }
	}
	byController := func(v *corev1.PersistentVolume) { v.Annotations = map[string]string{AnnBoundByController: "yes"} }
	tests := []struct {
		name   string
		pv     *corev1.PersistentVolume
		claim  *corev1.PersistentVolumeClaim
		action VolumeAction
		phase  corev1.PersistentVolumePhase
	}{
		{"new volume becomes Available", pv("v", "manual", "1Gi", phase(corev1.VolumePending)), nil, SetPhase, corev1.VolumeAvailable},
		{"Available stays", pv("v", "manual", "1Gi"), nil, Keep, ""},
		{"pre-bound, claim unbound: bind it", pv("v", "manual", "1Gi", claimRef(claim, false)), claim, SyncClaim, ""},
		{"pre-bound, no claim yet", pv("v", "manual", "1Gi", claimRef(claim, false)), nil, Keep, ""},
		{"half bound", pv("v", "manual", "1Gi", claimRef(claim, true)), claim, SyncClaim, ""},
		{"bound claim: Bound", pv("v", "manual", "1Gi", claimRef(claim, true)), bound, SetPhase, corev1.VolumeBound},
		{"Bound stays", pv("v", "manual", "1Gi", claimRef(claim, true), phase(corev1.VolumeBound)), bound, Keep, ""},
		{"claim gone: Released first", pv("v", "manual", "1Gi", claimRef(claim, true), phase(corev1.VolumeBound)), nil, SetPhase, corev1.VolumeReleased},
		{"claim replaced: Released", pv("v", "manual", "1Gi", claimRef(claim, true), phase(corev1.VolumeBound)), replaced, SetPhase, corev1.VolumeReleased},
		{"Retain keeps Released", pv("v", "manual", "1Gi", claimRef(claim, true), phase(corev1.VolumeReleased)), nil, Keep, ""},
		{"Delete deletes Released", pv("v", "manual", "1Gi", claimRef(claim, true), phase(corev1.VolumeReleased), policy(corev1.PersistentVolumeReclaimDelete)), nil, Delete, ""},
		{"Recycle fails", pv("v", "manual", "1Gi", claimRef(claim, true), phase(corev1.VolumeReleased), policy(corev1.PersistentVolumeReclaimRecycle)), nil, SetPhase, corev1.VolumeFailed},
		{"claim took another volume: unbind ours", pv("v", "manual", "1Gi", claimRef(claim, true), byController), boundElsewhere, Unbind, ""},
		{"user's pre-binding is kept", pv("v", "manual", "1Gi", claimRef(claim, true)), boundElsewhere, Keep, ""},
		{"being deleted: left alone", pv("v", "manual", "1Gi", claimRef(claim, true), func(v *corev1.PersistentVolume) { v.DeletionTimestamp = &metav1.Time{} }), nil, Keep, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DecideVolume(tt.pv, tt.claim)
			if got.Action != tt.action || got.Phase != tt.phase {
				t.Errorf("got %+v, want action %d phase %q", got, tt.action, tt.phase)
			}
		})
	}
}

func TestMismatchMessages(t *testing.T) {
	claim := pvc("data", "manual", "5Gi")
	if why := Mismatch(claim, pv("v", "manual", "1Gi")); !strings.Contains(why, "small") {
		t.Errorf("too small: %q", why)
	}
	if why := Mismatch(claim, pv("v", "other", "10Gi")); !strings.Contains(why, "class") {
		t.Errorf("class: %q", why)
	}
}
