package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
	"github.com/skiff-io/skiff/server/validation"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// bootstrapPriorityClasses creates the built-in system-node-critical and
// system-cluster-critical PriorityClasses that are missing, as
// kube-apiserver does at start.
func bootstrapPriorityClasses(ctx context.Context, s *storage.Store) error {
	for _, pc := range validation.SystemPriorityClasses() {
		key := "/registry/priorityclasses/" + pc.Name
		if _, _, err := s.Get(ctx, key); err == nil {
			continue
		} else if !errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("bootstrap: %w", err)
		}
		policy := corev1.PreemptLowerPriority
		pc.TypeMeta = metav1.TypeMeta{Kind: "PriorityClass", APIVersion: "scheduling.k8s.io/v1"}
		pc.UID = uuid.NewUUID()
		pc.CreationTimestamp = metav1.Now()
		pc.PreemptionPolicy = &policy
		b, _ := json.Marshal(pc)
		if _, err := s.Create(ctx, key, b, 0); err != nil && !errors.Is(err, errdefs.ErrAlreadyExists) {
			return fmt.Errorf("bootstrap priority class %s: %w", pc.Name, err)
		}
	}
	return nil
}
