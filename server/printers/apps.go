package printers

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Descriptions come from the same (older) API versions kube-apiserver takes
// them from, so that `kubectl explain`-style tooling sees identical text.
var (
	deploymentSpecDoc   = extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()
	deploymentStatusDoc = extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()
	replicaSetSpecDoc   = extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()
	replicaSetStatusDoc = extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()
	daemonSetSpecDoc    = extensionsv1beta1.DaemonSetSpec{}.SwaggerDoc()
	daemonSetStatusDoc  = extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()
)

var deploymentPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
		{Name: "Up-to-date", Type: "string", Description: deploymentStatusDoc["updatedReplicas"]},
		{Name: "Available", Type: "string", Description: deploymentStatusDoc["availableReplicas"]},
		ageColumn,
		containersColumn,
		imagesColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: deploymentSpecDoc["selector"]},
	},
	Row: rowOf(func(d *appsv1.Deployment, now time.Time) []interface{} {
		// Unlike the other workloads, an empty selector prints as "" here.
		selector := "<invalid>"
		if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
			selector = s.String()
		}
		names, images := containerCells(d.Spec.Template.Spec.Containers)
		return []interface{}{
			d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicas(d.Spec.Replicas)),
			int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), age(d.CreationTimestamp, now),
			names, images, selector,
		}
	}),
}

var replicaSetPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Desired", Type: "integer", Description: replicaSetSpecDoc["replicas"]},
		{Name: "Current", Type: "integer", Description: replicaSetStatusDoc["replicas"]},
		{Name: "Ready", Type: "integer", Description: replicaSetStatusDoc["readyReplicas"]},
		ageColumn,
		containersColumn,
		imagesColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: replicaSetSpecDoc["selector"]},
	},
	Row: rowOf(func(rs *appsv1.ReplicaSet, now time.Time) []interface{} {
		names, images := containerCells(rs.Spec.Template.Spec.Containers)
		return []interface{}{
			rs.Name, replicas(rs.Spec.Replicas), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
			age(rs.CreationTimestamp, now), names, images, metav1.FormatLabelSelector(rs.Spec.Selector),
		}
	}),
}

var daemonSetPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Desired", Type: "integer", Description: daemonSetStatusDoc["desiredNumberScheduled"]},
		{Name: "Current", Type: "integer", Description: daemonSetStatusDoc["currentNumberScheduled"]},
		{Name: "Ready", Type: "integer", Description: daemonSetStatusDoc["numberReady"]},
		{Name: "Up-to-date", Type: "integer", Description: daemonSetStatusDoc["updatedNumberScheduled"]},
		{Name: "Available", Type: "integer", Description: daemonSetStatusDoc["numberAvailable"]},
		{Name: "Node Selector", Type: "string", Description: corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]},
		ageColumn,
		containersColumn,
		imagesColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: daemonSetSpecDoc["selector"]},
	},
	Row: rowOf(func(ds *appsv1.DaemonSet, now time.Time) []interface{} {
		st := ds.Status
		names, images := containerCells(ds.Spec.Template.Spec.Containers)
		return []interface{}{
			ds.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled), int64(st.NumberReady),
			int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable),
			labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector), age(ds.CreationTimestamp, now),
			names, images, metav1.FormatLabelSelector(ds.Spec.Selector),
		}
	}),
}

var statefulSetPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
		ageColumn,
		containersColumn,
		imagesColumn,
	},
	Row: rowOf(func(ss *appsv1.StatefulSet, now time.Time) []interface{} {
		names, images := containerCells(ss.Spec.Template.Spec.Containers)
		return []interface{}{
			ss.Name, fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, replicas(ss.Spec.Replicas)),
			age(ss.CreationTimestamp, now), names, images,
		}
	}),
}

var controllerRevisionPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Controller", Type: "string", Description: "Controller of the object"},
		{Name: "Revision", Type: "string", Description: appsv1beta1.ControllerRevision{}.SwaggerDoc()["revision"]},
		ageColumn,
	},
	Row: rowOf(func(cr *appsv1.ControllerRevision, now time.Time) []interface{} {
		return []interface{}{cr.Name, controllerName(cr), cr.Revision, age(cr.CreationTimestamp, now)}
	}),
}

// controllerName is the owning controller as "kind.group/name", e.g.
// "daemonset.apps/fluentd", or "<none>".
func controllerName(obj metav1.Object) string {
	ref := metav1.GetControllerOf(obj)
	if ref == nil {
		return "<none>"
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		// kube-apiserver fails the whole request here; one bad owner
		// reference should not hide every other row, so keep what we know.
		gv = schema.GroupVersion{}
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: ref.Kind}
	if gk.Empty() {
		return ref.Name
	}
	return strings.ToLower(gk.String()) + "/" + ref.Name
}
