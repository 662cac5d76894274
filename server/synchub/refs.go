package synchub

import (
	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
)

// podRefs lists the ConfigMaps, Secrets and PersistentVolumeClaims a pod
// needs to run: volumes (projected ones too), env, envFrom and image pull
// secrets — what the Kubernetes Node authorizer lets a node read for its
// pods. The volumes bound to the claims follow from the claims (see
// index.acquire).
func podRefs(p *corev1.Pod) []protocol.Ref {
	seen := map[protocol.Ref]bool{}
	var out []protocol.Ref
	add := func(kind, name string) {
		if name == "" {
			return
		}
		r := protocol.Ref{Kind: kind, Namespace: p.Namespace, Name: name}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	for _, s := range p.Spec.ImagePullSecrets {
		add(protocol.KindSecret, s.Name)
	}
	for _, v := range p.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			add(protocol.KindConfigMap, v.ConfigMap.Name)
		case v.Secret != nil:
			add(protocol.KindSecret, v.Secret.SecretName)
		case v.PersistentVolumeClaim != nil:
			add(protocol.KindPersistentVolumeClaim, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			// A generic ephemeral volume's claim is named <pod>-<volume>.
			add(protocol.KindPersistentVolumeClaim, p.Name+"-"+v.Name)
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil {
					add(protocol.KindConfigMap, src.ConfigMap.Name)
				}
				if src.Secret != nil {
					add(protocol.KindSecret, src.Secret.Name)
				}
			}
		}
	}
	containers := func(cs []corev1.Container) {
		for _, c := range cs {
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					add(protocol.KindConfigMap, e.ConfigMapRef.Name)
				}
				if e.SecretRef != nil {
					add(protocol.KindSecret, e.SecretRef.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					add(protocol.KindConfigMap, r.Name)
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					add(protocol.KindSecret, r.Name)
				}
			}
		}
	}
	containers(p.Spec.InitContainers)
	containers(p.Spec.Containers)
	return out
}
