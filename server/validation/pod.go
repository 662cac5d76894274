package validation

import (
	"fmt"
	"math"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podOpts carries the few switches kube passes down PodSpec validation.
type podOpts struct {
	// resourceIsPod is set when validating a Pod rather than a template:
	// some rules (host ports under hostNetwork, image whitespace) only
	// bite once a real pod exists.
	resourceIsPod bool
	// claimVolumes names volumes that come from elsewhere (a StatefulSet's
	// volumeClaimTemplates) and may be mounted without being in spec.volumes.
	claimVolumes []string
}

const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

func validatePodCreate(p *corev1.Pod) field.ErrorList {
	errs := validatePodMetadataAndSpec(p)
	if len(p.Spec.EphemeralContainers) > 0 {
		// Ephemeral containers are only added through their subresource.
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"), "cannot be set on create"))
	}
	if p.Spec.NodeName != "" && len(p.Spec.SchedulingGates) != 0 {
		errs = append(errs, field.Forbidden(specPath.Child("nodeName"), "cannot be set until all schedulingGates have been cleared"))
	}
	return errs
}

func validatePodMetadataAndSpec(p *corev1.Pod) field.ErrorList {
	errs := objectMeta(&p.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	errs = append(errs, podSpec(&p.Spec, &p.ObjectMeta, specPath, podOpts{resourceIsPod: true})...)
	if p.Spec.ServiceAccountName == "" {
		for vi, v := range p.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for si, src := range v.Projected.Sources {
				if src.ServiceAccountToken != nil {
					errs = append(errs, field.Forbidden(specPath.Child("volumes").Index(vi).Child("projected", "sources").Index(si).Child("serviceAccountToken"),
						"must not be specified when serviceAccountName is not set"))
				}
			}
		}
	}
	errs = append(errs, imageWhitespace(p.Spec.Containers, specPath.Child("containers"))...)
	errs = append(errs, imageWhitespace(p.Spec.InitContainers, specPath.Child("initContainers"))...)
	return errs
}

func imageWhitespace(cs []corev1.Container, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, c := range cs {
		if len(c.Image) != len(strings.TrimSpace(c.Image)) {
			errs = append(errs, field.Invalid(fldPath.Index(i).Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
	}
	return errs
}

// updatablePodSpecFields is quoted verbatim in kube's rejection of a pod
// update, so clients that match on it keep working.
var updatablePodSpecFields = []string{
	"`spec.containers[*].image`",
	"`spec.initContainers[*].image`",
	"`spec.activeDeadlineSeconds`",
	"`spec.tolerations` (only additions to existing tolerations)",
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
}

func validatePodUpdate(p, old *corev1.Pod) field.ErrorList {
	errs := metaUpdate(&p.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validatePodMetadataAndSpec(p)...)

	cerrs, stop := containerUpdates(p.Spec.Containers, old.Spec.Containers, specPath.Child("containers"))
	errs = append(errs, cerrs...)
	if stop {
		return errs
	}
	cerrs, stop = containerUpdates(p.Spec.InitContainers, old.Spec.InitContainers, specPath.Child("initContainers"))
	errs = append(errs, cerrs...)
	if stop {
		return errs
	}

	// activeDeadlineSeconds may be set, or lowered, but never raised or unset.
	ads := specPath.Child("activeDeadlineSeconds")
	if v := p.Spec.ActiveDeadlineSeconds; v != nil {
		if *v < 0 || *v > math.MaxInt32 {
			return append(errs, field.Invalid(ads, *v, utilvalidation.InclusiveRangeError(0, math.MaxInt32)))
		}
		if o := old.Spec.ActiveDeadlineSeconds; o != nil && *o < *v {
			return append(errs, field.Invalid(ads, *v, "must be less than or equal to previous value"))
		}
	} else if old.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(ads, p.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}

	errs = append(errs, onlyAddedTolerations(p.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)
	errs = append(errs, onlyDeletedSchedulingGates(p.Spec.SchedulingGates, old.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)

	if semanticEqual(p.Spec, old.Spec) {
		return errs
	}
	// Copy the updatable fields from the old spec and see what is left.
	munged := p.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = old.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = old.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	munged.SchedulingGates = old.Spec.SchedulingGates
	munged.Tolerations = old.Spec.Tolerations
	if o := old.Spec.TerminationGracePeriodSeconds; o != nil && *o < 0 &&
		munged.TerminationGracePeriodSeconds != nil && *munged.TerminationGracePeriodSeconds == 1 {
		munged.TerminationGracePeriodSeconds = o
	}
	if len(old.Spec.SchedulingGates) > 0 {
		// Gated pods may still gain node selector terms before scheduling.
		munged.NodeSelector = gatedNodeSelector(munged.NodeSelector, old.Spec.NodeSelector, &errs)
	}
	if !semanticEqual(*munged, old.Spec) {
		diff := cmpDiff(old.Spec, *munged)
		errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s\n%v",
			strings.Join(updatablePodSpecFields, ","), diff)))
	}
	return errs
}

// gatedNodeSelector lets a gated pod add (not change or remove) node
// selector entries; it reports the forbidden changes and returns the old
// selector so the remaining comparison ignores the allowed ones.
func gatedNodeSelector(newSel, oldSel map[string]string, errs *field.ErrorList) map[string]string {
	fldPath := specPath.Child("nodeSelector")
	for k, v := range oldSel {
		if nv, ok := newSel[k]; !ok || nv != v {
			*errs = append(*errs, field.Invalid(fldPath.Key(k), newSel[k], "only additions to nodeSelector are allowed for a gated pod"))
		}
	}
	return oldSel
}

func containerUpdates(cs, old []corev1.Container, fldPath *field.Path) (field.ErrorList, bool) {
	if len(cs) != len(old) {
		return field.ErrorList{field.Forbidden(fldPath, "pod updates may not add or remove containers")}, true
	}
	var errs field.ErrorList
	for i, c := range cs {
		if c.Image == "" {
			errs = append(errs, field.Required(fldPath.Index(i).Child("image"), ""))
		}
	}
	return errs, false
}

func onlyAddedTolerations(tols, old []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	for _, o := range old {
		found := false
		for _, t := range tols {
			oc := o
			// tolerationSeconds may change on an existing toleration.
			oc.TolerationSeconds = t.TolerationSeconds
			if reflect.DeepEqual(oc, t) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return tolerations(tols, fldPath)
}

func onlyDeletedSchedulingGates(gates, old []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	had := map[string]bool{}
	for _, g := range old {
		had[g.Name] = true
	}
	var errs field.ErrorList
	for i, g := range gates {
		if !had[g.Name] {
			errs = append(errs, field.Forbidden(fldPath.Index(i).Child("name"),
				fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return errs
}

func validatePodTemplate(t *corev1.PodTemplate) field.ErrorList {
	errs := objectMeta(&t.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	return append(errs, podTemplateSpec(&t.Template, field.NewPath("template"), podOpts{})...)
}

// podTemplateSpec is kube's ValidatePodTemplateSpec. Note the label path is
// <template>.labels, not <template>.metadata.labels: kube reports it so.
func podTemplateSpec(t *corev1.PodTemplateSpec, fldPath *field.Path, opts podOpts) field.ErrorList {
	errs := labels(t.Labels, fldPath.Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, fldPath.Child("annotations"))...)
	errs = append(errs, podSpec(&t.Spec, nil, fldPath.Child("spec"), opts)...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}

func podSpec(s *corev1.PodSpec, podMeta *metav1.ObjectMeta, fldPath *field.Path, opts podOpts) field.ErrorList {
	var errs field.ErrorList
	if s.TerminationGracePeriodSeconds == nil {
		errs = append(errs, field.Required(fldPath.Child("terminationGracePeriodSeconds"), ""))
	}
	grace := s.TerminationGracePeriodSeconds
	hostUsers := s.HostUsers == nil || *s.HostUsers

	vols, verrs := volumes(s.Volumes, podMeta, fldPath.Child("volumes"))
	errs = append(errs, verrs...)
	for _, name := range opts.claimVolumes {
		if _, ok := vols[name]; !ok {
			vols[name] = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}
		}
	}
	claimNames := sets.New[string]()
	for _, c := range s.ResourceClaims {
		if c.Name != "" {
			claimNames.Insert(c.Name)
		}
	}
	errs = append(errs, podResourceClaims(s.ResourceClaims, fldPath.Child("resourceClaims"))...)
	errs = append(errs, containers(s.Containers, vols, claimNames, grace, fldPath.Child("containers"), s.RestartPolicy, hostUsers)...)
	errs = append(errs, initContainers(s.InitContainers, s.Containers, vols, claimNames, grace, fldPath.Child("initContainers"), s.RestartPolicy, hostUsers)...)
	errs = append(errs, ephemeralContainers(s, vols, claimNames, fldPath.Child("ephemeralContainers"), hostUsers)...)
	if s.Resources != nil {
		errs = append(errs, resourceRequirements(s.Resources, claimNames, fldPath.Child("resources"), podResourceName)...)
		if s.Resources.Claims != nil {
			errs = append(errs, field.Forbidden(fldPath.Child("resources", "claims"), "claims cannot be set for Resources at pod-level"))
		}
	}
	errs = append(errs, hostNetworkDeps(s, fldPath, opts)...)
	errs = append(errs, restartPolicy(s.RestartPolicy, fldPath.Child("restartPolicy"))...)
	errs = append(errs, dnsPolicy(s.DNSPolicy, fldPath.Child("dnsPolicy"))...)
	errs = append(errs, labels(s.NodeSelector, fldPath.Child("nodeSelector"))...)
	errs = append(errs, podSecurityContext(s, fldPath.Child("securityContext"))...)
	errs = append(errs, affinity(s.Affinity, fldPath.Child("affinity"))...)
	errs = append(errs, podDNSConfig(s.DNSConfig, s.DNSPolicy, fldPath.Child("dnsConfig"))...)
	for i, g := range s.ReadinessGates {
		errs = append(errs, qualifiedName(string(g.ConditionType), fldPath.Child("readinessGates").Index(i).Child("conditionType"))...)
	}
	seenGates := sets.New[string]()
	for i, g := range s.SchedulingGates {
		gp := fldPath.Child("schedulingGates").Index(i)
		errs = append(errs, qualifiedName(g.Name, gp)...)
		if seenGates.Has(g.Name) {
			errs = append(errs, field.Duplicate(gp, g.Name))
		}
		seenGates.Insert(g.Name)
	}
	errs = append(errs, topologySpreadConstraints(s.TopologySpreadConstraints, fldPath.Child("topologySpreadConstraints"))...)
	if !hostUsers {
		// User namespaces do not mix with the host's other namespaces.
		if s.HostNetwork {
			errs = append(errs, field.Forbidden(fldPath.Child("hostNetwork"), "when `pod.Spec.HostUsers` is false"))
		}
		if s.HostPID {
			errs = append(errs, field.Forbidden(fldPath.Child("HostPID"), "when `pod.Spec.HostUsers` is false"))
		}
		if s.HostIPC {
			errs = append(errs, field.Forbidden(fldPath.Child("HostIPC"), "when `pod.Spec.HostUsers` is false"))
		}
	}
	if s.ServiceAccountName != "" {
		errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, s.ServiceAccountName, fldPath.Child("serviceAccountName"))...)
	}
	if s.NodeName != "" {
		errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, s.NodeName, fldPath.Child("nodeName"))...)
	}
	if v := s.ActiveDeadlineSeconds; v != nil && (*v < 1 || *v > math.MaxInt32) {
		errs = append(errs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), *v, utilvalidation.InclusiveRangeError(1, math.MaxInt32)))
	}
	if s.Hostname != "" {
		errs = append(errs, dns1123Label(s.Hostname, fldPath.Child("hostname"))...)
	}
	if s.Subdomain != "" {
		errs = append(errs, dns1123Label(s.Subdomain, fldPath.Child("subdomain"))...)
	}
	errs = append(errs, tolerations(s.Tolerations, fldPath.Child("tolerations"))...)
	for i, ha := range s.HostAliases {
		hp := fldPath.Child("hostAliases").Index(i)
		errs = append(errs, utilvalidation.IsValidIP(hp.Child("ip"), ha.IP)...)
		for j, h := range ha.Hostnames {
			errs = append(errs, dns1123Subdomain(h, hp.Child("hostnames").Index(j))...)
		}
	}
	if s.PriorityClassName != "" {
		errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, s.PriorityClassName, fldPath.Child("priorityClassName"))...)
	}
	if s.RuntimeClassName != nil {
		errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, *s.RuntimeClassName, fldPath.Child("runtimeClassName"))...)
	}
	if p := s.PreemptionPolicy; p != nil {
		switch *p {
		case corev1.PreemptLowerPriority, corev1.PreemptNever:
		case "":
			errs = append(errs, field.Required(fldPath.Child("preemptionPolicy"), ""))
		default:
			errs = append(errs, field.NotSupported(fldPath.Child("preemptionPolicy"), p,
				[]corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever}))
		}
	}
	if s.Overhead != nil {
		errs = append(errs, resourceRequirements(&corev1.ResourceRequirements{Limits: s.Overhead}, nil, fldPath.Child("overhead"), containerResourceName)...)
	}
	if s.OS != nil {
		switch s.OS.Name {
		case corev1.Linux, corev1.Windows:
		case "":
			errs = append(errs, field.Required(fldPath.Child("os", "name"), ""))
		default:
			// kube reports an unknown name on os itself.
			errs = append(errs, field.NotSupported(fldPath.Child("os"), s.OS.Name, []corev1.OSName{corev1.Linux, corev1.Windows}))
		}
	}
	if h := s.HostnameOverride; h != nil {
		errs = append(errs, dns1123Subdomain(*h, fldPath.Child("hostnameOverride"))...)
	}
	return errs
}

