package kubernetesservice

import (
	"testing"

	"github.com/skiff-io/skiff/server/defaults"
	"github.com/skiff-io/skiff/server/validation"
)

func TestDesiredObjectsAreValid(t *testing.T) {
	svc, ep, slice := Desired(Config{ServiceIP: "10.43.0.1", EndpointIP: "192.168.1.10", EndpointPort: 6443})
	if svc.Spec.ClusterIP != "10.43.0.1" || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.IntValue() != 6443 {
		t.Fatalf("service: %+v", svc.Spec)
	}
	if ep.Subsets[0].Addresses[0].IP != "192.168.1.10" || *slice.Ports[0].Port != 6443 {
		t.Fatalf("endpoints: %+v %+v", ep.Subsets, slice.Ports)
	}
	// The API server defaults before it validates.
	defaults.Apply(svc)
	defaults.Apply(ep)
	defaults.Apply(slice)
	if errs := validation.Create(svc); len(errs) > 0 {
		t.Errorf("service invalid: %v", errs)
	}
	if errs := validation.Create(ep); len(errs) > 0 {
		t.Errorf("endpoints invalid: %v", errs)
	}
	if errs := validation.Create(slice); len(errs) > 0 {
		t.Errorf("endpointslice invalid: %v", errs)
	}
}
