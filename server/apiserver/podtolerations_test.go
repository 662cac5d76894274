package apiserver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestAdmitPodDefaultTolerations(t *testing.T) {
	tests := []struct {
		name  string
		given []corev1.Toleration
		want  int // tolerations after admission
		secs  map[string]int64
	}{
		{"none given", nil, 2, map[string]int64{corev1.TaintNodeNotReady: 300, corev1.TaintNodeUnreachable: 300}},
		{"own unreachable kept", []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](5)}}, 2,
			map[string]int64{corev1.TaintNodeNotReady: 300, corev1.TaintNodeUnreachable: 5}},
		{"tolerates everything", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, 1, map[string]int64{}},
		{"NoSchedule only does not count", []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoSchedule}}, 3, map[string]int64{corev1.TaintNodeUnreachable: 300}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tt.given}}
			admitPodDefaultTolerations(p)
			if len(p.Spec.Tolerations) != tt.want {
				t.Fatalf("tolerations %+v", p.Spec.Tolerations)
			}
			for key, secs := range tt.secs {
				found := false
				for _, tol := range p.Spec.Tolerations {
					if tol.Key == key && tol.Effect == corev1.TaintEffectNoExecute && tol.TolerationSeconds != nil && *tol.TolerationSeconds == secs {
						found = true
					}
				}
				if !found {
					t.Errorf("no %s:NoExecute toleration for %ds in %+v", key, secs, p.Spec.Tolerations)
				}
			}
		})
	}
}