func restartPolicy(p corev1.RestartPolicy, fldPath *field.Path) field.ErrorList {
	return requiredOneOf(p, fldPath, corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)
}

func dnsPolicy(p corev1.DNSPolicy, fldPath *field.Path) field.ErrorList {
	return requiredOneOf(p, fldPath, corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone)
}

// Limits libc puts on resolv.conf, which kube enforces up front.
const (
	maxDNSNameservers     = 3
	maxDNSSearchPaths     = 32
	maxDNSSearchListChars = 2048
)

func podDNSConfig(c *corev1.PodDNSConfig, policy corev1.DNSPolicy, fldPath *field.Path) field.ErrorList {
	if policy == corev1.DNSNone {
		if c == nil {
			return field.ErrorList{field.Required(fldPath, fmt.Sprintf("must provide `dnsConfig` when `dnsPolicy` is %s", corev1.DNSNone))}
		}
		if len(c.Nameservers) == 0 {
			return field.ErrorList{field.Required(fldPath.Child("nameservers"), fmt.Sprintf("must provide at least one DNS nameserver when `dnsPolicy` is %s", corev1.DNSNone))}
		}
	}
	if c == nil {
		return nil
	}
	var errs field.ErrorList
	if len(c.Nameservers) > maxDNSNameservers {
		errs = append(errs, field.Invalid(fldPath.Child("nameservers"), c.Nameservers, fmt.Sprintf("must not have more than %v nameservers", maxDNSNameservers)))
	}
	for i, ns := range c.Nameservers {
		errs = append(errs, utilvalidation.IsValidIP(fldPath.Child("nameservers").Index(i), ns)...)
	}
	if len(c.Searches) > maxDNSSearchPaths {
		errs = append(errs, field.Invalid(fldPath.Child("searches"), c.Searches, fmt.Sprintf("must not have more than %v search paths", maxDNSSearchPaths)))
	}
	if len(strings.Join(c.Searches, " ")) > maxDNSSearchListChars {
		errs = append(errs, field.Invalid(fldPath.Child("searches"), c.Searches, fmt.Sprintf("must not have more than %v characters (including spaces) in the search list", maxDNSSearchListChars)))
	}
	for i, s := range c.Searches {
		// Relaxed search validation (GA): "." and underscores are allowed.
		if s == "." {
			continue
		}
		s = strings.TrimSuffix(s, ".")
		for _, msg := range utilvalidation.IsDNS1123SubdomainWithUnderscore(s) {
			errs = append(errs, field.Invalid(fldPath.Child("searches").Index(i), s, msg))
		}
	}
	for i, o := range c.Options {
		if o.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("options").Index(i), "must not be empty"))
		}
	}
	return errs
}

func hostNetworkDeps(s *corev1.PodSpec, fldPath *field.Path, opts podOpts) field.ErrorList {
	if !s.HostNetwork {
		return nil
	}
	var errs field.ErrorList
	for i, c := range s.Containers {
		for j, p := range c.Ports {
			// Templates may leave hostPort 0; it is defaulted on the Pod.
			if (opts.resourceIsPod || p.HostPort != 0) && p.HostPort != p.ContainerPort {
				errs = append(errs, field.Invalid(fldPath.Child("containers").Index(i).Child("ports").Index(j).Child("hostPort"),
					p.HostPort, "must match `containerPort` when `hostNetwork` is true"))
			}
		}
	}
	return errs
}

func podResourceClaims(claims []corev1.PodResourceClaim, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, c := range claims {
		p := fldPath.Index(i)
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(p.Child("name"), ""))
		case names.Has(c.Name):
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		default:
			errs = append(errs, dns1123Label(c.Name, p.Child("name"))...)
			names.Insert(c.Name)
		}
		if c.ResourceClaimName != nil && c.ResourceClaimTemplateName != nil {
			errs = append(errs, field.Invalid(p, c, "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified"))
		}
		if c.ResourceClaimName == nil && c.ResourceClaimTemplateName == nil {
			errs = append(errs, field.Invalid(p, c, "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"))
		}
	}
	return errs
}

// --- volumes ---------------------------------------------------------------

func volumes(vs []corev1.Volume, podMeta *metav1.ObjectMeta, fldPath *field.Path) (map[string]corev1.VolumeSource, field.ErrorList) {
	var errs field.ErrorList
	names := sets.New[string]()
	out := make(map[string]corev1.VolumeSource, len(vs))
	for i, v := range vs {
		ip := fldPath.Index(i)
		namePath := ip.Child("name")
		el := volumeSource(&v.VolumeSource, ip, v.Name, podMeta)
		if v.Name == "" {
			el = append(el, field.Required(namePath, ""))
		} else {
			el = append(el, dns1123Label(v.Name, namePath)...)
		}
		if names.Has(v.Name) {
			el = append(el, field.Duplicate(namePath, v.Name))
		}
		if len(el) == 0 {
			names.Insert(v.Name)
			out[v.Name] = v.VolumeSource
		} else {
			errs = append(errs, el...)
		}
	}
	return out, errs
}

