package printers

import (
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations marking the default StorageClass (the beta one is still
// honoured by kube).
const (
	isDefaultClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaIsDefaultClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

var storageClassPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Provisioner", Type: "string", Description: "Indicates the type of the provisioner."},
		{Name: "ReclaimPolicy", Type: "string", Description: "Indicates the type of the reclaim policy."},
		{Name: "VolumeBindingMode", Type: "string", Description: "Indicates how PersistentVolumeClaims should be provisioned and bound."},
		{Name: "AllowVolumeExpansion", Type: "string", Description: "Indicates whether the storage class allow volume expand."},
		ageColumn,
	},
	Row: rowOf(func(sc *storagev1.StorageClass, now time.Time) []interface{} {
		name := sc.Name
		if sc.Annotations[isDefaultClassAnnotation] == "true" || sc.Annotations[betaIsDefaultClassAnnotation] == "true" {
			name += " (default)"
		}
		reclaim := string(corev1.PersistentVolumeReclaimDelete)
		if sc.ReclaimPolicy != nil {
			reclaim = string(*sc.ReclaimPolicy)
		}
		mode := string(storagev1.VolumeBindingImmediate)
		if sc.VolumeBindingMode != nil {
			mode = string(*sc.VolumeBindingMode)
		}
		expand := false
		if sc.AllowVolumeExpansion != nil {
			expand = *sc.AllowVolumeExpansion
		}
		return []interface{}{name, sc.Provisioner, reclaim, mode, strconv.FormatBool(expand), age(sc.CreationTimestamp, now)}
	}),
}
