package apiserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skiff-io/skiff/server/errdefs"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	podsResource            = schema.GroupResource{Resource: "pods"}
	priorityClassesResource = schema.GroupResource{Group: schedulingv1.GroupName, Resource: "priorityclasses"}
	priorityClassesGVR      = schedulingv1.SchemeGroupVersion.WithResource("priorityclasses")
)

// admitPriority does what kube-apiserver's Priority admission plugin does.
// On pod create (old == nil) it resolves spec.priorityClassName, or the
// globalDefault class when none is named, to spec.priority and
// spec.preemptionPolicy (priority 0 and PreemptLowerPriority when there is
// no default class); an unknown class, or a priority or preemption policy
// the client set that disagrees with the class, is Forbidden. A pod update
// that leaves them out keeps them. On PriorityClass create or update it
// refuses a second globalDefault class.
func (s *Server) admitPriority(ctx context.Context, obj, old runtime.Object) error {
	switch o := obj.(type) {
	case *corev1.Pod:
		if old == nil {
			return s.admitPodPriority(ctx, o)
		}
		// Priority is set once, at create: an update that leaves it out
		// keeps it (changing it is a validation error).
		if prev, ok := old.(*corev1.Pod); ok {
			if o.Spec.Priority == nil {
				o.Spec.Priority = prev.Spec.Priority
			}
			if o.Spec.PreemptionPolicy == nil {
				o.Spec.PreemptionPolicy = prev.Spec.PreemptionPolicy
			}
		}
	case *schedulingv1.PriorityClass:
		return s.admitPriorityClass(ctx, o, old != nil)
	}
	return nil
}

func (s *Server) admitPodPriority(ctx context.Context, pod *corev1.Pod) error {
	var (
		priority int32
		policy   *corev1.PreemptionPolicy
	)
	if pod.Spec.PriorityClassName == "" {
		def, err := s.podDefaultPriorityClass(ctx)
		if err != nil {
			return fmt.Errorf("failed to get default priority class: %w", err)
		}
		if def != nil {
			pod.Spec.PriorityClassName = def.Name
			priority, policy = def.Value, def.PreemptionPolicy
		} else {
			lower := corev1.PreemptLowerPriority
			policy = &lower
		}
	} else if d, ok := s.classes.get(pod.Spec.PriorityClassName); ok {
		priority, policy = d.value, d.policy
	} else {
		pc, err := s.priorityClass(ctx, pod.Spec.PriorityClassName)
		switch {
		case errors.Is(err, errdefs.ErrNotFound):
			return apierrors.NewForbidden(podsResource, pod.Name, fmt.Errorf("no PriorityClass with name %v was found", pod.Spec.PriorityClassName))
		case err != nil:
			return fmt.Errorf("failed to get PriorityClass with name %s: %w", pod.Spec.PriorityClassName, err)
		}
		priority, policy = pc.Value, pc.PreemptionPolicy
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != priority {
		return apierrors.NewForbidden(podsResource, pod.Name, fmt.Errorf(
			"the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name",
			*pod.Spec.Priority, priority))
	}
	pod.Spec.Priority = &priority
	if policy != nil {
		if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy != *policy {
			return apierrors.NewForbidden(podsResource, pod.Name, fmt.Errorf(
				"the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name",
				*pod.Spec.PreemptionPolicy, *policy))
		}
		p := *policy
		pod.Spec.PreemptionPolicy = &p
	}
	return nil
}

func (s *Server) admitPriorityClass(ctx context.Context, pc *schedulingv1.PriorityClass, update bool) error {
	// Pods created after this write returns get their default class from
	// what it stored, not from a cache that has not seen it yet.
	s.classes.notePending(pc.Name, time.Now())
	if !pc.GlobalDefault {
		return nil
	}
	def, err := s.defaultPriorityClass(ctx)
	if err != nil {
		return fmt.Errorf("failed to get default priority class: %w", err)
	}
	if def != nil && (!update || def.Name != pc.Name) {
		return apierrors.NewForbidden(priorityClassesResource, pc.Name,
			fmt.Errorf("PriorityClass %v is already marked as default. Only one default can exist", def.Name))
	}
	return nil
}

func (s *Server) priorityClass(ctx context.Context, name string) (*schedulingv1.PriorityClass, error) {
	res := s.byGVR[priorityClassesGVR]
	if res == nil {
		return nil, errdefs.ErrNotFound
	}
	_, obj, err := s.load(ctx, res, "", name)
	if err != nil {
		return nil, err
	}
	return obj.(*schedulingv1.PriorityClass), nil
}

// podDefaultPriorityClass is defaultPriorityClass for a new pod: from
// the cache of classes when it can answer for all of them.
func (s *Server) podDefaultPriorityClass(ctx context.Context) (*schedulingv1.PriorityClass, error) {
	var def *classDigest
	ok := s.classes.all(time.Now(), func(d classDigest) {
		if d.globalDefault && (def == nil || d.value < def.value) {
			def = &d
		}
	})
	if !ok {
		return s.defaultPriorityClass(ctx)
	}
	if def == nil {
		return nil, nil
	}
	return def.class(), nil
}

// defaultPriorityClass is the globalDefault class, nil if there is none.
// Should two be marked (two creates racing), the lower value wins, as in
// kube.
func (s *Server) defaultPriorityClass(ctx context.Context) (*schedulingv1.PriorityClass, error) {
	res := s.byGVR[priorityClassesGVR]
	if res == nil {
		return nil, nil
	}
	page, err := s.store.List(ctx, res.prefix, prefixEnd(res.prefix), 0, 0)
	if err != nil {
		return nil, err
	}
	var def *schedulingv1.PriorityClass
	for _, kv := range page.KVs {
		obj, err := res.decodeStored(kv)
		if err != nil {
			return nil, err
		}
		if pc := obj.(*schedulingv1.PriorityClass); pc.GlobalDefault && (def == nil || pc.Value < def.Value) {
			def = pc
		}
	}
	return def, nil
}