// volumeSource checks that exactly one source is set, in kube's order (which
// decides the member a "more than 1" error names), and validates the common
// ones in detail.
func volumeSource(src *corev1.VolumeSource, fldPath *field.Path, volName string, podMeta *metav1.ObjectMeta) field.ErrorList {
	u := union{fldPath: fldPath, kind: "volume type"}
	one := func(set bool, name string, check func() field.ErrorList) {
		u.member(set, name, func(*field.Path) field.ErrorList {
			if check == nil {
				return nil
			}
			return check()
		})
	}
	one(src.EmptyDir != nil, "emptyDir", func() field.ErrorList {
		if l := src.EmptyDir.SizeLimit; l != nil && l.Sign() < 0 {
			return field.ErrorList{field.Forbidden(fldPath.Child("emptyDir", "sizeLimit"), "SizeLimit field must be a valid resource quantity")}
		}
		return nil
	})
	one(src.HostPath != nil, "hostPath", func() field.ErrorList { return hostPathSource(src.HostPath, fldPath.Child("hostPath")) })
	one(src.GitRepo != nil, "gitRepo", func() field.ErrorList {
		var e field.ErrorList
		if src.GitRepo.Repository == "" {
			e = append(e, field.Required(fldPath.Child("gitRepo", "repository"), ""))
		}
		return append(e, localDescendingPath(src.GitRepo.Directory, fldPath.Child("gitRepo", "directory"))...)
	})
	one(src.GCEPersistentDisk != nil, "gcePersistentDisk", nil)
	one(src.AWSElasticBlockStore != nil, "awsElasticBlockStore", nil)
	one(src.Secret != nil, "secret", func() field.ErrorList {
		return append(keyedSource(src.Secret.SecretName, "secretName", src.Secret.DefaultMode, src.Secret.Items, fldPath.Child("secret")),
			userID(src.Secret.DefaultUser, fldPath.Child("secret", "defaultUser"))...)
	})
	one(src.NFS != nil, "nfs", func() field.ErrorList { return nfsSource(src.NFS, fldPath.Child("nfs")) })
	one(src.ISCSI != nil, "iscsi", nil)
	one(src.Glusterfs != nil, "glusterfs", nil)
	one(src.Flocker != nil, "flocker", nil)
	one(src.PersistentVolumeClaim != nil, "persistentVolumeClaim", func() field.ErrorList {
		if src.PersistentVolumeClaim.ClaimName == "" {
			return field.ErrorList{field.Required(fldPath.Child("persistentVolumeClaim", "claimName"), "")}
		}
		return nil
	})
	one(src.RBD != nil, "rbd", nil)
	one(src.Cinder != nil, "cinder", nil)
	one(src.CephFS != nil, "cephFS", nil)
	one(src.Quobyte != nil, "quobyte", nil)
	// "downwarAPI" is how kube spells this member in its "more than 1" error.
	one(src.DownwardAPI != nil, "downwarAPI", func() field.ErrorList {
		p := fldPath.Child("downwardAPI")
		e := fileMode(src.DownwardAPI.DefaultMode, p.Child("defaultMode"))
		e = append(e, userID(src.DownwardAPI.DefaultUser, p.Child("defaultUser"))...)
		for i := range src.DownwardAPI.Items {
			e = append(e, downwardAPIFile(&src.DownwardAPI.Items[i], p)...)
		}
		return e
	})
	one(src.FC != nil, "fc", nil)
	one(src.FlexVolume != nil, "flexVolume", nil)
	one(src.ConfigMap != nil, "configMap", func() field.ErrorList {
		return append(keyedSource(src.ConfigMap.Name, "name", src.ConfigMap.DefaultMode, src.ConfigMap.Items, fldPath.Child("configMap")),
			userID(src.ConfigMap.DefaultUser, fldPath.Child("configMap", "defaultUser"))...)
	})
	one(src.AzureFile != nil, "azureFile", nil)
	one(src.VsphereVolume != nil, "vsphereVolume", nil)
	one(src.PhotonPersistentDisk != nil, "photonPersistentDisk", nil)
	one(src.PortworxVolume != nil, "portworxVolume", nil)
	one(src.AzureDisk != nil, "azureDisk", nil)
	one(src.StorageOS != nil, "storageos", nil)
	one(src.Projected != nil, "projected", func() field.ErrorList { return projected(src.Projected, fldPath.Child("projected")) })
	one(src.ScaleIO != nil, "scaleIO", nil)
	one(src.CSI != nil, "csi", func() field.ErrorList {
		if src.CSI.Driver == "" {
			return field.ErrorList{field.Required(fldPath.Child("csi", "driver"), "")}
		}
		return nil
	})
	one(src.Ephemeral != nil, "ephemeral", func() field.ErrorList {
		p := fldPath.Child("ephemeral")
		t := src.Ephemeral.VolumeClaimTemplate
		if t == nil {
			return field.ErrorList{field.Required(p.Child("volumeClaimTemplate"), "")}
		}
		e := pvcSpec(&t.Spec, p.Child("volumeClaimTemplate", "spec"))
		if podMeta != nil && podMeta.Name != "" && volName != "" {
			// The claim is named <pod>-<volume>; that must be a valid name too.
			pvcName := podMeta.Name + "-" + volName
			for _, msg := range apivalidation.NameIsDNSSubdomain(pvcName, false) {
				e = append(e, field.Invalid(fldPath.Child("name"), volName, fmt.Sprintf("PVC name %q: %v", pvcName, msg)))
			}
		}
		return e
	})
	one(src.Image != nil, "image", func() field.ErrorList {
		p := fldPath.Child("image")
		var e field.ErrorList
		if src.Image.Reference == "" {
			e = append(e, field.Required(p.Child("reference"), ""))
		}
		return append(e, pullPolicy(src.Image.PullPolicy, p.Child("pullPolicy"))...)
	})
	return u.done()
}

var supportedHostPathTypes = sets.New(
	corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory,
	corev1.HostPathFileOrCreate, corev1.HostPathFile, corev1.HostPathSocket,
	corev1.HostPathCharDev, corev1.HostPathBlockDev)

func hostPathSource(h *corev1.HostPathVolumeSource, fldPath *field.Path) field.ErrorList {
	if h.Path == "" {
		return field.ErrorList{field.Required(fldPath.Child("path"), "")}
	}
	errs := pathNoBacksteps(h.Path, fldPath.Child("path"))
	if h.Type != nil && !supportedHostPathTypes.Has(*h.Type) {
		errs = append(errs, field.NotSupported(fldPath.Child("type"), h.Type, sets.List(supportedHostPathTypes)))
	}
	return errs
}

// userID checks an optional user ID, such as a volume's defaultUser.
func userID(u *int64, fldPath *field.Path) field.ErrorList {
	if u == nil {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsValidUserID(*u) {
		errs = append(errs, field.Invalid(fldPath, *u, msg))
	}
	return errs
}

func fileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fldPath, *mode, fileModeErrorMsg)}
	}
	return nil
}

func keyToPath(kp *corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if kp.Key == "" {
		errs = append(errs, field.Required(fldPath.Child("key"), ""))
	}
	if kp.Path == "" {
		errs = append(errs, field.Required(fldPath.Child("path"), ""))
	}
	errs = append(errs, localNonReservedPath(kp.Path, fldPath.Child("path"))...)
	return append(errs, fileMode(kp.Mode, fldPath.Child("mode"))...)
}

var validVolumeDownwardAPIFieldPaths = sets.New("metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations", "metadata.uid")

