package namespace

import (
	"fmt"
	"sort"
	"strings"

	"github.com/skiff-io/skiff/server/kubeclient"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// conditionTypes are the namespace conditions this controller owns, in the
// order kube-controller-manager writes them.
var conditionTypes = []corev1.NamespaceConditionType{
	corev1.NamespaceDeletionDiscoveryFailure,
	corev1.NamespaceDeletionGVParsingFailure,
	corev1.NamespaceDeletionContentFailure,
	corev1.NamespaceContentRemaining,
	corev1.NamespaceFinalizersRemaining,
}

// okReasons and okMessages are the "nothing wrong" (status False) variant
// of each condition, worded as kube words them.
var okReasons = map[corev1.NamespaceConditionType]string{
	corev1.NamespaceDeletionDiscoveryFailure: "ResourcesDiscovered",
	corev1.NamespaceDeletionGVParsingFailure: "ParsedGroupVersions",
	corev1.NamespaceDeletionContentFailure:   "ContentDeleted",
	corev1.NamespaceContentRemaining:         "ContentRemoved",
	corev1.NamespaceFinalizersRemaining:      "ContentHasNoFinalizers",
}

var okMessages = map[corev1.NamespaceConditionType]string{
	corev1.NamespaceDeletionDiscoveryFailure: "All resources successfully discovered",
	corev1.NamespaceDeletionGVParsingFailure: "All legacy kube types successfully parsed",
	corev1.NamespaceDeletionContentFailure:   "All content successfully deleted, may be waiting on finalization",
	corev1.NamespaceContentRemaining:         "All content successfully removed",
	corev1.NamespaceFinalizersRemaining:      "All content-preserving finalizers finished",
}

// remaining is what is left of one resource in the namespace after a
// deletion pass.
type remaining struct {
	// count is the number of objects still there.
	count int
	// finalizers counts the remaining objects holding each finalizer.
	finalizers map[string]int
	// graceful counts objects still inside a deletion grace period (pods
	// their node is stopping): they are expected to go by themselves.
	graceful int
}

// tally adds a page of listed objects to r.
func (r *remaining) tally(items []metav1.PartialObjectMetadata) {
	for i := range items {
		r.count++
		fs := items[i].Finalizers
		for _, f := range fs {
			if r.finalizers == nil {
				r.finalizers = map[string]int{}
			}
			r.finalizers[f]++
		}
		if len(fs) == 0 && items[i].DeletionTimestamp != nil {
			r.graceful++
		}
	}
}

// unexpected reports objects that are neither held by a finalizer nor
// being deleted gracefully: a deletecollection should have removed them
// (or they were created behind it), so kube reports a content failure.
func (r remaining) unexpected() bool {
	return r.count > 0 && len(r.finalizers) == 0 && r.graceful == 0
}

// report is the outcome of one pass over a namespace's content.
type report struct {
	discoveryErr error
	gvParseErr   error
	// deleteErrs are the failures to delete or list a resource.
	deleteErrs []error
	left       map[schema.GroupVersionResource]remaining
}

// done reports whether the namespace is empty and every step worked, so
// that it may be finalized.
func (r *report) done() bool {
	if r.discoveryErr != nil || r.gvParseErr != nil || len(r.deleteErrs) > 0 {
		return false
	}
	for _, x := range r.left {
		if x.count > 0 {
			return false
		}
	}
	return true
}

// conditions turns a report into the failing (status True) conditions, as
// kube's namespaceConditionUpdater does; the types it leaves out are fine.
func (r *report) conditions(now metav1.Time) []corev1.NamespaceCondition {
	var out []corev1.NamespaceCondition
	if r.discoveryErr != nil {
		msg := r.discoveryErr.Error()
		if derr, ok := r.discoveryErr.(*kubeclient.GroupDiscoveryError); ok {
			msg = fmt.Sprintf("Discovery failed for some groups, %d failing: %v", len(derr.Groups), r.discoveryErr)
		}
		out = append(out, corev1.NamespaceCondition{Type: corev1.NamespaceDeletionDiscoveryFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: now, Reason: "DiscoveryFailed", Message: msg})
	}
	if r.gvParseErr != nil {
		out = append(out, corev1.NamespaceCondition{Type: corev1.NamespaceDeletionGVParsingFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: now, Reason: "GroupVersionParsingFailed", Message: r.gvParseErr.Error()})
	}
	if len(r.deleteErrs) > 0 {
		msgs := make([]string, 0, len(r.deleteErrs))
		for _, e := range r.deleteErrs {
			msgs = append(msgs, e.Error())
		}
		sort.Strings(msgs)
		out = append(out, corev1.NamespaceCondition{Type: corev1.NamespaceDeletionContentFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: now, Reason: "ContentDeletionFailed",
			Message: fmt.Sprintf("Failed to delete all resource types, %d remaining: %v", len(r.deleteErrs), strings.Join(msgs, ", "))})
	}
	var byResource, byFinalizer []string
	finalizers := map[string]int{}
	for gvr, x := range r.left {
		if x.count == 0 {
			continue
		}
		byResource = append(byResource, fmt.Sprintf("%s.%s has %d resource instances", gvr.Resource, gvr.Group, x.count))
		for f, n := range x.finalizers {
			finalizers[f] += n
		}
	}
	for f, n := range finalizers {
		byFinalizer = append(byFinalizer, fmt.Sprintf("%s in %d resource instances", f, n))
	}
	if len(byResource) > 0 {
		sort.Strings(byResource)
		out = append(out, corev1.NamespaceCondition{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue,
			LastTransitionTime: now, Reason: "SomeResourcesRemain",
			Message: "Some resources are remaining: " + strings.Join(byResource, ", ")})
	}
	if len(byFinalizer) > 0 {
		sort.Strings(byFinalizer)
		out = append(out, corev1.NamespaceCondition{Type: corev1.NamespaceFinalizersRemaining, Status: corev1.ConditionTrue,
			LastTransitionTime: now, Reason: "SomeFinalizersRemain",
			Message: "Some content in the namespace has finalizers remaining: " + strings.Join(byFinalizer, ", ")})
	}
	return out
}

// updateConditions writes every owned condition type into status: the
// failing ones given, the "ok" variant for the rest. A condition's
// lastTransitionTime changes only when its status does. It reports whether
// status changed.
func updateConditions(status *corev1.NamespaceStatus, failing []corev1.NamespaceCondition, now metav1.Time) bool {
	changed := false
	for _, t := range conditionTypes {
		want := findCondition(failing, t)
		if want == nil {
			want = &corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, LastTransitionTime: now,
				Reason: okReasons[t], Message: okMessages[t]}
		}
		old := findCondition(status.Conditions, t)
		switch {
		case old == nil:
			status.Conditions = append(status.Conditions, *want)
			changed = true
		case old.Status != want.Status || old.Reason != want.Reason || old.Message != want.Message:
			if old.Status != want.Status {
				old.LastTransitionTime = now
			}
			old.Status, old.Reason, old.Message = want.Status, want.Reason, want.Message
			changed = true
		}
	}
	return changed
}

func findCondition(cs []corev1.NamespaceCondition, t corev1.NamespaceConditionType) *corev1.NamespaceCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}
