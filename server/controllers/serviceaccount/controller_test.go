package serviceaccount

import (
	"context"
	"testing"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

// fixture is the controller on a fake clientset, its caches filled by
// hand (no informers run), so Reconcile sees exactly what the test says.
type fixture struct {
	c      *Controller
	client *fake.Clientset
}

func newFixture(t *testing.T, cached ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(cached...)
	c := New(kubeclienttest.Fake{Clientset: client}, []byte(ca))
	for _, o := range cached {
		var err error
		switch o.(type) {
		case *corev1.Namespace:
			err = c.informers[0].GetIndexer().Add(o)
		case *corev1.ServiceAccount:
			err = c.informers[1].GetIndexer().Add(o)
		case *corev1.ConfigMap:
			err = c.informers[2].GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	client.ClearActions()
	return &fixture{c: c, client: client}
}

func (f *fixture) writes() []clienttesting.Action {
	var out []clienttesting.Action
	for _, a := range f.client.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			out = append(out, a)
		}
	}
	return out
}

func namespace(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
}

func rootCA(ns string, data map[string]string, annotations map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: RootCAConfigMap, Namespace: ns, Annotations: annotations}, Data: data}
}

func TestReconcileCreatesBoth(t *testing.T) {
	f := newFixture(t, namespace("y", corev1.NamespaceActive))
	if err := f.c.Reconcile(context.Background(), "y"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := f.client.CoreV1().ServiceAccounts("y").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("default ServiceAccount: %v", err)
	}
	cm, err := f.client.CoreV1().ConfigMaps("y").Get(ctx, RootCAConfigMap, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("root CA ConfigMap: %v", err)
	}
	if len(cm.Data) != 1 || cm.Data["ca.crt"] != ca || cm.Annotations["kubernetes.io/description"] != description {
		t.Errorf("root CA ConfigMap = %+v", cm)
	}
	if n := len(f.writes()); n != 2 {
		t.Errorf("%d writes, want 2 creates", n)
	}
}

func TestReconcileLeavesCurrentObjects(t *testing.T) {
	f := newFixture(t, namespace("y", corev1.NamespaceActive),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "y"}},
		rootCA("y", map[string]string{"ca.crt": ca}, map[string]string{"kubernetes.io/description": "kept as the user wrote it"}))
	if err := f.c.Reconcile(context.Background(), "y"); err != nil {
		t.Fatal(err)
	}
	if w := f.writes(); len(w) != 0 {
		t.Errorf("writes %v, want none", w)
	}
}

func TestReconcileFixesDrift(t *testing.T) {
	for name, cm := range map[string]*corev1.ConfigMap{
		"data":       rootCA("y", map[string]string{"ca.crt": "stale"}, map[string]string{"kubernetes.io/description": description}),
		"extra key":  rootCA("y", map[string]string{"ca.crt": ca, "x": "y"}, map[string]string{"kubernetes.io/description": description}),
		"annotation": rootCA("y", map[string]string{"ca.crt": ca}, map[string]string{"other": "kept"}),
	} {
		t.Run(name, func(t *testing.T) {
			cached := cm.DeepCopy()
			f := newFixture(t, namespace("y", corev1.NamespaceActive),
				&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "y"}}, cm)
			if err := f.c.Reconcile(context.Background(), "y"); err != nil {
				t.Fatal(err)
			}
			w := f.writes()
			if len(w) != 1 || w[0].GetVerb() != "update" {
				t.Fatalf("writes %v, want one update", w)
			}
			got := w[0].(clienttesting.UpdateAction).GetObject().(*corev1.ConfigMap)
			if len(got.Data) != 1 || got.Data["ca.crt"] != ca || got.Annotations["kubernetes.io/description"] != description {
				t.Errorf("updated to %+v", got)
			}
			if cm.Annotations["other"] != "" && got.Annotations["other"] != "kept" {
				t.Errorf("other annotations dropped: %v", got.Annotations)
			}
			// The cache's copy is never written to.
			inCache, _, _ := f.c.informers[2].GetIndexer().GetByKey("y/" + RootCAConfigMap)
			if c := inCache.(*corev1.ConfigMap); c.Data["ca.crt"] != cached.Data["ca.crt"] || len(c.Annotations) != len(cached.Annotations) {
				t.Errorf("cached ConfigMap mutated: %+v", c)
			}
		})
	}
}

func TestReconcileSkipsTerminatingAndMissing(t *testing.T) {
	ts := metav1.Now()
	deleted := namespace("d", corev1.NamespaceActive)
	deleted.DeletionTimestamp = &ts
	f := newFixture(t, namespace("t", corev1.NamespaceTerminating), deleted)
	for _, ns := range []string{"t", "d", "missing"} {
		if err := f.c.Reconcile(context.Background(), ns); err != nil {
			t.Errorf("%s: %v", ns, err)
		}
	}
	if w := f.writes(); len(w) != 0 {
		t.Errorf("writes %v, want none", w)
	}
}

func TestReconcileIgnoresLostRaces(t *testing.T) {
	f := newFixture(t, namespace("y", corev1.NamespaceActive))
	// The namespace began terminating after the cache saw it.
	f.client.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: a.GetResource().Resource}, "",
			errForbidden("unable to create new content in namespace y because it is being terminated"))
	})
	if err := f.c.Reconcile(context.Background(), "y"); err != nil {
		t.Errorf("Reconcile = %v, want the refusal ignored", err)
	}
	g := newFixture(t, namespace("y", corev1.NamespaceActive))
	g.client.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(errForbidden("datastore down"))
	})
	if err := g.c.Reconcile(context.Background(), "y"); err == nil {
		t.Errorf("Reconcile hid a real failure")
	}
}

type errForbidden string

func (e errForbidden) Error() string { return string(e) }
