package namespace

import (
	"errors"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	configmaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	pods        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

func item(finalizers ...string) metav1.PartialObjectMetadata {
	return metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Finalizers: finalizers}}
}

func TestTally(t *testing.T) {
	var r remaining
	if r.unexpected() {
		t.Errorf("nothing left is not unexpected")
	}
	r.tally([]metav1.PartialObjectMetadata{item("a/x"), item("a/x", "b/y")})
	r.tally([]metav1.PartialObjectMetadata{item()})
	if r.count != 3 || r.finalizers["a/x"] != 2 || r.finalizers["b/y"] != 1 {
		t.Errorf("tally = %+v", r)
	}
	if r.unexpected() {
		t.Errorf("objects held by finalizers are expected to remain")
	}
	var plain remaining
	plain.tally([]metav1.PartialObjectMetadata{item()})
	if !plain.unexpected() {
		t.Errorf("an object without finalizers after deletecollection is unexpected")
	}
	var stopping remaining
	now := metav1.Now()
	stopping.tally([]metav1.PartialObjectMetadata{{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}}})
	if stopping.unexpected() || stopping.graceful != 1 {
		t.Errorf("a pod in its grace period is expected to remain: %+v", stopping)
	}
}

func TestConditions(t *testing.T) {
	now := metav1.NewTime(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	type cond struct{ reason, message string }
	cases := []struct {
		name string
		rep  report
		done bool
		want map[corev1.NamespaceConditionType]cond
	}{
		{name: "empty", rep: report{}, done: true, want: map[corev1.NamespaceConditionType]cond{}},
		{
			name: "finalizers hold content",
			rep: report{left: map[schema.GroupVersionResource]remaining{
				configmaps:  {count: 1, finalizers: map[string]int{"example.com/x": 1}},
				deployments: {count: 2, finalizers: map[string]int{"example.com/x": 1, "foregroundDeletion": 2}},
				pods:        {count: 0},
			}},
			want: map[corev1.NamespaceConditionType]cond{
				corev1.NamespaceContentRemaining: {"SomeResourcesRemain",
					"Some resources are remaining: configmaps. has 1 resource instances, deployments.apps has 2 resource instances"},
				corev1.NamespaceFinalizersRemaining: {"SomeFinalizersRemain",
					"Some content in the namespace has finalizers remaining: example.com/x in 2 resource instances, foregroundDeletion in 2 resource instances"},
			},
		},
		{
			name: "failures",
			rep: report{
				discoveryErr: &kubeclient.GroupDiscoveryError{Groups: map[schema.GroupVersion]error{{Group: "x.io", Version: "v1"}: errors.New("boom")}},
				gvParseErr:   errors.New("unexpected GroupVersion string: a/b/c"),
				deleteErrs:   []error{errors.New("z failed"), errors.New("a failed")},
			},
			want: map[corev1.NamespaceConditionType]cond{
				corev1.NamespaceDeletionDiscoveryFailure: {"DiscoveryFailed",
					"Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: x.io/v1: boom"},
				corev1.NamespaceDeletionGVParsingFailure: {"GroupVersionParsingFailed", "unexpected GroupVersion string: a/b/c"},
				corev1.NamespaceDeletionContentFailure: {"ContentDeletionFailed",
					"Failed to delete all resource types, 2 remaining: a failed, z failed"},
			},
		},
		{
			name: "plain discovery error",
			rep:  report{discoveryErr: errors.New("connection refused")},
			want: map[corev1.NamespaceConditionType]cond{
				corev1.NamespaceDeletionDiscoveryFailure: {"DiscoveryFailed", "connection refused"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rep.done(); got != tc.done {
				t.Errorf("done() = %v, want %v", got, tc.done)
			}
			var st corev1.NamespaceStatus
			if !updateConditions(&st, tc.rep.conditions(now), now) {
				t.Fatalf("first update reported no change")
			}
			if len(st.Conditions) != len(conditionTypes) {
				t.Fatalf("got %d conditions, want one of each of %d types", len(st.Conditions), len(conditionTypes))
			}
			for i, c := range st.Conditions {
				if c.Type != conditionTypes[i] {
					t.Errorf("condition %d is %s, want %s (kube's order)", i, c.Type, conditionTypes[i])
				}
				w, failing := tc.want[c.Type]
				if !failing {
					w = cond{okReasons[c.Type], okMessages[c.Type]}
				}
				wantStatus := corev1.ConditionFalse
				if failing {
					wantStatus = corev1.ConditionTrue
				}
				if c.Status != wantStatus || c.Reason != w.reason || c.Message != w.message || !c.LastTransitionTime.Equal(&now) {
					t.Errorf("%s = %s %q %q, want %s %q %q", c.Type, c.Status, c.Reason, c.Message, wantStatus, w.reason, w.message)
				}
			}
		})
	}
}

func TestUpdateConditionsTransitions(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	t2 := metav1.NewTime(t0.Add(2 * time.Minute))
	held := report{left: map[schema.GroupVersionResource]remaining{configmaps: {count: 1, finalizers: map[string]int{"a/x": 1}}}}
	var st corev1.NamespaceStatus
	updateConditions(&st, held.conditions(t0), t0)

	// The same report again: nothing to write.
	if updateConditions(&st, held.conditions(t1), t1) {
		t.Errorf("unchanged report changed the status")
	}
	// Same status, new message: updated, transition time kept.
	held.left[configmaps] = remaining{count: 2, finalizers: map[string]int{"a/x": 2}}
	if !updateConditions(&st, held.conditions(t1), t1) {
		t.Errorf("new message not written")
	}
	c := findCondition(st.Conditions, corev1.NamespaceContentRemaining)
	if c.Message != "Some resources are remaining: configmaps. has 2 resource instances" || !c.LastTransitionTime.Equal(&t0) {
		t.Errorf("after message change: %+v", c)
	}
	// Content gone: status flips to False with a new transition time, and
	// conditions of other types are left alone.
	st.Conditions = append(st.Conditions, corev1.NamespaceCondition{Type: "Other", Status: corev1.ConditionTrue})
	empty := report{}
	if !updateConditions(&st, empty.conditions(t2), t2) {
		t.Errorf("cleared content not written")
	}
	c = findCondition(st.Conditions, corev1.NamespaceContentRemaining)
	if c.Status != corev1.ConditionFalse || c.Reason != "ContentRemoved" || !c.LastTransitionTime.Equal(&t2) {
		t.Errorf("after content removed: %+v", c)
	}
	if c := findCondition(st.Conditions, corev1.NamespaceDeletionDiscoveryFailure); !c.LastTransitionTime.Equal(&t0) {
		t.Errorf("an unchanged condition got a new transition time: %+v", c)
	}
	if findCondition(st.Conditions, "Other") == nil || len(st.Conditions) != len(conditionTypes)+1 {
		t.Errorf("foreign condition lost: %+v", st.Conditions)
	}
}