func downwardAPIFile(f *corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if f.Path == "" {
		errs = append(errs, field.Required(fldPath.Child("path"), ""))
	}
	errs = append(errs, localNonReservedPath(f.Path, fldPath.Child("path"))...)
	switch {
	case f.FieldRef != nil:
		errs = append(errs, objectFieldSelector(f.FieldRef, validVolumeDownwardAPIFieldPaths, fldPath.Child("fieldRef"))...)
		if f.ResourceFieldRef != nil {
			errs = append(errs, field.Invalid(fldPath, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		}
	case f.ResourceFieldRef != nil:
		errs = append(errs, resourceFieldSelector(f.ResourceFieldRef, fldPath.Child("resourceFieldRef"), true)...)
	default:
		errs = append(errs, field.Required(fldPath, "one of fieldRef and resourceFieldRef is required"))
	}
	return append(errs, fileMode(f.Mode, fldPath.Child("mode"))...)
}

func projected(p *corev1.ProjectedVolumeSource, fldPath *field.Path) field.ErrorList {
	errs := fileMode(p.DefaultMode, fldPath.Child("defaultMode"))
	paths := sets.New[string]()
	addPath := func(pth string, bad interface{}) {
		if pth == "" {
			return
		}
		if paths.Has(pth) {
			errs = append(errs, field.Invalid(fldPath, bad, "conflicting duplicate paths"))
		}
		paths.Insert(pth)
	}
	// keyed checks a secret or configMap source: its name and its items,
	// whose paths join the volume's.
	keyed := func(name string, items []corev1.KeyToPath, p *field.Path) {
		if name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		for j := range items {
			errs = append(errs, keyToPath(&items[j], p.Child("items").Index(j))...)
			addPath(items[j].Path, name)
		}
	}
	for i, src := range p.Sources {
		n := 0
		sp := fldPath.Child("sources").Index(i)
		if s := src.Secret; s != nil {
			n++
			keyed(s.Name, s.Items, sp.Child("secret"))
		}
		if c := src.ConfigMap; c != nil {
			n++
			keyed(c.Name, c.Items, sp.Child("configMap"))
		}
		if d := src.DownwardAPI; d != nil {
			n++
			for j := range d.Items {
				errs = append(errs, downwardAPIFile(&d.Items[j], sp.Child("downwardAPI"))...)
				addPath(d.Items[j].Path, d.Items[j].Path)
			}
		}
		if t := src.ServiceAccountToken; t != nil {
			n++
			tp := sp.Child("serviceAccountToken")
			if t.ExpirationSeconds != nil {
				if *t.ExpirationSeconds < 10*60 {
					errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
				}
				if *t.ExpirationSeconds > 1<<32 {
					errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration larger than 2^32 seconds"))
				}
			}
			if t.Path == "" {
				errs = append(errs, field.Required(fldPath.Child("path"), ""))
			} else {
				errs = append(errs, localNonReservedPath(t.Path, fldPath.Child("path"))...)
			}
		}
		if src.ClusterTrustBundle != nil {
			n++
			addPath(src.ClusterTrustBundle.Path, src.ClusterTrustBundle.Path)
		}
		if src.PodCertificate != nil {
			n++
		}
		if n > 1 {
			errs = append(errs, field.Forbidden(sp, "may not specify more than 1 volume type per source"))
		}
	}
	return errs
}

func localDescendingPath(p string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(p) {
		errs = append(errs, field.Invalid(fldPath, p, "must be a relative path"))
	}
	return append(errs, pathNoBacksteps(p, fldPath)...)
}

func pathNoBacksteps(p string, fldPath *field.Path) field.ErrorList {
	for _, item := range strings.Split(filepath.ToSlash(p), "/") {
		if item == ".." {
			return field.ErrorList{field.Invalid(fldPath, p, "must not contain '..'")}
		}
	}
	return nil
}

func localNonReservedPath(p string, fldPath *field.Path) field.ErrorList {
	errs := localDescendingPath(p, fldPath)
	if strings.HasPrefix(p, "..") && !strings.HasPrefix(p, "../") {
		errs = append(errs, field.Invalid(fldPath, p, "must not start with '..'"))
	}
	return errs
}

// --- containers ------------------------------------------------------------

func containers(cs []corev1.Container, vols map[string]corev1.VolumeSource, claims sets.Set[string], grace *int64,
	fldPath *field.Path, podRestart corev1.RestartPolicy, hostUsers bool) field.ErrorList {
	if len(cs) == 0 {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var errs field.ErrorList
	names := sets.New[string]()
	for i := range cs {
		c := &cs[i]
		p := fldPath.Index(i)
		errs = append(errs, containerCommon(c, vols, claims, p, podRestart, hostUsers)...)
		if names.Has(c.Name) {
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		} else {
			names.Insert(c.Name)
		}
		if c.Lifecycle != nil {
			errs = append(errs, lifecycle(c.Lifecycle, grace, p.Child("lifecycle"))...)
		}
		errs = append(errs, livenessProbe(c.LivenessProbe, p.Child("livenessProbe"))...)
		errs = append(errs, readinessProbe(c.ReadinessProbe, p.Child("readinessProbe"))...)
		errs = append(errs, livenessProbe(c.StartupProbe, p.Child("startupProbe"))...)
		if c.RestartPolicy != nil {
			// Per-container restart policies for regular containers come with
			// ContainerRestartRules; only the values themselves are checked.
			errs = append(errs, containerRestartPolicy(*c.RestartPolicy, p.Child("restartPolicy"))...)
		}
		errs = append(errs, restartRules(c.RestartPolicy, c.RestartPolicyRules, p, false)...)
	}
	return append(errs, hostPortConflicts(cs, fldPath)...)
}

var (
	supportedRestartRuleActions   = sets.New(corev1.ContainerRestartRuleActionRestart, corev1.ContainerRestartRuleActionRestartAllContainers)
	supportedRestartRuleOperators = sets.New(corev1.ContainerRestartRuleOnExitCodesOpIn, corev1.ContainerRestartRuleOnExitCodesOpNotIn)
)

// Bounds on a container's restart rules, as in kube.
const (
	maxRestartRules         = 20
	maxRestartRuleExitCodes = 255
)

// restartRules checks a container's restartPolicyRules, the rules of kube's
// ContainerRestartRules and RestartAllContainersOnContainerExits (both on
// by default in kube 1.37). fldPath is the container's path; for an init
// container without a policy kube reports only the missing policy.
func restartRules(policy *corev1.ContainerRestartPolicy, rules []corev1.ContainerRestartRule, fldPath *field.Path, init bool) field.ErrorList {
	if len(rules) == 0 {
		return nil
	}
	var errs field.ErrorList
	if policy == nil {
		errs = append(errs, field.Required(fldPath.Child("restartPolicy"), "must specify restartPolicy when restart rules are used"))
		if init {
			return errs
		}
	}
	rp := fldPath.Child("restartPolicyRules")
	if len(rules) > maxRestartRules {
		errs = append(errs, field.TooMany(rp, len(rules), maxRestartRules))
	}
	for i, r := range rules {
		p := rp.Index(i)
		if !supportedRestartRuleActions.Has(r.Action) {
			errs = append(errs, field.NotSupported(p.Child("action"), r.Action, sets.List(supportedRestartRuleActions)))
		}
		if r.ExitCodes == nil {
			errs = append(errs, field.Required(p.Child("exitCodes"), "must be specified"))
			continue
		}
		ep := p.Child("exitCodes")
		if !supportedRestartRuleOperators.Has(r.ExitCodes.Operator) {
			errs = append(errs, field.NotSupported(ep.Child("operator"), r.ExitCodes.Operator, sets.List(supportedRestartRuleOperators)))
		}
		if len(r.ExitCodes.Values) > maxRestartRuleExitCodes {
			errs = append(errs, field.TooMany(ep.Child("values"), len(r.ExitCodes.Values), maxRestartRuleExitCodes))
		}
	}
	return errs
}

func containerRestartPolicy(p corev1.ContainerRestartPolicy, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.ContainerRestartPolicyAlways, corev1.ContainerRestartPolicyOnFailure, corev1.ContainerRestartPolicyNever:
		return nil
	default:
		return field.ErrorList{field.NotSupported(fldPath, p, []corev1.ContainerRestartPolicy{
			corev1.ContainerRestartPolicyAlways, corev1.ContainerRestartPolicyOnFailure, corev1.ContainerRestartPolicyNever})}
	}
}

func initContainers(cs, regular []corev1.Container, vols map[string]corev1.VolumeSource, claims sets.Set[string], grace *int64,
	fldPath *field.Path, podRestart corev1.RestartPolicy, hostUsers bool) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for _, c := range regular {
		names.Insert(c.Name)
	}
	for i := range cs {
		c := &cs[i]
		p := fldPath.Index(i)
		errs = append(errs, containerCommon(c, vols, claims, p, podRestart, hostUsers)...)
		sidecar := false
		if c.RestartPolicy != nil {
			errs = append(errs, containerRestartPolicy(*c.RestartPolicy, p.Child("restartPolicy"))...)
			sidecar = *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
		errs = append(errs, restartRules(c.RestartPolicy, c.RestartPolicyRules, p, true)...)
		if names.Has(c.Name) {
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		} else if c.Name != "" {
			names.Insert(c.Name)
		}
		// Init containers run one at a time, so only clashes within one count.
		errs = append(errs, hostPortConflicts([]corev1.Container{*c}, fldPath)...)
		if sidecar {
			if c.Lifecycle != nil {
				errs = append(errs, lifecycle(c.Lifecycle, grace, p.Child("lifecycle"))...)
			}
			errs = append(errs, livenessProbe(c.LivenessProbe, p.Child("livenessProbe"))...)
			errs = append(errs, readinessProbe(c.ReadinessProbe, p.Child("readinessProbe"))...)
			errs = append(errs, livenessProbe(c.StartupProbe, p.Child("startupProbe"))...)
			continue
		}
		const msg = "may not be set for init containers without restartPolicy=Always"
		if c.Lifecycle != nil {
			errs = append(errs, field.Forbidden(p.Child("lifecycle"), msg))
		}
		if c.LivenessProbe != nil {
			errs = append(errs, field.Forbidden(p.Child("livenessProbe"), msg))
		}
		if c.ReadinessProbe != nil {
			errs = append(errs, field.Forbidden(p.Child("readinessProbe"), msg))
		}
		if c.StartupProbe != nil {
			errs = append(errs, field.Forbidden(p.Child("startupProbe"), msg))
		}
	}
	return errs
}

// allowedEphemeralContainerFields lists the EphemeralContainerCommon fields
// that may be set; anything else (ports, probes, resources…) is forbidden
// because ephemeral containers must not become part of the workload.
var allowedEphemeralContainerFields = map[string]bool{
	"Name": true, "Image": true, "Command": true, "Args": true, "WorkingDir": true,
	"EnvFrom": true, "Env": true, "VolumeMounts": true, "VolumeDevices": true,
	"TerminationMessagePath": true, "TerminationMessagePolicy": true, "ImagePullPolicy": true,
	"SecurityContext": true, "Stdin": true, "StdinOnce": true, "TTY": true,
}

func ephemeralContainers(s *corev1.PodSpec, vols map[string]corev1.VolumeSource, claims sets.Set[string], fldPath *field.Path, hostUsers bool) field.ErrorList {
	var errs field.ErrorList
	if len(s.EphemeralContainers) == 0 {
		return nil
	}
	other, all := sets.New[string](), sets.New[string]()
	for _, c := range s.Containers {
		other.Insert(c.Name)
		all.Insert(c.Name)
	}
	for _, c := range s.InitContainers {
		other.Insert(c.Name)
		all.Insert(c.Name)
	}
	for i := range s.EphemeralContainers {
		ec := &s.EphemeralContainers[i]
		p := fldPath.Index(i)
		c := (*corev1.Container)(&ec.EphemeralContainerCommon)
		errs = append(errs, containerCommon(c, vols, claims, p, s.RestartPolicy, hostUsers)...)
		if len(c.Image) != len(strings.TrimSpace(c.Image)) {
			errs = append(errs, field.Invalid(p.Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
		if all.Has(ec.Name) {
			errs = append(errs, field.Duplicate(p.Child("name"), ec.Name))
		} else {
			all.Insert(ec.Name)
		}
		if ec.TargetContainerName != "" && !other.Has(ec.TargetContainerName) {
			errs = append(errs, field.NotFound(p.Child("targetContainerName"), ec.TargetContainerName))
		}
		rt, rv := reflect.TypeOf(ec.EphemeralContainerCommon), reflect.ValueOf(ec.EphemeralContainerCommon)
		for f := 0; f < rt.NumField(); f++ {
			name := rt.Field(f).Name
			if allowedEphemeralContainerFields[name] || rv.Field(f).IsZero() {
				continue
			}
			r, n := utf8.DecodeRuneInString(name)
			errs = append(errs, field.Forbidden(p.Child(string(unicode.ToLower(r))+name[n:]), "cannot be set for an Ephemeral Container"))
		}
		for j, vm := range ec.VolumeMounts {
			if vm.SubPath != "" {
				errs = append(errs, field.Forbidden(p.Child("volumeMounts").Index(j).Child("subPath"), "cannot be set for an Ephemeral Container"))
			}
			if vm.SubPathExpr != "" {
				errs = append(errs, field.Forbidden(p.Child("volumeMounts").Index(j).Child("subPathExpr"), "cannot be set for an Ephemeral Container"))
			}
		}
	}
	return errs
}

func containerCommon(c *corev1.Container, vols map[string]corev1.VolumeSource, claims sets.Set[string], p *field.Path,
	podRestart corev1.RestartPolicy, hostUsers bool) field.ErrorList {
	var errs field.ErrorList
	if c.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		errs = append(errs, dns1123Label(c.Name, p.Child("name"))...)
	}
	if c.Image == "" {
		errs = append(errs, field.Required(p.Child("image"), ""))
	}
	switch c.TerminationMessagePolicy {
	case corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError:
	case "":
		errs = append(errs, field.Required(p.Child("terminationMessagePolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(p.Child("terminationMessagePolicy"), c.TerminationMessagePolicy,
			[]corev1.TerminationMessagePolicy{corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError}))
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	devices := map[string]string{}
	for _, d := range c.VolumeDevices {
		devices[d.Name] = d.DevicePath
	}
	errs = append(errs, containerPorts(c.Ports, p.Child("ports"))...)
	errs = append(errs, env(c.Env, p.Child("env"))...)
	errs = append(errs, envFrom(c.EnvFrom, p.Child("envFrom"))...)
	errs = append(errs, volumeMounts(c, devices, vols, p.Child("volumeMounts"))...)
	errs = append(errs, volumeDevices(c.VolumeDevices, mounts, vols, p.Child("volumeDevices"))...)
	errs = append(errs, pullPolicy(c.ImagePullPolicy, p.Child("imagePullPolicy"))...)
	errs = append(errs, resourceRequirements(&c.Resources, claims, p.Child("resources"), containerResourceName)...)
	errs = append(errs, resizePolicy(c.ResizePolicy, p.Child("resizePolicy"), podRestart)...)
	errs = append(errs, securityContext(c.SecurityContext, p.Child("securityContext"), hostUsers)...)
	return errs
}

var supportedPortProtocols = sets.New(corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)

func containerPorts(ports []corev1.ContainerPort, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		p := fldPath.Index(i)
		if port.Name != "" {
			if msgs := utilvalidation.IsValidPortName(port.Name); len(msgs) != 0 {
				for _, msg := range msgs {
					errs = append(errs, field.Invalid(p.Child("name"), port.Name, msg))
				}
			} else if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(p.Child("name"), port.Name))
			} else {
				names.Insert(port.Name)
			}
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(p.Child("containerPort"), ""))
		} else {
			for _, msg := range utilvalidation.IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, field.Invalid(p.Child("containerPort"), port.ContainerPort, msg))
			}
		}
		if port.HostPort != 0 {
			for _, msg := range utilvalidation.IsValidPortNum(int(port.HostPort)) {
				errs = append(errs, field.Invalid(p.Child("hostPort"), port.HostPort, msg))
			}
		}
		errs = append(errs, protocol(port.Protocol, p.Child("protocol"))...)
	}
	return errs
}

