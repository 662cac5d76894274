package apiserver

import (
	"reflect"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// resource describes one served REST resource: its types, where it is
// stored and how the generic handlers treat it.
type resource struct {
	gvk          schema.GroupVersionKind
	plural       string
	singular     string
	namespaced   bool
	shortNames   []string
	categories   []string
	subresources []string // besides the resource itself: status, scale, binding, log, finalize

	newObj  func() runtime.Object
	newList func() runtime.Object

	// prefix is the storage key prefix, "/registry/<plural>/".
	prefix string
	// hasStatus: the main resource ignores status changes and the status
	// subresource ignores everything else.
	hasStatus bool
	// generation: metadata.generation is bumped when spec changes.
	generation bool
	// resetStatus clears status on create (controllers own it).
	resetStatus bool
	// createOnUpdate allows PUT to create a missing object.
	createOnUpdate bool
	// ttl makes stored objects expire (events).
	ttl time.Duration
	// fieldSet returns the selectable fields beyond metadata.name/namespace.
	fieldSet func(obj runtime.Object) fields.Set
	// scale maps the scale subresource to the object.
	scale *scaleMapping
	// storage, when set, names the resource whose stored objects this one
	// is a view of (events.k8s.io events are core events on disk).
	storage *viewMapping
	// review, when set, makes this a create-only resource that stores
	// nothing (the access reviews, reviews.go): POST decodes the request
	// object, review fills in its status, and the object is the answer.
	// Such a resource has no list type, no key and no other verb.
	review reviewFunc
}

// viewMapping converts between a served type and the stored type.
type viewMapping struct {
	newStored func() runtime.Object
	toStored  func(runtime.Object) runtime.Object
	fromStore func(runtime.Object) runtime.Object
}

func (r *resource) gvr() schema.GroupVersionResource {
	return r.gvk.GroupVersion().WithResource(r.plural)
}

// verbs are the verbs discovery and OpenAPI list for the resource.
func (r *resource) verbs() []string {
	if r.review != nil {
		return []string{"create"}
	}
	return allVerbs
}

func (r *resource) hasSub(name string) bool {
	for _, s := range r.subresources {
		if s == name {
			return true
		}
	}
	return false
}

// typeOf is the Go struct type of the resource's object.
func (r *resource) typeOf() reflect.Type { return reflect.TypeOf(r.newObj()).Elem() }

// catalogue lists every stored resource, in the order discovery shows them
// (the reviews, which store nothing, follow them: reviewResources).
func catalogue() []*resource {
	core := func(kind, _ string) schema.GroupVersionKind { return corev1.SchemeGroupVersion.WithKind(kind) }
	rs := []*resource{
		{gvk: core("Namespace", "namespaces"), plural: "namespaces", shortNames: []string{"ns"},
			subresources: []string{"status", "finalize"}, hasStatus: true, resetStatus: true,
			newObj: func() runtime.Object { return &corev1.Namespace{} }, newList: func() runtime.Object { return &corev1.NamespaceList{} },
			fieldSet: func(o runtime.Object) fields.Set {
				return fields.Set{"status.phase": string(o.(*corev1.Namespace).Status.Phase)}
			}},
		{gvk: core("Pod", "pods"), plural: "pods", namespaced: true, shortNames: []string{"po"}, categories: []string{"all"},
			subresources: []string{"status", "binding", "log", "exec", "attach", "portforward", "eviction", "ephemeralcontainers", "proxy"},
			hasStatus:    true, generation: true, resetStatus: true,
			newObj: func() runtime.Object { return &corev1.Pod{} }, newList: func() runtime.Object { return &corev1.PodList{} },
			fieldSet: podFields},
		{gvk: core("Service", "services"), plural: "services", namespaced: true, shortNames: []string{"svc"}, categories: []string{"all"},
			subresources: []string{"status", "proxy"}, hasStatus: true, resetStatus: true,
			newObj: func() runtime.Object { return &corev1.Service{} }, newList: func() runtime.Object { return &corev1.ServiceList{} }},
		{gvk: core("Endpoints", "endpoints"), plural: "endpoints", namespaced: true, shortNames: []string{"ep"}, createOnUpdate: true,
			newObj: func() runtime.Object { return &corev1.Endpoints{} }, newList: func() runtime.Object { return &corev1.EndpointsList{} }},
		{gvk: core("PodTemplate", "podtemplates"), plural: "podtemplates", namespaced: true,
			newObj: func() runtime.Object { return &corev1.PodTemplate{} }, newList: func() runtime.Object { return &corev1.PodTemplateList{} }},
		{gvk: core("ConfigMap", "configmaps"), plural: "configmaps", namespaced: true, shortNames: []string{"cm"},
			newObj: func() runtime.Object { return &corev1.ConfigMap{} }, newList: func() runtime.Object { return &corev1.ConfigMapList{} }},
		{gvk: core("Secret", "secrets"), plural: "secrets", namespaced: true,
			newObj: func() runtime.Object { return &corev1.Secret{} }, newList: func() runtime.Object { return &corev1.SecretList{} },
			fieldSet: func(o runtime.Object) fields.Set { return fields.Set{"type": string(o.(*corev1.Secret).Type)} }},
		{gvk: core("Node", "nodes"), plural: "nodes", shortNames: []string{"no"}, subresources: []string{"status", "proxy"}, hasStatus: true,
			newObj: func() runtime.Object { return &corev1.Node{} }, newList: func() runtime.Object { return &corev1.NodeList{} },
			fieldSet: func(o runtime.Object) fields.Set {
				return fields.Set{"spec.unschedulable": strconv.FormatBool(o.(*corev1.Node).Spec.Unschedulable)}
			}},
		{gvk: core("Event", "events"), plural: "events", namespaced: true, shortNames: []string{"ev"}, createOnUpdate: true, ttl: time.Hour,
			newObj: func() runtime.Object { return &corev1.Event{} }, newList: func() runtime.Object { return &corev1.EventList{} },
			fieldSet: eventFields},
		{gvk: core("ServiceAccount", "serviceaccounts"), plural: "serviceaccounts", namespaced: true, shortNames: []string{"sa"},
			subresources: []string{"token"},
			newObj:       func() runtime.Object { return &corev1.ServiceAccount{} }, newList: func() runtime.Object { return &corev1.ServiceAccountList{} }},
		{gvk: core("PersistentVolumeClaim", "persistentvolumeclaims"), plural: "persistentvolumeclaims", namespaced: true, shortNames: []string{"pvc"},
			subresources: []string{"status"}, hasStatus: true, resetStatus: true,
			newObj: func() runtime.Object { return &corev1.PersistentVolumeClaim{} }, newList: func() runtime.Object { return &corev1.PersistentVolumeClaimList{} }},
		{gvk: core("PersistentVolume", "persistentvolumes"), plural: "persistentvolumes", shortNames: []string{"pv"},
			subresources: []string{"status"}, hasStatus: true, resetStatus: true,
			newObj: func() runtime.Object { return &corev1.PersistentVolume{} }, newList: func() runtime.Object { return &corev1.PersistentVolumeList{} }},

		{gvk: appsv1.SchemeGroupVersion.WithKind("Deployment"), plural: "deployments", namespaced: true, shortNames: []string{"deploy"}, categories: []string{"all"},
			subresources: []string{"status", "scale"}, hasStatus: true, generation: true, resetStatus: true, scale: replicasScale,
			newObj: func() runtime.Object { return &appsv1.Deployment{} }, newList: func() runtime.Object { return &appsv1.DeploymentList{} }},
		{gvk: appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), plural: "replicasets", namespaced: true, shortNames: []string{"rs"}, categories: []string{"all"},
			subresources: []string{"status", "scale"}, hasStatus: true, generation: true, resetStatus: true, scale: replicasScale,
			newObj: func() runtime.Object { return &appsv1.ReplicaSet{} }, newList: func() runtime.Object { return &appsv1.ReplicaSetList{} },
			fieldSet: func(o runtime.Object) fields.Set {
				return fields.Set{"status.replicas": strconv.Itoa(int(o.(*appsv1.ReplicaSet).Status.Replicas))}
			}},
		{gvk: appsv1.SchemeGroupVersion.WithKind("DaemonSet"), plural: "daemonsets", namespaced: true, shortNames: []string{"ds"}, categories: []string{"all"},
			subresources: []string{"status"}, hasStatus: true, generation: true, resetStatus: true,
			newObj: func() runtime.Object { return &appsv1.DaemonSet{} }, newList: func() runtime.Object { return &appsv1.DaemonSetList{} }},
		{gvk: appsv1.SchemeGroupVersion.WithKind("StatefulSet"), plural: "statefulsets", namespaced: true, shortNames: []string{"sts"}, categories: []string{"all"},
			subresources: []string{"status", "scale"}, hasStatus: true, generation: true, resetStatus: true, scale: replicasScale,
			newObj: func() runtime.Object { return &appsv1.StatefulSet{} }, newList: func() runtime.Object { return &appsv1.StatefulSetList{} }},
		{gvk: appsv1.SchemeGroupVersion.WithKind("ControllerRevision"), plural: "controllerrevisions", namespaced: true,
			newObj: func() runtime.Object { return &appsv1.ControllerRevision{} }, newList: func() runtime.Object { return &appsv1.ControllerRevisionList{} }},

		{gvk: batchv1.SchemeGroupVersion.WithKind("Job"), plural: "jobs", namespaced: true, categories: []string{"all"},
			subresources: []string{"status"}, hasStatus: true, generation: true, resetStatus: true,
			newObj: func() runtime.Object { return &batchv1.Job{} }, newList: func() runtime.Object { return &batchv1.JobList{} },
			fieldSet: func(o runtime.Object) fields.Set {
				return fields.Set{"status.successful": strconv.Itoa(int(o.(*batchv1.Job).Status.Succeeded))}
			}},
		{gvk: batchv1.SchemeGroupVersion.WithKind("CronJob"), plural: "cronjobs", namespaced: true, shortNames: []string{"cj"}, categories: []string{"all"},
			subresources: []string{"status"}, hasStatus: true, generation: true, resetStatus: true,
			newObj: func() runtime.Object { return &batchv1.CronJob{} }, newList: func() runtime.Object { return &batchv1.CronJobList{} }},

		{gvk: coordinationv1.SchemeGroupVersion.WithKind("Lease"), plural: "leases", namespaced: true,
			newObj: func() runtime.Object { return &coordinationv1.Lease{} }, newList: func() runtime.Object { return &coordinationv1.LeaseList{} }},
		{gvk: discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), plural: "endpointslices", namespaced: true,
			newObj: func() runtime.Object { return &discoveryv1.EndpointSlice{} }, newList: func() runtime.Object { return &discoveryv1.EndpointSliceList{} }},
		{gvk: networkingv1.SchemeGroupVersion.WithKind("Ingress"), plural: "ingresses", namespaced: true, shortNames: []string{"ing"},
			subresources: []string{"status"}, hasStatus: true, generation: true, resetStatus: true,
			newObj: func() runtime.Object { return &networkingv1.Ingress{} }, newList: func() runtime.Object { return &networkingv1.IngressList{} }},
		{gvk: networkingv1.SchemeGroupVersion.WithKind("IngressClass"), plural: "ingressclasses",
			newObj: func() runtime.Object { return &networkingv1.IngressClass{} }, newList: func() runtime.Object { return &networkingv1.IngressClassList{} }},
		{gvk: networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"), plural: "networkpolicies", namespaced: true, shortNames: []string{"netpol"}, generation: true,
			newObj: func() runtime.Object { return &networkingv1.NetworkPolicy{} }, newList: func() runtime.Object { return &networkingv1.NetworkPolicyList{} }},
		{gvk: storagev1.SchemeGroupVersion.WithKind("StorageClass"), plural: "storageclasses", shortNames: []string{"sc"},
			newObj: func() runtime.Object { return &storagev1.StorageClass{} }, newList: func() runtime.Object { return &storagev1.StorageClassList{} }},
		{gvk: storagev1.SchemeGroupVersion.WithKind("CSIDriver"), plural: "csidrivers",
			newObj: func() runtime.Object { return &storagev1.CSIDriver{} }, newList: func() runtime.Object { return &storagev1.CSIDriverList{} }},
		{gvk: storagev1.SchemeGroupVersion.WithKind("CSINode"), plural: "csinodes",
			newObj: func() runtime.Object { return &storagev1.CSINode{} }, newList: func() runtime.Object { return &storagev1.CSINodeList{} }},
		{gvk: storagev1.SchemeGroupVersion.WithKind("VolumeAttachment"), plural: "volumeattachments",
			subresources: []string{"status"}, hasStatus: true,
			newObj: func() runtime.Object { return &storagev1.VolumeAttachment{} }, newList: func() runtime.Object { return &storagev1.VolumeAttachmentList{} }},
		{gvk: eventsv1.SchemeGroupVersion.WithKind("Event"), plural: "events", namespaced: true, createOnUpdate: true, ttl: time.Hour,
			newObj: func() runtime.Object { return &eventsv1.Event{} }, newList: func() runtime.Object { return &eventsv1.EventList{} },
			storage: eventsView, fieldSet: eventsV1Fields},
	}
	rs = append(rs, policyResources()...)
	for _, r := range rs {
		r.singular = lower(r.gvk.Kind)
		r.prefix = "/registry/" + r.plural + "/"
	}
	return rs
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func podFields(o runtime.Object) fields.Set {
	p := o.(*corev1.Pod)
	return fields.Set{
		"spec.nodeName":            p.Spec.NodeName,
		"spec.restartPolicy":       string(p.Spec.RestartPolicy),
		"spec.schedulerName":       p.Spec.SchedulerName,
		"spec.serviceAccountName":  p.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(p.Spec.HostNetwork),
		"status.phase":             string(p.Status.Phase),
		"status.podIP":             p.Status.PodIP,
		"status.nominatedNodeName": p.Status.NominatedNodeName,
	}
}

