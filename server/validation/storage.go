package validation

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// --- StorageClass ------------------------------------------------------------

var (
	// Recycle is not offered to classes: it is deprecated and only ever
	// applied to hand-made PersistentVolumes.
	supportedClassReclaim = sets.New(corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain)
	supportedBindingModes = sets.New(storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer)
)

// maxParametersLength bounds the total size of a class's parameters (kube's
// 256 KiB) and maxParameters their number.
const (
	maxParametersLength = 256 * 1024
	maxParameters       = 512
)

func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	errs := objectMeta(&sc.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, metaPath)
	pp := field.NewPath("provisioner")
	if sc.Provisioner == "" {
		errs = append(errs, field.Required(pp, ""))
	} else {
		errs = append(errs, qualifiedName(strings.ToLower(sc.Provisioner), pp)...)
	}
	size := 0
	for k, v := range sc.Parameters {
		if k == "" {
			errs = append(errs, field.Invalid(field.NewPath("parameters"), sc.Parameters, "key may not be empty"))
		}
		size += len(k) + len(v)
	}
	if len(sc.Parameters) > maxParameters {
		errs = append(errs, field.TooLong(field.NewPath("parameters"), "", maxParameters))
	}
	if size > maxParametersLength {
		errs = append(errs, field.TooLong(field.NewPath("parameters"), "", maxParametersLength))
	}
	if p := sc.ReclaimPolicy; p != nil && !supportedClassReclaim.Has(*p) {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), *p, sets.List(supportedClassReclaim)))
	}
	bp := field.NewPath("volumeBindingMode")
	switch {
	case sc.VolumeBindingMode == nil:
		errs = append(errs, field.Required(bp, ""))
	case !supportedBindingModes.Has(*sc.VolumeBindingMode):
		errs = append(errs, field.NotSupported(bp, *sc.VolumeBindingMode, sets.List(supportedBindingModes)))
	}
	// kube refuses two terms with the same requirements, and a key twice in
	// one term. An empty term counts as a repeat even when it is the only
	// one: kube compares each term with a list that starts with an empty
	// entry per term.
	tp := field.NewPath("allowedTopologies")
	var terms []map[string]sets.Set[string]
	for i, t := range sc.AllowedTopologies {
		ip := tp.Index(i)
		term := map[string]sets.Set[string]{}
		for j, r := range t.MatchLabelExpressions {
			rp := ip.Child("matchLabelExpressions").Index(j)
			errs = append(errs, qualifiedName(r.Key, rp.Child("key"))...)
			if len(r.Values) == 0 {
				errs = append(errs, field.Required(rp.Child("values"), "must specify as least one value"))
			}
			if _, dup := term[r.Key]; dup {
				errs = append(errs, field.Duplicate(rp.Child("key"), r.Key))
			}
			term[r.Key] = sets.New(r.Values...)
		}
		for _, prev := range terms {
			if semanticEqual(term, prev) {
				errs = append(errs, field.Duplicate(ip.Child("matchLabelExpressions"), ""))
			}
		}
		if len(term) == 0 {
			errs = append(errs, field.Duplicate(ip.Child("matchLabelExpressions"), ""))
		}
		terms = append(terms, term)
	}
	return errs
}

func validateStorageClassUpdate(sc, old *storagev1.StorageClass) field.ErrorList {
	errs := append(metaUpdate(&sc.ObjectMeta, &old.ObjectMeta), validateStorageClass(sc)...)
	errs = append(errs, immutable(sc.Parameters, old.Parameters, field.NewPath("parameters"))...)
	errs = append(errs, immutable(sc.Provisioner, old.Provisioner, field.NewPath("provisioner"))...)
	errs = append(errs, immutable(sc.ReclaimPolicy, old.ReclaimPolicy, field.NewPath("reclaimPolicy"))...)
	errs = append(errs, immutable(sc.VolumeBindingMode, old.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
	return errs
}