func protocol(pr corev1.Protocol, fldPath *field.Path) field.ErrorList {
	return requiredOneOf(pr, fldPath, sets.List(supportedPortProtocols)...)
}

func hostPortConflicts(cs []corev1.Container, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for ci, c := range cs {
		for pi, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			key := fmt.Sprintf("%s/%s/%d", p.Protocol, p.HostIP, p.HostPort)
			if seen.Has(key) {
				errs = append(errs, field.Duplicate(fldPath.Index(ci).Child("ports").Index(pi).Child("hostPort"), key))
			}
			seen.Insert(key)
		}
	}
	return errs
}

var validEnvDownwardAPIFieldPaths = sets.New(
	"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
	"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")

var validContainerResourceFieldPaths = sets.New(
	"limits.cpu", "limits.memory", "limits.ephemeral-storage",
	"requests.cpu", "requests.memory", "requests.ephemeral-storage")

func env(vars []corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range vars {
		p := fldPath.Index(i)
		if ev.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else {
			// Relaxed names (any printable ASCII but '=') are GA in kube.
			for _, msg := range utilvalidation.IsRelaxedEnvVarName(ev.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), ev.Name, msg))
			}
		}
		errs = append(errs, envVarValueFrom(ev, p.Child("valueFrom"))...)
	}
	return errs
}

func envVarValueFrom(ev corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	vf := ev.ValueFrom
	if vf == nil {
		return nil
	}
	var errs field.ErrorList
	n := 0
	if vf.FieldRef != nil {
		n++
		errs = append(errs, objectFieldSelector(vf.FieldRef, validEnvDownwardAPIFieldPaths, fldPath.Child("fieldRef"))...)
	}
	if vf.ResourceFieldRef != nil {
		n++
		errs = append(errs, resourceFieldSelector(vf.ResourceFieldRef, fldPath.Child("resourceFieldRef"), false)...)
	}
	if s := vf.ConfigMapKeyRef; s != nil {
		n++
		errs = append(errs, keySelector(s.Name, s.Key, fldPath.Child("configMapKeyRef"))...)
	}
	if s := vf.SecretKeyRef; s != nil {
		n++
		errs = append(errs, keySelector(s.Name, s.Key, fldPath.Child("secretKeyRef"))...)
	}
	if s := vf.FileKeyRef; s != nil {
		n++
		fp := fldPath.Child("fileKeyRef")
		if s.VolumeName == "" {
			errs = append(errs, field.Required(fp.Child("volumeName"), ""))
		}
		if s.Path == "" {
			errs = append(errs, field.Required(fp.Child("path"), ""))
		}
		if s.Key == "" {
			errs = append(errs, field.Required(fp.Child("key"), ""))
		}
	}
	switch {
	case n == 0:
		errs = append(errs, field.Invalid(fldPath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case ev.Value != "":
		errs = append(errs, field.Invalid(fldPath, "", "may not be specified when `value` is not empty"))
	case n > 1:
		errs = append(errs, field.Invalid(fldPath, "", "may not have more than one field specified at a time"))
	}
	return errs
}

func keySelector(name, key string, fldPath *field.Path) field.ErrorList {
	errs := nameErrs(apivalidation.NameIsDNSSubdomain, name, fldPath.Child("name"))
	if key == "" {
		return append(errs, field.Required(fldPath.Child("key"), ""))
	}
	for _, msg := range utilvalidation.IsConfigMapKey(key) {
		errs = append(errs, field.Invalid(fldPath.Child("key"), key, msg))
	}
	return errs
}

func objectFieldSelector(fs *corev1.ObjectFieldSelector, valid sets.Set[string], fldPath *field.Path) field.ErrorList {
	if fs.APIVersion == "" {
		return field.ErrorList{field.Required(fldPath.Child("apiVersion"), "")}
	}
	if fs.FieldPath == "" {
		return field.ErrorList{field.Required(fldPath.Child("fieldPath"), "")}
	}
	if fs.APIVersion != "v1" {
		return field.ErrorList{field.Invalid(fldPath.Child("fieldPath"), fs.FieldPath,
			fmt.Sprintf("error converting fieldPath: unsupported pod version: %s", fs.APIVersion))}
	}
	// kube first converts the path to its internal name, which fails (as
	// Invalid) for anything it cannot name; only then does it check the
	// paths allowed in this place (NotSupported).
	fieldPath := fs.FieldPath
	if p, _, ok := splitSubscript(fieldPath); ok {
		if p != "metadata.annotations" && p != "metadata.labels" {
			return field.ErrorList{field.Invalid(fldPath.Child("fieldPath"), fs.FieldPath,
				"error converting fieldPath: field label does not support subscript: "+fs.FieldPath)}
		}
	} else if fieldPath == "spec.host" {
		fieldPath = "spec.nodeName"
	} else if !convertibleFieldPaths.Has(fieldPath) {
		return field.ErrorList{field.Invalid(fldPath.Child("fieldPath"), fs.FieldPath,
			"error converting fieldPath: field label not supported: "+fs.FieldPath)}
	}
	p, subscript, ok := splitSubscript(fieldPath)
	if ok {
		switch p {
		case "metadata.annotations":
			return qualifiedName(strings.ToLower(subscript), fldPath)
		case "metadata.labels":
			return qualifiedName(subscript, fldPath)
		default:
			return field.ErrorList{field.Invalid(fldPath, p, "does not support subscript")}
		}
	}
	if !valid.Has(p) {
		return field.ErrorList{field.NotSupported(fldPath.Child("fieldPath"), p, sets.List(valid))}
	}
	return nil
}

// convertibleFieldPaths are the pod fields kube's downward API can name.
var convertibleFieldPaths = sets.New("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
	"metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName",
	"status.phase", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")

// splitSubscript splits "metadata.labels['key']" into path and key.
func splitSubscript(fp string) (string, string, bool) {
	if !strings.HasSuffix(fp, "']") {
		return fp, "", false
	}
	i := strings.Index(fp, "['")
	if i < 0 {
		return fp, "", false
	}
	return fp[:i], fp[i+2 : len(fp)-2], true
}

func resourceFieldSelector(fs *corev1.ResourceFieldSelector, fldPath *field.Path, volume bool) field.ErrorList {
	var errs field.ErrorList
	switch {
	case volume && fs.ContainerName == "":
		errs = append(errs, field.Required(fldPath.Child("containerName"), ""))
	case fs.Resource == "":
		errs = append(errs, field.Required(fldPath.Child("resource"), ""))
	case !validContainerResourceFieldPaths.Has(fs.Resource) &&
		!strings.HasPrefix(fs.Resource, "requests.hugepages-") && !strings.HasPrefix(fs.Resource, "limits.hugepages-"):
		errs = append(errs, field.NotSupported(fldPath.Child("resource"), fs.Resource, sets.List(validContainerResourceFieldPaths)))
	}
	return append(errs, resourceDivisor(fs.Resource, fs.Divisor, fldPath)...)
}

var (
	cpuDivisors    = sets.New("1m", "1")
	memoryDivisors = sets.New("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei")
)

// resourceDivisor is kube's validateContainerResourceDivisor.
func resourceDivisor(name string, d resource.Quantity, fldPath *field.Path) field.ErrorList {
	if d.IsZero() {
		return nil
	}
	const sizes = "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei"
	var msg string
	switch {
	case name == "limits.cpu" || name == "requests.cpu":
		if !cpuDivisors.Has(d.String()) {
			msg = "only divisor's values 1m and 1 are supported with the cpu resource"
		}
	case name == "limits.memory" || name == "requests.memory":
		if !memoryDivisors.Has(d.String()) {
			msg = "only divisor's values " + sizes + " are supported with the memory resource"
		}
	case name == "limits.ephemeral-storage" || name == "requests.ephemeral-storage":
		if !memoryDivisors.Has(d.String()) {
			msg = "only divisor's values " + sizes + " are supported with the local ephemeral storage resource"
		}
	case strings.HasPrefix(name, "requests.hugepages-") || strings.HasPrefix(name, "limits.hugepages-"):
		if !memoryDivisors.Has(d.String()) {
			msg = "only divisor's values " + sizes + " are supported with the hugepages resource"
		}
	}
	if msg == "" {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath.Child("divisor"), name, msg)}
}

func envFrom(vars []corev1.EnvFromSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range vars {
		p := fldPath.Index(i)
		if ev.Prefix != "" {
			for _, msg := range utilvalidation.IsRelaxedEnvVarName(ev.Prefix) {
				errs = append(errs, field.Invalid(p.Child("prefix"), ev.Prefix, msg))
			}
		}
		n := 0
		if ev.ConfigMapRef != nil {
			n++
			errs = append(errs, envSourceName(ev.ConfigMapRef.Name, p.Child("configMapRef"))...)
		}
		if ev.SecretRef != nil {
			n++
			errs = append(errs, envSourceName(ev.SecretRef.Name, p.Child("secretRef"))...)
		}
		if n == 0 {
			errs = append(errs, field.Invalid(fldPath, "", "must specify one of: `configMapRef` or `secretRef`"))
		} else if n > 1 {
			errs = append(errs, field.Invalid(fldPath, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

func envSourceName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath.Child("name"), "")}
	}
	var errs field.ErrorList
	for _, msg := range apivalidation.NameIsDNSSubdomain(name, true) {
		errs = append(errs, field.Invalid(fldPath.Child("name"), name, msg))
	}
	return errs
}

func volumeMounts(c *corev1.Container, devices map[string]string, vols map[string]corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	points := sets.New[string]()
	for i, m := range c.VolumeMounts {
		p := fldPath.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		if _, ok := vols[m.Name]; !ok {
			errs = append(errs, field.NotFound(p.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(p.Child("mountPath"), ""))
		}
		if points.Has(m.MountPath) {
			errs = append(errs, field.Invalid(p.Child("mountPath"), m.MountPath, "must be unique"))
		}
		points.Insert(m.MountPath)
		if _, ok := devices[m.Name]; ok {
			errs = append(errs, field.Invalid(p.Child("name"), m.Name, "must not already exist in volumeDevices"))
		}
		for _, dp := range devices {
			if dp == m.MountPath {
				errs = append(errs, field.Invalid(p.Child("mountPath"), m.MountPath, "must not already exist as a path in volumeDevices"))
			}
		}
		if v, ok := vols[m.Name]; ok && v.Image != nil {
			if m.SubPath != "" {
				errs = append(errs, field.Invalid(p.Child("subPath"), m.SubPath, "not allowed in image volume sources"))
			}
			if m.SubPathExpr != "" {
				errs = append(errs, field.Invalid(p.Child("subPathExpr"), m.SubPathExpr, "not allowed in image volume sources"))
			}
		}
		// kube reports subPath problems against the list, not the item.
		if m.SubPath != "" {
			errs = append(errs, localDescendingPath(m.SubPath, fldPath.Child("subPath"))...)
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				errs = append(errs, field.Invalid(p.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			errs = append(errs, localDescendingPath(m.SubPathExpr, fldPath.Child("subPathExpr"))...)
		}
		if mp := m.MountPropagation; mp != nil {
			supported := sets.New(corev1.MountPropagationBidirectional, corev1.MountPropagationHostToContainer, corev1.MountPropagationNone)
			if !supported.Has(*mp) {
				errs = append(errs, field.NotSupported(fldPath.Child("mountPropagation"), *mp, sets.List(supported)))
			}
			privileged := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
			if *mp == corev1.MountPropagationBidirectional && !privileged {
				errs = append(errs, field.Forbidden(fldPath.Child("mountPropagation"), "Bidirectional mount propagation is available only to privileged containers"))
			}
		}
		if rro := m.RecursiveReadOnly; rro != nil {
			rp := fldPath.Child("recursiveReadOnly")
			switch *rro {
			case corev1.RecursiveReadOnlyDisabled:
			case corev1.RecursiveReadOnlyEnabled, corev1.RecursiveReadOnlyIfPossible:
				if !m.ReadOnly {
					errs = append(errs, field.Forbidden(rp, "may only be specified when readOnly is true"))
				}
				if m.MountPropagation != nil && *m.MountPropagation != corev1.MountPropagationNone {
					errs = append(errs, field.Forbidden(rp, "may only be specified when mountPropagation is None or not specified"))
				}
			default:
				errs = append(errs, field.NotSupported(rp, *rro, []corev1.RecursiveReadOnlyMode{
					corev1.RecursiveReadOnlyDisabled, corev1.RecursiveReadOnlyEnabled, corev1.RecursiveReadOnlyIfPossible}))
			}
		}
	}
	return errs
}

func volumeDevices(devs []corev1.VolumeDevice, mounts map[string]string, vols map[string]corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths, names := sets.New[string](), sets.New[string]()
	for i, d := range devs {
		p := fldPath.Index(i)
		src, matched := vols[d.Name]
		isPVC := matched && (src.PersistentVolumeClaim != nil || src.Ephemeral != nil)
		if d.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		if names.Has(d.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), d.Name, "must be unique"))
		}
		if matched && !isPVC {
			errs = append(errs, field.Invalid(p.Child("name"), d.Name, "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode"))
		}
		if !matched {
			errs = append(errs, field.NotFound(p.Child("name"), d.Name))
		}
		if d.DevicePath == "" {
			errs = append(errs, field.Required(p.Child("devicePath"), ""))
		}
		if paths.Has(d.DevicePath) {
			errs = append(errs, field.Invalid(p.Child("devicePath"), d.DevicePath, "must be unique"))
		}
		if d.DevicePath != "" && len(pathNoBacksteps(d.DevicePath, p)) > 0 {
			errs = append(errs, field.Invalid(p.Child("devicePath"), d.DevicePath, "can not contain backsteps ('..')"))
		} else {
			paths.Insert(d.DevicePath)
		}
		if _, ok := mounts[d.Name]; ok {
			errs = append(errs, field.Invalid(p.Child("name"), d.Name, "must not already exist in volumeMounts"))
		}
		for _, mp := range mounts {
			if mp == d.DevicePath {
				errs = append(errs, field.Invalid(p.Child("devicePath"), d.DevicePath, "must not already exist as a path in volumeMounts"))
			}
		}
		if d.Name != "" {
			names.Insert(d.Name)
		}
	}
	return errs
}

var supportedPullPolicies = sets.New(corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever)

func pullPolicy(p corev1.PullPolicy, fldPath *field.Path) field.ErrorList {
	return requiredOneOf(p, fldPath, sets.List(supportedPullPolicies)...)
}

func resizePolicy(policies []corev1.ContainerResizePolicy, fldPath *field.Path, podRestart corev1.RestartPolicy) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.ResourceName]bool{}
	for i, p := range policies {
		if seen[p.ResourceName] {
			errs = append(errs, field.Duplicate(fldPath.Index(i), p.ResourceName))
		}
		seen[p.ResourceName] = true
		switch p.ResourceName {
		case corev1.ResourceCPU, corev1.ResourceMemory:
		case "":
			errs = append(errs, field.Required(fldPath, ""))
		default:
			errs = append(errs, field.NotSupported(fldPath, p.ResourceName, []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}))
		}
		switch p.RestartPolicy {
		case corev1.NotRequired, corev1.RestartContainer:
		case "":
			errs = append(errs, field.Required(fldPath, ""))
		default:
			errs = append(errs, field.NotSupported(fldPath, p.RestartPolicy, []corev1.ResourceResizeRestartPolicy{corev1.NotRequired, corev1.RestartContainer}))
		}
		if podRestart == corev1.RestartPolicyNever && p.RestartPolicy != corev1.NotRequired {
			errs = append(errs, field.Invalid(fldPath, p.RestartPolicy, "must be 'NotRequired' when `restartPolicy` is 'Never'"))
		}
	}
	return errs
}