// eventsV1Fields are the field labels of events.k8s.io/v1 Events, as
// kube-apiserver converts them (regarding.* for involvedObject.*,
// reportingController). It reads either the served or the stored type.
func eventsV1Fields(o runtime.Object) fields.Set {
	var ref corev1.ObjectReference
	var reason, controller, typ string
	switch e := o.(type) {
	case *eventsv1.Event:
		ref, reason, controller, typ = e.Regarding, e.Reason, e.ReportingController, e.Type
	case *corev1.Event:
		ref, reason, controller, typ = e.InvolvedObject, e.Reason, e.ReportingController, e.Type
	}
	return fields.Set{
		"regarding.kind":            ref.Kind,
		"regarding.namespace":       ref.Namespace,
		"regarding.name":            ref.Name,
		"regarding.uid":             string(ref.UID),
		"regarding.apiVersion":      ref.APIVersion,
		"regarding.resourceVersion": ref.ResourceVersion,
		"regarding.fieldPath":       ref.FieldPath,
		"reason":                    reason,
		"reportingController":       controller,
		"type":                      typ,
	}
}

func eventFields(o runtime.Object) fields.Set {
	e := o.(*corev1.Event)
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	return fields.Set{
		"involvedObject.kind":            e.InvolvedObject.Kind,
		"involvedObject.namespace":       e.InvolvedObject.Namespace,
		"involvedObject.name":            e.InvolvedObject.Name,
		"involvedObject.uid":             string(e.InvolvedObject.UID),
		"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         source,
		"type":                           e.Type,
	}
}
