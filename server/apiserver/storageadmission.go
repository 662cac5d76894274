package apiserver

import (
	"context"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// Annotations that make a StorageClass the cluster's default.
const (
	isDefaultClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaIsDefaultClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

// admitPVCStorageClass does what kube-apiserver's DefaultStorageClass
// admission does: a new claim that does not name a class (storageClassName
// unset, not "") gets the default class. With several defaults the newest
// wins (ties: the name first in order), as since Kubernetes 1.28; with
// none the claim is left alone and the PV controller may give it a class
// later.
func (s *Server) admitPVCStorageClass(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if pvc.Spec.StorageClassName != nil {
		return nil
	}
	if _, ok := pvc.Annotations[corev1.BetaStorageClassAnnotation]; ok {
		return nil
	}
	const prefix = "/registry/storageclasses/"
	page, err := s.store.List(ctx, prefix, prefixEnd(prefix), 0, 0)
	if err != nil {
		return err
	}
	var best *storagev1.StorageClass
	for _, kv := range page.KVs {
		sc := &storagev1.StorageClass{}
		if err := json.Unmarshal(kv.Value, sc); err != nil {
			continue
		}
		if !isDefaultClass(sc) {
			continue
		}
		if best == nil || sc.CreationTimestamp.After(best.CreationTimestamp.Time) ||
			(sc.CreationTimestamp.Equal(&best.CreationTimestamp) && sc.Name < best.Name) {
			best = sc
		}
	}
	if best != nil {
		name := best.Name
		pvc.Spec.StorageClassName = &name
	}
	return nil
}

// isDefaultClass reports whether sc is marked as a default class.
func isDefaultClass(sc *storagev1.StorageClass) bool {
	return sc.Annotations[isDefaultClassAnnotation] == "true" || sc.Annotations[betaIsDefaultClassAnnotation] == "true"
}
