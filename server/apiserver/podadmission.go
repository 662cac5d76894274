package apiserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/skiff-io/skiff/server/errdefs"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
)

var serviceAccountsGVR = corev1.SchemeGroupVersion.WithResource("serviceaccounts")

// serviceAccountMountPath is where pods find their API credentials.
const serviceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// admitPodServiceAccount does for a new pod what kube-apiserver's
// ServiceAccount admission does: the pod runs as "default" unless it names
// a service account, which must exist; and unless automountServiceAccountToken
// is false (on the pod, else on the service account) a projected volume
// kube-api-access-<random> — a token, the cluster CA (kube-root-ca.crt) and
// the namespace — is mounted read-only at
// /var/run/secrets/kubernetes.io/serviceaccount in every container that
// does not mount something there itself.
//
// One difference: a missing "default" service account is not an error.
// The service account controller creates it moments after a namespace
// appears, and refusing pods in that window would make a fresh cluster
// flaky; the agent asks for the token when the pod starts.
func (s *Server) admitPodServiceAccount(ctx context.Context, pod *corev1.Pod) error {
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = "default"
	}
	pod.Spec.DeprecatedServiceAccount = pod.Spec.ServiceAccountName
	var sa *accountDigest
	if d, ok := s.accounts.get(pod.Namespace + "/" + pod.Spec.ServiceAccountName); ok {
		sa = &d
	} else if res := s.byGVR[serviceAccountsGVR]; res != nil {
		// Not seen yet (created a moment ago, or absent): the datastore.
		_, obj, err := s.load(ctx, res, pod.Namespace, pod.Spec.ServiceAccountName)
		switch {
		case err == nil:
			sa = &accountDigest{automount: obj.(*corev1.ServiceAccount).AutomountServiceAccountToken}
		case errors.Is(err, errdefs.ErrNotFound):
			if pod.Spec.ServiceAccountName != "default" {
				return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.Name,
					fmt.Errorf("error looking up service account %s/%s: serviceaccount %q not found", pod.Namespace, pod.Spec.ServiceAccountName, pod.Spec.ServiceAccountName))
			}
		default:
			return err
		}
	}
	automount := true
	switch {
	case pod.Spec.AutomountServiceAccountToken != nil:
		automount = *pod.Spec.AutomountServiceAccountToken
	case sa != nil && sa.automount != nil:
		automount = *sa.automount
	}
	if !automount {
		return nil
	}
	name := ""
	for _, v := range pod.Spec.Volumes {
		if v.Projected != nil && len(v.Name) > len("kube-api-access-") && v.Name[:len("kube-api-access-")] == "kube-api-access-" {
			name = v.Name // already there (a re-created pod)
		}
	}
	if name == "" {
		name = "kube-api-access-" + utilrand.String(5)
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			Projected: &corev1.ProjectedVolumeSource{
				DefaultMode: ptr.To[int32](corev1.ProjectedVolumeSourceDefaultMode),
				Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](3607), Path: "token"}},
					{ConfigMap: &corev1.ConfigMapProjection{
						LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
						Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
					}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
						Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
					}}}},
				},
			},
		}})
	}
	mount := func(cs []corev1.Container) {
		for i := range cs {
			has := false
			for _, m := range cs[i].VolumeMounts {
				if m.MountPath == serviceAccountMountPath {
					has = true
				}
			}
			if !has {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: serviceAccountMountPath})
			}
		}
	}
	mount(pod.Spec.InitContainers)
	mount(pod.Spec.Containers)
	return nil
}

// defaultTolerationSeconds is how long a new pod tolerates its node being
// not ready or unreachable before it is evicted (kube-apiserver's
// DefaultTolerationSeconds admission, --default-*-toleration-seconds).
const defaultTolerationSeconds = 300

// admitPodDefaultTolerations does what kube-apiserver's
// DefaultTolerationSeconds admission does: a pod that does not say how
// long it tolerates the node.kubernetes.io/not-ready and /unreachable
// NoExecute taints tolerates each for five minutes. (Edge nodes do not
// evict at all unless told to: see server/controllers/nodelifecycle.)
func admitPodDefaultTolerations(pod *corev1.Pod) {
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		tolerated := false
		for _, t := range pod.Spec.Tolerations {
			if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
				tolerated = true
				break
			}
		}
		if !tolerated {
			pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
				Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute,
				TolerationSeconds: ptr.To[int64](defaultTolerationSeconds),
			})
		}
	}
}