// --- probes and handlers ---------------------------------------------------

func livenessProbe(p *corev1.Probe, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	errs := probe(p, fldPath)
	if p.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(fldPath.Child("successThreshold"), p.SuccessThreshold, "must be 1"))
	}
	return errs
}

func readinessProbe(p *corev1.Probe, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	errs := probe(p, fldPath)
	if p.TerminationGracePeriodSeconds != nil {
		errs = append(errs, field.Invalid(fldPath.Child("terminationGracePeriodSeconds"), p.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
	}
	return errs
}

func probe(p *corev1.Probe, fldPath *field.Path) field.ErrorList {
	h := p.ProbeHandler
	errs := handler(h.Exec, h.HTTPGet, h.TCPSocket, h.GRPC, nil, nil, fldPath)
	errs = append(errs, nonNegative(int64(p.InitialDelaySeconds), fldPath.Child("initialDelaySeconds"))...)
	errs = append(errs, nonNegative(int64(p.TimeoutSeconds), fldPath.Child("timeoutSeconds"))...)
	errs = append(errs, nonNegative(int64(p.PeriodSeconds), fldPath.Child("periodSeconds"))...)
	errs = append(errs, nonNegative(int64(p.SuccessThreshold), fldPath.Child("successThreshold"))...)
	errs = append(errs, nonNegative(int64(p.FailureThreshold), fldPath.Child("failureThreshold"))...)
	if g := p.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		errs = append(errs, field.Invalid(fldPath.Child("terminationGracePeriodSeconds"), *g, "must be greater than 0"))
	}
	return errs
}

func lifecycle(l *corev1.Lifecycle, grace *int64, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if h := l.PostStart; h != nil {
		errs = append(errs, handler(h.Exec, h.HTTPGet, h.TCPSocket, nil, h.Sleep, grace, fldPath.Child("postStart"))...)
	}
	if h := l.PreStop; h != nil {
		errs = append(errs, handler(h.Exec, h.HTTPGet, h.TCPSocket, nil, h.Sleep, grace, fldPath.Child("preStop"))...)
	}
	return errs
}

var supportedHTTPSchemes = sets.New(corev1.URISchemeHTTP, corev1.URISchemeHTTPS)

// handler checks that exactly one action is set and validates it.
func handler(exec *corev1.ExecAction, get *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction, grpc *corev1.GRPCAction,
	sleep *corev1.SleepAction, grace *int64, fldPath *field.Path) field.ErrorList {
	u := union{fldPath: fldPath, kind: "handler type"}
	one := u.member
	one(exec != nil, "exec", func(p *field.Path) field.ErrorList {
		if len(exec.Command) == 0 {
			return field.ErrorList{field.Required(p.Child("command"), "")}
		}
		return nil
	})
	one(get != nil, "httpGet", func(p *field.Path) field.ErrorList {
		var e field.ErrorList
		if get.Path == "" {
			e = append(e, field.Required(p.Child("path"), ""))
		}
		e = append(e, portNumOrName(get.Port, p.Child("port"))...)
		if !supportedHTTPSchemes.Has(get.Scheme) {
			e = append(e, field.NotSupported(p.Child("scheme"), get.Scheme, sets.List(supportedHTTPSchemes)))
		}
		for _, h := range get.HTTPHeaders {
			for _, msg := range utilvalidation.IsHTTPHeaderName(h.Name) {
				e = append(e, field.Invalid(p.Child("httpHeaders"), h.Name, msg))
			}
		}
		return e
	})
	one(tcp != nil, "tcpSocket", func(p *field.Path) field.ErrorList { return portNumOrName(tcp.Port, p.Child("port")) })
	one(grpc != nil, "grpc", func(p *field.Path) field.ErrorList {
		return portNumOrName(intstr.FromInt32(grpc.Port), p.Child("port"))
	})
	one(sleep != nil, "sleep", func(p *field.Path) field.ErrorList {
		if grace != nil && (sleep.Seconds < 0 || sleep.Seconds > *grace) {
			return field.ErrorList{field.Invalid(p, sleep.Seconds,
				fmt.Sprintf("must be non-negative and less than terminationGracePeriodSeconds (%d)", *grace))}
		}
		return nil
	})
	return u.done()
}

func portNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch port.Type {
	case intstr.Int:
		for _, msg := range utilvalidation.IsValidPortNum(port.IntValue()) {
			errs = append(errs, field.Invalid(fldPath, port.IntValue(), msg))
		}
	case intstr.String:
		for _, msg := range utilvalidation.IsValidPortName(port.StrVal) {
			errs = append(errs, field.Invalid(fldPath, port.StrVal, msg))
		}
	default:
		errs = append(errs, field.InternalError(fldPath, fmt.Errorf("unknown type: %v", port.Type)))
	}
	return errs
}

// --- security --------------------------------------------------------------

