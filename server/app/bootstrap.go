package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// systemNamespaces exist from the first start, as on every Kubernetes cluster.
var systemNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// bootstrap creates what must exist before clients arrive. It writes only
// what is missing, so a restart writes nothing (SD cards).
func bootstrap(ctx context.Context, s *storage.Store) error {
	for _, name := range systemNamespaces {
		key := "/registry/namespaces/" + name
		if _, _, err := s.Get(ctx, key); err == nil {
			continue
		} else if !errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("bootstrap: %w", err)
		}
		ns := &corev1.Namespace{
			TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: uuid.NewUUID(), CreationTimestamp: metav1.Now(),
				Labels: map[string]string{"kubernetes.io/metadata.name": name}},
			Spec:   corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
			Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
		}
		b, _ := json.Marshal(ns)
		if _, err := s.Create(ctx, key, b, 0); err != nil && !errors.Is(err, errdefs.ErrAlreadyExists) {
			return fmt.Errorf("bootstrap namespace %s: %w", name, err)
		}
	}
	if err := bootstrapPriorityClasses(ctx, s); err != nil {
		return err
	}
	return bootstrapStorageClass(ctx, s)
}
