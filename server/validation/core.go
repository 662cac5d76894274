package validation

import (
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// maxSecretSize bounds the payload of a ConfigMap or Secret: etcd's request
// limit is not much larger, and kube refuses anything over 1 MiB.
const maxSecretSize = 1 * 1024 * 1024

var sysctlRegexp = regexp.MustCompile(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)

func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	errs := objectMeta(&ns.ObjectMeta, false, apivalidation.ValidateNamespaceName, metaPath)
	for _, f := range ns.Spec.Finalizers {
		fp := specPath.Child("finalizers")
		errs = append(errs, apivalidation.ValidateFinalizerName(string(f), fp)...)
		errs = append(errs, kubeFinalizerName(string(f), fp)...)
	}
	return errs
}

func validateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	// kube's declarative name rule for controllers checks the name only,
	// not generateName.
	m := rc.ObjectMeta.DeepCopy()
	m.GenerateName = ""
	errs := objectMeta(m, true, apivalidation.NameIsDNSSubdomain, metaPath)
	spec := &rc.Spec
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	if len(spec.Selector) == 0 {
		errs = append(errs, field.Required(specPath.Child("selector"), ""))
	}
	if spec.Replicas != nil {
		errs = append(errs, nonNegative(int64(*spec.Replicas), specPath.Child("replicas"))...)
	}
	tp := specPath.Child("template")
	if spec.Template == nil {
		return append(errs, field.Required(tp, ""))
	}
	if len(spec.Selector) > 0 && !selectorMatches(spec.Selector, spec.Template.Labels) {
		errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, podTemplateSpec(spec.Template, tp, podOpts{})...)
	if spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), spec.Template.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if spec.Template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tp.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicationController is not Supported"))
	}
	return errs
}

func selectorMatches(sel, lbls map[string]string) bool {
	for k, v := range sel {
		if lv, ok := lbls[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// --- ConfigMap and Secret --------------------------------------------------

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	errs := objectMeta(&cm.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	total := 0
	for k, v := range cm.Data {
		kp := field.NewPath("data").Key(k)
		for _, msg := range utilvalidation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(kp, k, msg))
		}
		if _, dup := cm.BinaryData[k]; dup {
			errs = append(errs, field.Invalid(kp, k, "duplicate of key present in binaryData"))
		}
		total += len(v)
	}
	for k, v := range cm.BinaryData {
		for _, msg := range utilvalidation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(k), k, msg))
		}
		total += len(v)
	}
	if total > maxSecretSize {
		// An empty path: the error is about the whole object.
		errs = append(errs, field.TooLong(field.NewPath(""), "", maxSecretSize))
	}
	return errs
}

func validateConfigMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	errs := metaUpdate(&cm.ObjectMeta, &old.ObjectMeta)
	if old.Immutable != nil && *old.Immutable {
		if cm.Immutable == nil || !*cm.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(cm.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(cm.BinaryData, old.BinaryData) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), "field is immutable when `immutable` is set"))
		}
	}
	return append(errs, validateConfigMap(cm)...)
}