func podSecurityContext(s *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	sc := s.SecurityContext
	var errs field.ErrorList
	if s.ShareProcessNamespace != nil && s.HostPID && *s.ShareProcessNamespace {
		// kube keeps shareProcessNamespace inside securityContext internally
		// and reports it there.
		errs = append(errs, field.Invalid(fldPath.Child("shareProcessNamespace"), *s.ShareProcessNamespace, "ShareProcessNamespace and HostPID cannot both be enabled"))
	}
	if sc == nil {
		return errs
	}
	if sc.FSGroup != nil {
		for _, msg := range utilvalidation.IsValidGroupID(*sc.FSGroup) {
			errs = append(errs, field.Invalid(fldPath.Child("fsGroup"), *sc.FSGroup, msg))
		}
	}
	if sc.RunAsUser != nil {
		for _, msg := range utilvalidation.IsValidUserID(*sc.RunAsUser) {
			errs = append(errs, field.Invalid(fldPath.Child("runAsUser"), *sc.RunAsUser, msg))
		}
	}
	if sc.RunAsGroup != nil {
		for _, msg := range utilvalidation.IsValidGroupID(*sc.RunAsGroup) {
			errs = append(errs, field.Invalid(fldPath.Child("runAsGroup"), *sc.RunAsGroup, msg))
		}
	}
	for i, g := range sc.SupplementalGroups {
		for _, msg := range utilvalidation.IsValidGroupID(g) {
			errs = append(errs, field.Invalid(fldPath.Child("supplementalGroups").Index(i), g, msg))
		}
	}
	sysctls := sets.New[string]()
	for i, sy := range sc.Sysctls {
		p := fldPath.Child("sysctls").Index(i).Child("name")
		switch {
		case sy.Name == "":
			errs = append(errs, field.Required(p, ""))
		case len(sy.Name) > 253 || !sysctlRegexp.MatchString(sy.Name):
			errs = append(errs, field.Invalid(p, sy.Name, fmt.Sprintf("must have at most %d characters and match regex %s", 253, sysctlRegexp)))
		case sysctls.Has(sy.Name):
			errs = append(errs, field.Duplicate(p, sy.Name))
		}
		sysctls.Insert(sy.Name)
	}
	if p := sc.FSGroupChangePolicy; p != nil {
		supported := sets.New(corev1.FSGroupChangeOnRootMismatch, corev1.FSGroupChangeAlways)
		if !supported.Has(*p) {
			errs = append(errs, field.NotSupported(fldPath.Child("fsGroupChangePolicy"), p, sets.List(supported)))
		}
	}
	if p := sc.SupplementalGroupsPolicy; p != nil {
		supported := sets.New(corev1.SupplementalGroupsPolicyMerge, corev1.SupplementalGroupsPolicyStrict)
		if !supported.Has(*p) {
			errs = append(errs, field.NotSupported(fldPath.Child("supplementalGroupsPolicy"), p, sets.List(supported)))
		}
	}
	if p := sc.SELinuxChangePolicy; p != nil {
		supported := sets.New(corev1.SELinuxChangePolicyRecursive, corev1.SELinuxChangePolicyMountOption)
		if !supported.Has(*p) {
			errs = append(errs, field.NotSupported(fldPath.Child("seLinuxChangePolicy"), *p, sets.List(supported)))
		}
	}
	errs = append(errs, seccompProfile(sc.SeccompProfile, fldPath.Child("seccompProfile"))...)
	errs = append(errs, appArmorProfile(sc.AppArmorProfile, fldPath.Child("appArmorProfile"))...)
	return errs
}

func securityContext(sc *corev1.SecurityContext, fldPath *field.Path, hostUsers bool) field.ErrorList {
	if sc == nil {
		return nil
	}
	var errs field.ErrorList
	if sc.RunAsUser != nil {
		for _, msg := range utilvalidation.IsValidUserID(*sc.RunAsUser) {
			errs = append(errs, field.Invalid(fldPath.Child("runAsUser"), *sc.RunAsUser, msg))
		}
	}
	if sc.RunAsGroup != nil {
		for _, msg := range utilvalidation.IsValidGroupID(*sc.RunAsGroup) {
			errs = append(errs, field.Invalid(fldPath.Child("runAsGroup"), *sc.RunAsGroup, msg))
		}
	}
	if pm := sc.ProcMount; pm != nil {
		switch *pm {
		case corev1.DefaultProcMount, corev1.UnmaskedProcMount:
		default:
			errs = append(errs, field.NotSupported(fldPath.Child("procMount"), *pm, []corev1.ProcMountType{corev1.DefaultProcMount, corev1.UnmaskedProcMount}))
		}
		if hostUsers && *pm == corev1.UnmaskedProcMount {
			errs = append(errs, field.Invalid(fldPath.Child("procMount"), sc.ProcMount, "`hostUsers` must be false to use `Unmasked`"))
		}
	}
	errs = append(errs, seccompProfile(sc.SeccompProfile, fldPath.Child("seccompProfile"))...)
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, field.Invalid(fldPath, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Add {
				if string(c) == "CAP_SYS_ADMIN" {
					errs = append(errs, field.Invalid(fldPath, sc, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
				}
			}
		}
	}
	return append(errs, appArmorProfile(sc.AppArmorProfile, fldPath.Child("appArmorProfile"))...)
}

func seccompProfile(sp *corev1.SeccompProfile, fldPath *field.Path) field.ErrorList {
	if sp == nil {
		return nil
	}
	var errs field.ErrorList
	switch sp.Type {
	case corev1.SeccompProfileTypeLocalhost, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined:
	case "":
		errs = append(errs, field.Required(fldPath.Child("type"), "type is required when seccompProfile is set"))
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("type"), sp.Type, []corev1.SeccompProfileType{
			corev1.SeccompProfileTypeLocalhost, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined}))
	}
	if sp.Type == corev1.SeccompProfileTypeLocalhost {
		if sp.LocalhostProfile == nil {
			errs = append(errs, field.Required(fldPath.Child("localhostProfile"), "must be set when seccomp type is Localhost"))
		} else {
			errs = append(errs, localDescendingPath(*sp.LocalhostProfile, fldPath.Child("localhostProfile"))...)
		}
	} else if sp.LocalhostProfile != nil {
		errs = append(errs, field.Invalid(fldPath.Child("localhostProfile"), sp, "can only be set when seccomp type is Localhost"))
	}
	return errs
}

func appArmorProfile(p *corev1.AppArmorProfile, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	switch p.Type {
	case corev1.AppArmorProfileTypeLocalhost:
		if p.LocalhostProfile == nil || strings.TrimSpace(*p.LocalhostProfile) == "" {
			return field.ErrorList{field.Required(fldPath.Child("localhostProfile"), "must be set when AppArmor type is Localhost")}
		}
		if strings.TrimSpace(*p.LocalhostProfile) != *p.LocalhostProfile {
			return field.ErrorList{field.Invalid(fldPath.Child("localhostProfile"), *p.LocalhostProfile, "must not be padded with whitespace")}
		}
	case corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined:
		if p.LocalhostProfile != nil {
			return field.ErrorList{field.Invalid(fldPath.Child("localhostProfile"), p.LocalhostProfile, "can only be set when AppArmor type is Localhost")}
		}
	case "":
		return field.ErrorList{field.Required(fldPath.Child("type"), "type is required when appArmorProfile is set")}
	default:
		return field.ErrorList{field.NotSupported(fldPath.Child("type"), p.Type, []corev1.AppArmorProfileType{
			corev1.AppArmorProfileTypeLocalhost, corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined})}
	}
	return nil
}

// --- scheduling ------------------------------------------------------------

func tolerations(tols []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range tols {
		p := fldPath.Index(i)
		if t.Key != "" {
			errs = append(errs, metavalidation.ValidateLabelName(t.Key, p.Child("key"))...)
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(p.Child("operator"), t.Operator,
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(p.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			if msgs := content.IsLabelValue(t.Value); len(msgs) != 0 {
				errs = append(errs, field.Invalid(p.Child("operator"), t.Value, strings.Join(msgs, ";")))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(p.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		case corev1.TolerationOpLt, corev1.TolerationOpGt:
			// Numeric comparisons (taint tolerations by value) only need a value.
			if t.Value == "" {
				errs = append(errs, field.Required(p.Child("value"), ""))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("operator"), t.Operator,
				[]corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}))
		}
		if t.Effect != "" {
			errs = append(errs, taintEffect(t.Effect, p.Child("effect"))...)
		}
	}
	return errs
}

func taintEffect(e corev1.TaintEffect, fldPath *field.Path) field.ErrorList {
	return requiredOneOf(e, fldPath, corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute)
}

// nodeSelector is kube's ValidateNodeSelector.
func nodeSelector(s *corev1.NodeSelector, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	tp := fldPath.Child("nodeSelectorTerms")
	if len(s.NodeSelectorTerms) == 0 {
		errs = append(errs, field.Required(tp, "must have at least one node selector term"))
	}
	for i, t := range s.NodeSelectorTerms {
		errs = append(errs, nodeSelectorTerm(t, tp.Index(i))...)
	}
	return errs
}

func affinity(a *corev1.Affinity, fldPath *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	var errs field.ErrorList
	if na := a.NodeAffinity; na != nil {
		np := fldPath.Child("nodeAffinity")
		if r := na.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			errs = append(errs, nodeSelector(r, np.Child("requiredDuringSchedulingIgnoredDuringExecution"))...)
		}
		for i, t := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			pp := np.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			if t.Weight <= 0 || t.Weight > 100 {
				errs = append(errs, field.Invalid(pp.Child("weight"), t.Weight, "must be in the range 1-100"))
			}
			errs = append(errs, nodeSelectorTerm(t.Preference, pp.Child("preference"))...)
		}
	}
	podTerms := func(pa []corev1.PodAffinityTerm, wa []corev1.WeightedPodAffinityTerm, p *field.Path) {
		for i, t := range pa {
			errs = append(errs, podAffinityTerm(t, p.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i))...)
		}
		for i, t := range wa {
			wp := p.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			if t.Weight <= 0 || t.Weight > 100 {
				errs = append(errs, field.Invalid(wp.Child("weight"), t.Weight, "must be in the range 1-100"))
			}
			errs = append(errs, podAffinityTerm(t.PodAffinityTerm, wp.Child("podAffinityTerm"))...)
		}
	}
	if pa := a.PodAffinity; pa != nil {
		podTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, fldPath.Child("podAffinity"))
	}
	if pa := a.PodAntiAffinity; pa != nil {
		podTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, fldPath.Child("podAntiAffinity"))
	}
	return errs
}

