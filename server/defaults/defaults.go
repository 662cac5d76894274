package defaults

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// Apply sets the defaults kube-apiserver sets for the object's type (the
// typed k8s.io/api struct, pointer). Unknown types are left alone.
//
// Apply is idempotent and never overwrites a value the client set. It is
// meant to run on every decoded create and update body, the way kube runs
// its defaulters on every decode.
func Apply(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		pod(o)
	case *corev1.PodTemplate:
		podTemplateSpec(&o.Template)
	case *corev1.ReplicationController:
		replicationController(o)
	case *corev1.Service:
		service(o)
	case *corev1.Endpoints:
		endpoints(o)
	case *corev1.Secret:
		secret(o)
	case *corev1.Namespace:
		namespace(o)
	case *corev1.Node:
		node(o)
	case *corev1.PersistentVolume:
		persistentVolume(o)
	case *corev1.PersistentVolumeClaim:
		persistentVolumeClaim(o)
	case *appsv1.Deployment:
		deployment(o)
	case *appsv1.ReplicaSet:
		replicaSet(o)
	case *appsv1.DaemonSet:
		daemonSet(o)
	case *appsv1.StatefulSet:
		statefulSet(o)
	case *batchv1.Job:
		job(o)
	case *batchv1.CronJob:
		cronJob(o)
	case *discoveryv1.EndpointSlice:
		endpointSlice(o)
	case *networkingv1.NetworkPolicy:
		networkPolicy(o)
	case *networkingv1.IngressClass:
		ingressClass(o)
	case *schedulingv1.PriorityClass:
		priorityClass(o)
	case *storagev1.StorageClass:
		storageClass(o)
	case *corev1.ConfigMap, *corev1.ServiceAccount, *corev1.Event,
		*eventsv1.Event, *coordinationv1.Lease, *networkingv1.Ingress:
		// kube has no defaults for these (ConfigMap's empty data map never
		// reaches the wire, Ingress pathType is required, not defaulted).
	}
}

// namespace adds the immutable kubernetes.io/metadata.name label kube puts on
// every named namespace, and the Active phase of a new one.
func namespace(ns *corev1.Namespace) {
	if ns.Status.Phase == "" {
		ns.Status.Phase = corev1.NamespaceActive
	}
	if ns.Name == "" {
		// generateName: the label is added once the server has picked a name
		// and calls Apply again.
		return
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
}

// secret mirrors SetDefaults_Secret and the v1→internal conversion, which
// folds the write-only stringData into data (stringData wins) and drops it.
func secret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = make(map[string][]byte, len(s.StringData))
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
}

// node copies capacity into allocatable when the kubelet did not report it,
// and keeps spec.podCIDR and spec.podCIDRs in step the way kube's v1
// conversion does: podCIDR, which old clients write, wins over a
// different first podCIDRs entry (and then stands alone).
func node(n *corev1.Node) {
	if s := &n.Spec; s.PodCIDR != "" && (len(s.PodCIDRs) == 0 || s.PodCIDRs[0] != s.PodCIDR) {
		s.PodCIDRs = []string{s.PodCIDR}
	} else if len(s.PodCIDRs) > 0 {
		s.PodCIDR = s.PodCIDRs[0]
	}
	if n.Status.Allocatable == nil && n.Status.Capacity != nil {
		n.Status.Allocatable = n.Status.Capacity.DeepCopy()
	}
	resourceList(n.Status.Capacity)
	resourceList(n.Status.Allocatable)
}

func endpoints(e *corev1.Endpoints) {
	for i := range e.Subsets {
		for j := range e.Subsets[i].Ports {
			p := &e.Subsets[i].Ports[j]
			if p.Protocol == "" {
				p.Protocol = corev1.ProtocolTCP
			}
		}
	}
}

func endpointSlice(s *discoveryv1.EndpointSlice) {
	for i := range s.Ports {
		p := &s.Ports[i]
		if p.Name == nil {
			p.Name = ptr.To("")
		}
		if p.Protocol == nil {
			p.Protocol = ptr.To(corev1.ProtocolTCP)
		}
	}
}

func networkPolicy(np *networkingv1.NetworkPolicy) {
	defaultPorts := func(ports []networkingv1.NetworkPolicyPort) {
		for i := range ports {
			if ports[i].Protocol == nil {
				ports[i].Protocol = ptr.To(corev1.ProtocolTCP)
			}
		}
	}
	for i := range np.Spec.Ingress {
		defaultPorts(np.Spec.Ingress[i].Ports)
	}
	for i := range np.Spec.Egress {
		defaultPorts(np.Spec.Egress[i].Ports)
	}
	if len(np.Spec.PolicyTypes) == 0 {
		// A policy without policyTypes always implies Ingress.
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) != 0 {
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
}

func ingressClass(ic *networkingv1.IngressClass) {
	if ic.Spec.Parameters != nil && ic.Spec.Parameters.Scope == nil {
		ic.Spec.Parameters.Scope = ptr.To(networkingv1.IngressClassParametersReferenceScopeCluster)
	}
}

// resourceList rounds every quantity up to milli precision, as kube does for
// API compatibility (a request of 100u CPU is stored as 1m).
func resourceList(l corev1.ResourceList) {
	const milliScale = -3
	for k, v := range l {
		v.RoundUp(milliScale)
		l[k] = v
	}
}