func validateSecret(s *corev1.Secret) field.ErrorList {
	errs := objectMeta(&s.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	dataPath := field.NewPath("data")
	total := 0
	for k, v := range s.Data {
		for _, msg := range utilvalidation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(dataPath.Key(k), k, msg))
		}
		total += len(v)
	}
	// stringData is folded into data by defaulting; check any leftovers too.
	for k, v := range s.StringData {
		for _, msg := range utilvalidation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("stringData").Key(k), k, msg))
		}
		if _, dup := s.Data[k]; !dup {
			total += len(v)
		}
	}
	if total > maxSecretSize {
		errs = append(errs, field.TooLong(dataPath, "", maxSecretSize))
	}
	has := func(k string) bool {
		_, ok := s.Data[k]
		if !ok {
			_, ok = s.StringData[k]
		}
		return ok
	}
	value := func(k string) []byte {
		if v, ok := s.StringData[k]; ok {
			return []byte(v)
		}
		return s.Data[k]
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		// The token itself is filled in later by a controller.
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(metaPath.Child("annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeOpaque, "":
	case corev1.SecretTypeDockercfg:
		errs = append(errs, jsonKey(has, value, corev1.DockerConfigKey, dataPath)...)
	case corev1.SecretTypeDockerConfigJson:
		errs = append(errs, jsonKey(has, value, corev1.DockerConfigJsonKey, dataPath)...)
	case corev1.SecretTypeBasicAuth:
		// Either may be empty, but at least one key must be present.
		if !has(corev1.BasicAuthUsernameKey) && !has(corev1.BasicAuthPasswordKey) {
			errs = append(errs, field.Required(dataPath.Key(corev1.BasicAuthUsernameKey), ""),
				field.Required(dataPath.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if len(value(corev1.SSHAuthPrivateKey)) == 0 {
			errs = append(errs, field.Required(dataPath.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		if !has(corev1.TLSCertKey) {
			errs = append(errs, field.Required(dataPath.Key(corev1.TLSCertKey), ""))
		}
		if !has(corev1.TLSPrivateKeyKey) {
			errs = append(errs, field.Required(dataPath.Key(corev1.TLSPrivateKeyKey), ""))
		}
	}
	return errs
}

func jsonKey(has func(string) bool, value func(string) []byte, key string, dataPath *field.Path) field.ErrorList {
	if !has(key) {
		return field.ErrorList{field.Required(dataPath.Key(key), "")}
	}
	if err := json.Unmarshal(value(key), &map[string]interface{}{}); err != nil {
		return field.ErrorList{field.Invalid(dataPath.Key(key), "<secret contents redacted>", err.Error())}
	}
	return nil
}

func validateSecretUpdate(s, old *corev1.Secret) field.ErrorList {
	errs := metaUpdate(&s.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, immutable(s.Type, old.Type, field.NewPath("type"))...)
	if old.Immutable != nil && *old.Immutable {
		if s.Immutable == nil || !*s.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(s.Data, old.Data) || len(s.StringData) > 0 {
			errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
	}
	return append(errs, validateSecret(s)...)
}

// --- Node ------------------------------------------------------------------

func validateNode(n *corev1.Node) field.ErrorList {
	errs := objectMeta(&n.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, metaPath)
	// kube reports taint errors under metadata.taints; keep the same path.
	errs = append(errs, nodeTaints(n.Spec.Taints, metaPath.Child("taints"))...)
	errs = append(errs, nodeResources(n)...)
	if len(n.Spec.PodCIDRs) > 0 {
		fp := specPath.Child("podCIDRs")
		for i, c := range n.Spec.PodCIDRs {
			errs = append(errs, utilvalidation.IsValidCIDR(fp.Index(i), c)...)
		}
		// A list with an entry that does not parse also fails the family
		// rule, as in kube (which adds an internal error on top).
		if len(n.Spec.PodCIDRs) > 1 {
			if dual, _ := netutils.IsDualStackCIDRStrings(n.Spec.PodCIDRs); !dual || len(n.Spec.PodCIDRs) > 2 {
				errs = append(errs, field.Invalid(fp, n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
			}
		}
	}
	return errs
}

func nodeResources(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	for k, v := range n.Status.Capacity {
		errs = append(errs, quantityValue(k, v, field.NewPath("status", "capacity", string(k)))...)
	}
	for k, v := range n.Status.Allocatable {
		errs = append(errs, quantityValue(k, v, field.NewPath("status", "allocatable", string(k)))...)
	}
	return errs
}

func nodeTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.TaintEffect]sets.Set[string]{}
	for i, t := range taints {
		p := fldPath.Index(i)
		errs = append(errs, metavalidation.ValidateLabelName(t.Key, p.Child("key"))...)
		if msgs := contentLabelValue(t.Value); len(msgs) != 0 {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		errs = append(errs, taintEffect(t.Effect, p.Child("effect"))...)
		if seen[t.Effect].Has(t.Key) {
			d := field.Duplicate(p, t)
			d.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, d)
			continue
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = sets.New[string]()
		}
		seen[t.Effect].Insert(t.Key)
	}
	return errs
}

func validateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	errs := metaUpdate(&n.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateNode(n)...)
	addrs := map[corev1.NodeAddress]bool{}
	for i, a := range n.Status.Addresses {
		if addrs[a] {
			errs = append(errs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		addrs[a] = true
	}
	// podCIDRs and providerID may be set once, by the controller manager.
	if len(old.Spec.PodCIDRs) > 0 && !reflect.DeepEqual(old.Spec.PodCIDRs, n.Spec.PodCIDRs) {
		errs = append(errs, field.Forbidden(specPath.Child("podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(specPath.Child("providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	if n.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		errs = append(errs, field.Forbidden(specPath.Child("externalID"), "may not be updated"))
	}
	return errs
}

// --- Endpoints -------------------------------------------------------------

func validateEndpoints(e *corev1.Endpoints) field.ErrorList {
	errs := objectMeta(&e.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	sp := field.NewPath("subsets")
	for i, ss := range e.Subsets {
		p := sp.Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(p, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, endpointAddress(&ss.Addresses[j], p.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, endpointAddress(&ss.NotReadyAddresses[j], p.Child("notReadyAddresses").Index(j))...)
		}
		for j, port := range ss.Ports {
			pp := p.Child("ports").Index(j)
			if len(ss.Ports) > 1 && port.Name == "" {
				errs = append(errs, field.Required(pp.Child("name"), ""))
			} else if port.Name != "" {
				errs = append(errs, dns1123Label(port.Name, pp.Child("name"))...)
			}
			for _, msg := range utilvalidation.IsValidPortNum(int(port.Port)) {
				errs = append(errs, field.Invalid(pp.Child("port"), port.Port, msg))
			}
			errs = append(errs, protocol(port.Protocol, pp.Child("protocol"))...)
			if port.AppProtocol != nil {
				errs = append(errs, qualifiedName(*port.AppProtocol, pp.Child("appProtocol"))...)
			}
		}
	}
	return errs
}

func endpointAddress(a *corev1.EndpointAddress, fldPath *field.Path) field.ErrorList {
	errs := utilvalidation.IsValidIP(fldPath.Child("ip"), a.IP)
	if a.Hostname != "" {
		errs = append(errs, dns1123Label(a.Hostname, fldPath.Child("hostname"))...)
	}
	if a.NodeName != nil {
		errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, *a.NodeName, fldPath.Child("nodeName"))...)
	}
	return append(errs, nonSpecialIP(a.IP, fldPath.Child("ip"))...)
}

// nonSpecialIP rejects addresses that make no sense as a service backend.
func nonSpecialIP(addr string, fldPath *field.Path) field.ErrorList {
	ip := netutils.ParseIPSloppy(addr)
	if ip == nil {
		return field.ErrorList{field.Invalid(fldPath, addr, "must be a valid IP address")}
	}
	var errs field.ErrorList
	if ip.IsUnspecified() {
		errs = append(errs, field.Invalid(fldPath, addr, fmt.Sprintf("may not be unspecified (%v)", addr)))
	}
	if ip.IsLoopback() {
		errs = append(errs, field.Invalid(fldPath, addr, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if ip.IsLinkLocalUnicast() {
		errs = append(errs, field.Invalid(fldPath, addr, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if ip.IsLinkLocalMulticast() {
		errs = append(errs, field.Invalid(fldPath, addr, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return errs
}

// --- PersistentVolume and PersistentVolumeClaim -----------------------------

var (
	supportedAccessModes   = sets.New(corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod)
	supportedVolumeModes   = sets.New(corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem)
	supportedReclaimPolicy = sets.New(corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain)
)

func accessModes(modes []corev1.PersistentVolumeAccessMode, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	rwop, other := false, false
	for _, m := range modes {
		if !supportedAccessModes.Has(m) {
			errs = append(errs, field.NotSupported(fldPath, m, sets.List(supportedAccessModes)))
		}
		if m == corev1.ReadWriteOncePod {
			rwop = true
		} else if supportedAccessModes.Has(m) {
			other = true
		}
	}
	if rwop && other {
		errs = append(errs, field.Forbidden(fldPath, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

func validatePVC(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := objectMeta(&pvc.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	return append(errs, pvcSpec(&pvc.Spec, specPath)...)
}

func pvcSpec(s *corev1.PersistentVolumeClaimSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.AccessModes) == 0 {
		errs = append(errs, field.Required(fldPath.Child("accessModes"), "at least 1 access mode is required"))
	}
	if s.Selector != nil {
		errs = append(errs, labelSelector(s.Selector, fldPath.Child("selector"))...)
	}
	errs = append(errs, accessModes(s.AccessModes, fldPath.Child("accessModes"))...)
	sp := fldPath.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := s.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(sp, ""))
	} else if q.Sign() <= 0 {
		errs = append(errs, field.Invalid(sp, q.String(), isNotPositiveErrorMsg))
	}
	if s.StorageClassName != nil && *s.StorageClassName != "" {
		errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, *s.StorageClassName, fldPath.Child("storageClassName"))...)
	}
	if s.VolumeMode != nil && !supportedVolumeModes.Has(*s.VolumeMode) {
		errs = append(errs, field.NotSupported(fldPath.Child("volumeMode"), *s.VolumeMode, sets.List(supportedVolumeModes)))
	}
	if ds := s.DataSource; ds != nil {
		dp := fldPath.Child("dataSource")
		if ds.Name == "" {
			errs = append(errs, field.Required(dp.Child("name"), ""))
		}
		if ds.Kind == "" {
			errs = append(errs, field.Required(dp.Child("kind"), ""))
		}
		if (ds.APIGroup == nil || *ds.APIGroup == "") && ds.Kind != "PersistentVolumeClaim" {
			errs = append(errs, field.Invalid(dp, ds.Kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
		}
		if ds.APIGroup != nil && *ds.APIGroup != "" {
			errs = append(errs, dns1123Subdomain(*ds.APIGroup, dp.Child("apiGroup"))...)
		}
	}
	if s.VolumeAttributesClassName != nil && *s.VolumeAttributesClassName != "" {
		errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, *s.VolumeAttributesClassName, fldPath.Child("volumeAttributesClassName"))...)
	}
	return errs
}

func validatePVCUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := metaUpdate(&pvc.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validatePVC(pvc)...)
	n, o := pvc.Spec.DeepCopy(), old.Spec.DeepCopy()
	if o.VolumeName == "" {
		// The PV controller binds the claim by setting volumeName once.
		o.VolumeName = n.VolumeName
	}
	if o.StorageClassName == nil && n.StorageClassName != nil {
		// Setting a class on a claim that had none is allowed.
		if a, ok := old.Annotations[corev1.BetaStorageClassAnnotation]; !ok || a == *n.StorageClassName {
			o.StorageClassName = n.StorageClassName
		}
	}
	if pvc.Status.Phase == corev1.ClaimBound {
		// Bound claims may be resized and change attribute class.
		if n.Resources.Requests != nil {
			n.Resources.Requests[corev1.ResourceStorage] = old.Spec.Resources.Requests[corev1.ResourceStorage]
		}
		if n.VolumeAttributesClassName != nil {
			n.VolumeAttributesClassName = o.VolumeAttributesClassName
		}
	}
	if !semanticEqual(*n, *o) {
		errs = append(errs, field.Forbidden(specPath, fmt.Sprintf(
			"spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n%v", cmpDiff(*o, *n))))
	}
	oldSize, newSize := old.Spec.Resources.Requests[corev1.ResourceStorage], pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	statusSize := old.Status.Capacity[corev1.ResourceStorage]
	if newSize.Cmp(oldSize) < 0 && newSize.Cmp(statusSize) <= 0 {
		// Shrinking back to recover from a failed expansion is allowed down
		// to, but not including, what the volume actually has.
		errs = append(errs, field.Forbidden(specPath.Child("resources", "requests", "storage"), "field can not be less than status.capacity"))
	}
	return append(errs, immutable(pvc.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
}

func validatePV(pv *corev1.PersistentVolume) field.ErrorList {
	errs := objectMeta(&pv.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, metaPath)
	s := &pv.Spec
	if len(s.AccessModes) == 0 {
		errs = append(errs, field.Required(specPath.Child("accessModes"), ""))
	}
	errs = append(errs, accessModes(s.AccessModes, specPath.Child("accessModes"))...)
	cp := specPath.Child("capacity")
	if len(s.Capacity) == 0 {
		errs = append(errs, field.Required(cp, ""))
	}
	if _, ok := s.Capacity[corev1.ResourceStorage]; !ok || len(s.Capacity) > 1 {
		errs = append(errs, field.NotSupported(cp, s.Capacity, []corev1.ResourceName{corev1.ResourceStorage}))
	}
	for r, q := range s.Capacity {
		if q.Sign() <= 0 {
			errs = append(errs, field.Invalid(cp.Key(string(r)), q.String(), isNotPositiveErrorMsg))
		}
	}
	if s.StorageClassName != "" {
		errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, s.StorageClassName, specPath.Child("storageClassName"))...)
	}
	if s.VolumeMode != nil && !supportedVolumeModes.Has(*s.VolumeMode) {
		errs = append(errs, field.NotSupported(specPath.Child("volumeMode"), *s.VolumeMode, sets.List(supportedVolumeModes)))
	}
	if s.PersistentVolumeReclaimPolicy != "" && !supportedReclaimPolicy.Has(s.PersistentVolumeReclaimPolicy) {
		errs = append(errs, field.NotSupported(specPath.Child("persistentVolumeReclaimPolicy"), s.PersistentVolumeReclaimPolicy, sets.List(supportedReclaimPolicy)))
	}
	if na := s.NodeAffinity; na != nil {
		if na.Required == nil {
			errs = append(errs, field.Required(specPath.Child("nodeAffinity", "required"), "must specify required node constraints"))
		} else {
			errs = append(errs, nodeSelector(na.Required, specPath.Child("nodeAffinity", "required"))...)
		}
	}
	errs = append(errs, pvSource(s, specPath)...)
	if c := s.VolumeAttributesClassName; c != nil {
		cp := specPath.Child("volumeAttributesClassName")
		if *c == "" {
			errs = append(errs, field.Required(cp, "an empty string is disallowed"))
		} else {
			errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, *c, cp)...)
		}
		if s.CSI == nil {
			errs = append(errs, field.Required(specPath.Child("csi"), "has to be specified when using volumeAttributesClassName"))
		}
	}
	if s.HostPath != nil && path.Clean(s.HostPath.Path) == "/" && s.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimRecycle {
		errs = append(errs, field.Forbidden(specPath.Child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"))
	}
	return errs
}

// pvSource checks that exactly one volume source is set, in kube's order.
func pvSource(s *corev1.PersistentVolumeSpec, fldPath *field.Path) field.ErrorList {
	src := &s.PersistentVolumeSource
	u := union{fldPath: fldPath, kind: "volume type"}
	one := u.member
	one(src.HostPath != nil, "hostPath", func(p *field.Path) field.ErrorList { return hostPathSource(src.HostPath, p) })
	one(src.GCEPersistentDisk != nil, "gcePersistentDisk", nil)
	one(src.AWSElasticBlockStore != nil, "awsElasticBlockStore", nil)
	one(src.Glusterfs != nil, "glusterfs", nil)
	one(src.Flocker != nil, "flocker", nil)
	one(src.NFS != nil, "nfs", func(p *field.Path) field.ErrorList { return nfsSource(src.NFS, p) })
	one(src.RBD != nil, "rbd", nil)
	one(src.Quobyte != nil, "quobyte", nil)
	one(src.CephFS != nil, "cephFS", nil)
	one(src.ISCSI != nil, "iscsi", nil)
	one(src.Cinder != nil, "cinder", nil)
	one(src.FC != nil, "fc", nil)
	// kube counts a flexVolume but never names it as the extra source, so
	// it accepts one beside another source; skiff refuses that (see
	// docs/control-plane.md).
	one(src.FlexVolume != nil, "flexVolume", nil)
	one(src.AzureFile != nil, "azureFile", nil)
	one(src.VsphereVolume != nil, "vsphereVolume", nil)
	one(src.PhotonPersistentDisk != nil, "photonPersistentDisk", nil)
	one(src.PortworxVolume != nil, "portworxVolume", nil)
	one(src.AzureDisk != nil, "azureDisk", nil)
	one(src.ScaleIO != nil, "scaleIO", nil)
	one(src.Local != nil, "local", func(p *field.Path) field.ErrorList {
		var e field.ErrorList
		if src.Local.Path == "" {
			e = append(e, field.Required(p.Child("path"), ""))
		} else {
			e = append(e, pathNoBacksteps(src.Local.Path, p.Child("path"))...)
		}
		if s.NodeAffinity == nil || s.NodeAffinity.Required == nil {
			e = append(e, field.Required(fldPath.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
		return e
	})
	one(src.StorageOS != nil, "storageos", nil)
	one(src.CSI != nil, "csi", func(p *field.Path) field.ErrorList {
		var e field.ErrorList
		if src.CSI.Driver == "" {
			e = append(e, field.Required(p.Child("driver"), ""))
		}
		if src.CSI.VolumeHandle == "" {
			e = append(e, field.Required(p.Child("volumeHandle"), ""))
		}
		return e
	})
	return u.done()
}

func validatePVUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	errs := metaUpdate(&pv.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validatePV(pv)...)
	newSrc := pv.Spec.PersistentVolumeSource
	if old.Spec.CSI != nil && old.Spec.CSI.ControllerExpandSecretRef == nil && newSrc.CSI != nil && newSrc.CSI.ControllerExpandSecretRef != nil {
		// The expand secret may be added later.
		c := *newSrc.CSI
		c.ControllerExpandSecretRef = nil
		newSrc.CSI = &c
	}
	if !semanticEqual(newSrc, old.Spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(specPath.Child("persistentvolumesource"),
			fmt.Sprintf("spec.persistentvolumesource is immutable after creation\n%v", cmpDiff(old.Spec.PersistentVolumeSource, newSrc))))
	}
	errs = append(errs, immutable(pv.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	if old.Spec.NodeAffinity != nil {
		errs = append(errs, immutable(pv.Spec.NodeAffinity, old.Spec.NodeAffinity, field.NewPath("nodeAffinity"))...)
	}
	return errs
}

// --- core/v1 Event ---------------------------------------------------------

// Limits on core/v1 Event fields kube enforces for events that carry an
// eventTime (the "new" events API written through the old group).
const (
	reportingInstanceLengthLimit = 128
	actionLengthLimit            = 128
	reasonLengthLimit            = 128
	noteLengthLimit              = 1024
)

// validateCoreEvent is kube's legacy event validation, which is all core/v1
// gets (for compatibility); Create adds the generic registry's metadata
// check when it finds nothing.
func validateCoreEvent(e *corev1.Event) field.ErrorList {
	return legacyEvent(e)
}

func validateCoreEventUpdate(e, old *corev1.Event) field.ErrorList {
	errs := legacyEvent(e)
	errs = append(errs, apivalidation.ValidateObjectMetaAccessorUpdate(e, old, metaPath)...)
	return append(errs, apivalidation.ValidateObjectMetaAccessor(e, true, pathSegmentName, metaPath)...)
}

func legacyEvent(e *corev1.Event) field.ErrorList {
	errs := eventNamespaceMatches(e.Namespace, e.InvolvedObject.Namespace, !e.EventTime.IsZero())
	if !e.EventTime.IsZero() {
		errs = append(errs, eventReportingFields(e.ReportingController, e.ReportingInstance, e.Action, e.Reason, e.Message, "reportingComponent")...)
	}
	return errs
}

// eventNamespaceMatches checks an event's namespace against its involved
// object's, with kube's tolerances: old clients (no eventTime) may put an
// event about a cluster-scoped object in "default"; newer ones in
// "default" or "kube-system".
func eventNamespaceMatches(ns, involvedNS string, hasEventTime bool) field.ErrorList {
	var mismatch bool
	switch {
	case !hasEventTime && involvedNS == "":
		mismatch = ns != "" && ns != "default"
	case !hasEventTime:
		mismatch = ns != involvedNS
	default:
		mismatch = involvedNS == "" && ns != "default" && ns != "kube-system"
	}
	if mismatch {
		return field.ErrorList{field.Invalid(field.NewPath("involvedObject", "namespace"), involvedNS, "does not match event.namespace")}
	}
	return nil
}

func eventReportingFields(controller, instance, action, reason, message, controllerField string) field.ErrorList {
	var errs field.ErrorList
	if controller == "" {
		errs = append(errs, field.Required(field.NewPath(controllerField), ""))
	}
	errs = append(errs, qualifiedName(controller, field.NewPath(controllerField))...)
	if instance == "" {
		errs = append(errs, field.Required(field.NewPath("reportingInstance"), ""))
	}
	if len(instance) > reportingInstanceLengthLimit {
		errs = append(errs, field.Invalid(field.NewPath("reportingInstance"), "", fmt.Sprintf("can have at most %v characters", reportingInstanceLengthLimit)))
	}
	if action == "" {
		errs = append(errs, field.Required(field.NewPath("action"), ""))
	}
	if len(action) > actionLengthLimit {
		errs = append(errs, field.Invalid(field.NewPath("action"), "", fmt.Sprintf("can have at most %v characters", actionLengthLimit)))
	}
	if reason == "" {
		errs = append(errs, field.Required(field.NewPath("reason"), ""))
	}
	if len(reason) > reasonLengthLimit {
		errs = append(errs, field.Invalid(field.NewPath("reason"), "", fmt.Sprintf("can have at most %v characters", reasonLengthLimit)))
	}
	if len(message) > noteLengthLimit {
		errs = append(errs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", noteLengthLimit)))
	}
	return errs
}