func nodeSelectorTerm(t corev1.NodeSelectorTerm, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for j, r := range t.MatchExpressions {
		p := fldPath.Child("matchExpressions").Index(j)
		switch r.Operator {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			if len(r.Values) == 0 {
				errs = append(errs, field.Required(p.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
			if len(r.Values) > 0 {
				errs = append(errs, field.Forbidden(p.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
			if len(r.Values) != 1 {
				errs = append(errs, field.Required(p.Child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
			}
		default:
			errs = append(errs, field.Invalid(p.Child("operator"), r.Operator, "not a valid selector operator"))
		}
		errs = append(errs, metavalidation.ValidateLabelName(r.Key, p.Child("key"))...)
		for k, v := range r.Values {
			for _, msg := range content.IsLabelValue(v) {
				errs = append(errs, field.Invalid(p.Child("values").Index(k), v, msg))
			}
		}
	}
	for j, r := range t.MatchFields {
		p := fldPath.Child("matchFields").Index(j)
		switch r.Operator {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			if len(r.Values) != 1 {
				errs = append(errs, field.Required(p.Child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
			}
		default:
			errs = append(errs, field.Invalid(p.Child("operator"), r.Operator, "not a valid selector operator"))
		}
		if r.Key != metav1.ObjectNameField {
			errs = append(errs, field.Invalid(p.Child("key"), r.Key, "not a valid field selector key"))
		} else {
			for k, v := range r.Values {
				errs = append(errs, nameErrs(apivalidation.NameIsDNSSubdomain, v, p.Child("values").Index(k))...)
			}
		}
	}
	return errs
}

func podAffinityTerm(t corev1.PodAffinityTerm, fldPath *field.Path) field.ErrorList {
	errs := labelSelector(t.LabelSelector, fldPath.Child("labelSelector"))
	errs = append(errs, labelSelector(t.NamespaceSelector, fldPath.Child("namespaceSelector"))...)
	for _, ns := range t.Namespaces {
		errs = append(errs, nameErrs(apivalidation.ValidateNamespaceName, ns, fldPath.Child("namespace"))...)
	}
	if t.TopologyKey == "" {
		errs = append(errs, field.Required(fldPath.Child("topologyKey"), "can not be empty"))
	}
	return append(errs, metavalidation.ValidateLabelName(t.TopologyKey, fldPath.Child("topologyKey"))...)
}

var (
	supportedScheduleActions       = sets.New(corev1.DoNotSchedule, corev1.ScheduleAnyway)
	supportedNodeInclusionPolicies = sets.New(corev1.NodeInclusionPolicyHonor, corev1.NodeInclusionPolicyIgnore)
)

func topologySpreadConstraints(cs []corev1.TopologySpreadConstraint, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, c := range cs {
		p := fldPath.Index(i)
		if c.MaxSkew <= 0 {
			errs = append(errs, field.Invalid(p.Child("maxSkew"), c.MaxSkew, isNotPositiveErrorMsg))
		}
		if c.TopologyKey == "" {
			errs = append(errs, field.Required(p.Child("topologyKey"), "can not be empty"))
		}
		for _, pol := range []struct {
			name string
			v    *corev1.NodeInclusionPolicy
		}{{"nodeAffinityPolicy", c.NodeAffinityPolicy}, {"nodeTaintsPolicy", c.NodeTaintsPolicy}} {
			if pol.v != nil && !supportedNodeInclusionPolicies.Has(*pol.v) {
				errs = append(errs, field.NotSupported(p.Child(pol.name), pol.v, sets.List(supportedNodeInclusionPolicies)))
			}
		}
		if !supportedScheduleActions.Has(c.WhenUnsatisfiable) {
			errs = append(errs, field.NotSupported(p.Child("whenUnsatisfiable"), c.WhenUnsatisfiable, sets.List(supportedScheduleActions)))
		}
		for _, later := range cs[i+1:] {
			if later.TopologyKey == c.TopologyKey && later.WhenUnsatisfiable == c.WhenUnsatisfiable {
				errs = append(errs, field.Duplicate(p.Child("{topologyKey, whenUnsatisfiable}"),
					fmt.Sprintf("{%v, %v}", c.TopologyKey, c.WhenUnsatisfiable)))
				break
			}
		}
		if md := c.MinDomains; md != nil {
			if *md <= 0 {
				errs = append(errs, field.Invalid(p.Child("minDomains"), md, isNotPositiveErrorMsg))
			}
			if c.WhenUnsatisfiable != corev1.DoNotSchedule {
				errs = append(errs, field.Invalid(p.Child("minDomains"), md,
					fmt.Sprintf("can only use minDomains if whenUnsatisfiable=%s, not %s", corev1.DoNotSchedule, c.WhenUnsatisfiable)))
			}
		}
		errs = append(errs, labelSelector(c.LabelSelector, p.Child("labelSelector"))...)
	}
	return errs
}

// --- resources -------------------------------------------------------------

var standardContainerResources = sets.New(corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage)

func isHugePages(name corev1.ResourceName) bool {
	return strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

// isNative reports kube-defined resource names: unprefixed or under
// kubernetes.io/.
func isNative(name corev1.ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), corev1.ResourceDefaultNamespacePrefix)
}

// isExtended reports device-plugin style resources (example.com/gpu).
func isExtended(name corev1.ResourceName) bool {
	if isNative(name) || strings.HasPrefix(string(name), corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(content.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+string(name))) == 0
}

// overcommitAllowed is false for hugepages and extended resources, whose
// requests must equal their limits.
func overcommitAllowed(name corev1.ResourceName) bool {
	return isNative(name) && !isHugePages(name)
}

func resourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	errs := qualifiedName(string(name), fldPath)
	if len(errs) != 0 {
		return errs
	}
	if !strings.Contains(string(name), "/") && !standardResourceName(name) {
		return field.ErrorList{field.Invalid(fldPath, name, "must be a standard resource type or fully qualified")}
	}
	return nil
}

func standardResourceName(name corev1.ResourceName) bool {
	if standardContainerResources.Has(name) || isHugePages(name) {
		return true
	}
	switch name {
	case corev1.ResourceStorage, corev1.ResourcePods, corev1.ResourceServices, corev1.ResourceRequestsCPU,
		corev1.ResourceRequestsMemory, corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory:
		return true
	}
	return false
}

func containerResourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	errs := resourceName(name, fldPath)
	if !strings.Contains(string(name), "/") {
		if !standardContainerResources.Has(name) && !isHugePages(name) {
			return append(errs, field.Invalid(fldPath, name, "must be a standard resource for containers"))
		}
	} else if !isNative(name) && !isExtended(name) {
		return append(errs, field.Invalid(fldPath, name, "doesn't follow extended resource name standard"))
	}
	return errs
}

func podResourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	errs := resourceName(name, fldPath)
	if len(errs) != 0 {
		return errs
	}
	if name != corev1.ResourceCPU && name != corev1.ResourceMemory && !isHugePages(name) {
		return field.ErrorList{field.NotSupported(fldPath, name, []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, "hugepages-*"})}
	}
	return nil
}

func quantityValue(name corev1.ResourceName, q resource.Quantity, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if q.Sign() < 0 {
		errs = append(errs, field.Invalid(fldPath, q.String(), apivalidation.IsNegativeErrorMsg))
	}
	if isExtended(name) && q.MilliValue()%1000 != 0 {
		errs = append(errs, field.Invalid(fldPath, q, isNotIntegerErrorMsg))
	}
	return errs
}

func resourceRequirements(r *corev1.ResourceRequirements, claims sets.Set[string], fldPath *field.Path,
	nameFn func(corev1.ResourceName, *field.Path) field.ErrorList) field.ErrorList {
	var errs field.ErrorList
	limPath, reqPath := fldPath.Child("limits"), fldPath.Child("requests")
	cpuOrMem, huge := false, false
	for name, q := range r.Limits {
		p := limPath.Key(string(name))
		errs = append(errs, nameFn(name, p)...)
		errs = append(errs, quantityValue(name, q, p)...)
		huge = huge || isHugePages(name)
		cpuOrMem = cpuOrMem || name == corev1.ResourceCPU || name == corev1.ResourceMemory
	}
	for name, q := range r.Requests {
		p := reqPath.Key(string(name))
		errs = append(errs, nameFn(name, p)...)
		errs = append(errs, quantityValue(name, q, p)...)
		if limit, ok := r.Limits[name]; ok {
			if q.Cmp(limit) != 0 && !overcommitAllowed(name) {
				errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, limit.String())))
			} else if q.Cmp(limit) > 0 {
				errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
			}
		} else if !overcommitAllowed(name) {
			errs = append(errs, field.Required(limPath, "Limit must be set for non overcommitable resources"))
		}
		huge = huge || isHugePages(name)
		cpuOrMem = cpuOrMem || name == corev1.ResourceCPU || name == corev1.ResourceMemory
	}
	if huge && !cpuOrMem {
		errs = append(errs, field.Forbidden(fldPath, "HugePages require cpu or memory"))
	}
	seen := sets.New[string]()
	for i, c := range r.Claims {
		p := fldPath.Child("claims").Index(i)
		if c.Name == "" {
			errs = append(errs, field.Required(p, ""))
			continue
		}
		key := c.Name
		if c.Request != "" {
			errs = append(errs, dns1123Label(c.Request, p.Child("request"))...)
			key += "/" + c.Request
		}
		if seen.Has(key) {
			errs = append(errs, field.Duplicate(p, key))
		}
		seen.Insert(key)
		if !claims.Has(c.Name) {
			e := field.NotFound(p, c.Name)
			e.Detail = "must be one of the names in pod.spec.resourceClaims"
			if claims.Len() == 0 {
				e.Detail += " which is empty"
			} else {
				e.Detail += ": " + strings.Join(sets.List(claims), ", ")
			}
			errs = append(errs, e)
		}
	}
	return errs
}

// keyedSource validates a secret or configMap volume: the object's name,
// the default mode and the key-to-path items.
func keyedSource(name, nameField string, mode *int32, items []corev1.KeyToPath, p *field.Path) field.ErrorList {
	var e field.ErrorList
	if name == "" {
		e = append(e, field.Required(p.Child(nameField), ""))
	}
	e = append(e, fileMode(mode, p.Child("defaultMode"))...)
	for i := range items {
		e = append(e, keyToPath(&items[i], p.Child("items").Index(i))...)
	}
	return e
}

// nfsSource validates an NFS volume, in a pod or a PersistentVolume.
func nfsSource(nfs *corev1.NFSVolumeSource, p *field.Path) field.ErrorList {
	var e field.ErrorList
	if nfs.Server == "" {
		e = append(e, field.Required(p.Child("server"), ""))
	}
	if nfs.Path == "" {
		e = append(e, field.Required(p.Child("path"), ""))
	}
	if !path.IsAbs(nfs.Path) {
		e = append(e, field.Invalid(p.Child("path"), nfs.Path, "must be an absolute path"))
	}
	return e
}
