package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/skiff-io/skiff/server/controllers/persistentvolume"
	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/utils/ptr"
)

// bootstrapStorageClass creates the built-in default StorageClass
// "local-path" when it is missing, as k3s ships one: claims that name no
// class get a directory on the node their first pod runs on.
func bootstrapStorageClass(ctx context.Context, s *storage.Store) error {
	key := "/registry/storageclasses/" + persistentvolume.LocalPathClass
	if _, _, err := s.Get(ctx, key); err == nil {
		return nil
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("bootstrap: %w", err)
	}
	sc := &storagev1.StorageClass{
		TypeMeta: metav1.TypeMeta{Kind: "StorageClass", APIVersion: "storage.k8s.io/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: persistentvolume.LocalPathClass, UID: uuid.NewUUID(), CreationTimestamp: metav1.Now(),
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner:       persistentvolume.LocalPathProvisioner,
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
	}
	b, _ := json.Marshal(sc)
	if _, err := s.Create(ctx, key, b, 0); err != nil && !errors.Is(err, errdefs.ErrAlreadyExists) {
		return fmt.Errorf("bootstrap storage class: %w", err)
	}
	return nil
}
