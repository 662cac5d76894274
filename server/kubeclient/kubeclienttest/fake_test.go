package kubeclienttest

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Every accessor must find its methods on the fake's typed client (they
// are matched at run time).
func TestFakeServesEveryResource(t *testing.T) {
	f := New(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}})
	ctx := context.Background()
	if _, err := f.Namespaces().Get(ctx, "a", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Namespaces().Finalize(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, list := range map[string]func() error{
		"configmaps":      func() error { _, err := f.ConfigMaps("a").List(ctx, metav1.ListOptions{}); return err },
		"secrets":         func() error { _, err := f.Secrets("a").List(ctx, metav1.ListOptions{}); return err },
		"serviceaccounts": func() error { _, err := f.ServiceAccounts("a").List(ctx, metav1.ListOptions{}); return err },
		"services":        func() error { _, err := f.Services("a").List(ctx, metav1.ListOptions{}); return err },
		"endpoints":       func() error { _, err := f.Endpoints("a").List(ctx, metav1.ListOptions{}); return err },
		"endpointslices":  func() error { _, err := f.EndpointSlices("a").List(ctx, metav1.ListOptions{}); return err },
		"leases":          func() error { _, err := f.Leases("a").List(ctx, metav1.ListOptions{}); return err },
	} {
		if err := list(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
