package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func validStorageClass() *storagev1.StorageClass {
	return prepared(&storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: "local-path", ResourceVersion: "1"},
		Provisioner: "rancher.io/local-path",
		Parameters:  map[string]string{"nodePath": "/data"},
	})
}

func TestStorageClass(t *testing.T) {
	mut := func(fn func(*storagev1.StorageClass)) *storagev1.StorageClass {
		sc := validStorageClass()
		fn(sc)
		return sc
	}
	tests := []struct {
		name string
		sc   *storagev1.StorageClass
		want []string // error strings, in order
	}{
		{"valid", validStorageClass(), nil},
		{"no provisioner", mut(func(sc *storagev1.StorageClass) { sc.Provisioner = "" }), []string{"provisioner: Required value"}},
		{"bad provisioner", mut(func(sc *storagev1.StorageClass) { sc.Provisioner = "not a name" }), []string{`provisioner: Invalid value: "not a name"`}},
		{"recycle", mut(func(sc *storagev1.StorageClass) { sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRecycle) }),
			[]string{`reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"`}},
		{"binding mode", mut(func(sc *storagev1.StorageClass) { sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingMode("Later")) }),
			[]string{`volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"`}},
		{"empty topology, which kube calls a repeat", mut(func(sc *storagev1.StorageClass) { sc.AllowedTopologies = []corev1.TopologySelectorTerm{{}} }),
			[]string{"allowedTopologies[0].matchLabelExpressions: Duplicate value"}},
		{"repeated topology", mut(func(sc *storagev1.StorageClass) {
			term := corev1.TopologySelectorTerm{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{{Key: "zone", Values: []string{"a"}}}}
			sc.AllowedTopologies = []corev1.TopologySelectorTerm{term, term}
		}), []string{"allowedTopologies[1].matchLabelExpressions: Duplicate value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := Create(tt.sc)
			if len(errs) != len(tt.want) {
				t.Fatalf("got %v, want %v", errs, tt.want)
			}
			for i, e := range errs {
				if got := e.Error(); len(got) < len(tt.want[i]) || got[:len(tt.want[i])] != tt.want[i] {
					t.Errorf("error %d: %q, want prefix %q", i, got, tt.want[i])
				}
			}
		})
	}
	if sc := validStorageClass(); *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || *sc.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Errorf("defaults: %v %v", *sc.ReclaimPolicy, *sc.VolumeBindingMode)
	}

	old := validStorageClass()
	upd := func(fn func(*storagev1.StorageClass)) string {
		sc := old.DeepCopy()
		fn(sc)
		errs := Update(sc, old)
		if len(errs) == 0 {
			return ""
		}
		return errs[0].Error()
	}
	if got := upd(func(sc *storagev1.StorageClass) {
		sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	}); got != "" {
		t.Errorf("annotation update refused: %s", got)
	}
	if got := upd(func(sc *storagev1.StorageClass) { sc.Provisioner = "example.com/other" }); got != `provisioner: Invalid value: "example.com/other": field is immutable` {
		t.Errorf("provisioner update: %q", got)
	}
	if got := upd(func(sc *storagev1.StorageClass) { sc.Parameters = nil }); got != "parameters: Invalid value: null: field is immutable" {
		t.Errorf("parameters update: %q", got)
	}
	if got := upd(func(sc *storagev1.StorageClass) {
		sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
	}); got == "" {
		t.Error("binding mode update accepted")
	}
}
