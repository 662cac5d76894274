package apiserver

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// selector is a parsed labelSelector and fieldSelector.
type selector struct {
	label labels.Selector
	field fields.Selector
}

func parseSelector(ls, fs string, res *resource) (selector, error) {
	sel := selector{label: labels.Everything(), field: fields.Everything()}
	var err error
	if ls != "" {
		if sel.label, err = labels.Parse(ls); err != nil {
			return sel, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
	}
	if fs != "" {
		if sel.field, err = fields.ParseSelector(fs); err != nil {
			return sel, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
		}
		// Reject fields this resource does not index, as kube-apiserver does.
		var probe fields.Set
		if res.fieldSet != nil {
			probe = res.fieldSet(res.newObj())
		}
		for _, req := range sel.field.Requirements() {
			if req.Field == "metadata.name" || (req.Field == "metadata.namespace" && res.namespaced) {
				continue
			}
			if _, ok := probe[req.Field]; !ok {
				return sel, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
		}
	}
	return sel, nil
}

func (s selector) empty() bool { return s.label.Empty() && s.field.Empty() }

// singleName returns the name when the field selector pins metadata.name.
func (s selector) singleName() (string, bool) {
	return s.field.RequiresExactMatch("metadata.name")
}

// metadataOnly reports whether the selector needs nothing but labels,
// name and namespace.
func (s selector) metadataOnly() bool {
	for _, req := range s.field.Requirements() {
		if req.Field != "metadata.name" && req.Field != "metadata.namespace" {
			return false
		}
	}
	return true
}

// matchesMetadata is matches for a selector that is metadataOnly.
func (s selector) matchesMetadata(obj runtime.Object) bool {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	return s.label.Matches(labels.Set(acc.GetLabels())) &&
		s.field.Matches(fields.Set{"metadata.name": acc.GetName(), "metadata.namespace": acc.GetNamespace()})
}

func (s selector) matches(obj runtime.Object, res *resource) bool {
	if s.empty() {
		return true
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if !s.label.Matches(labels.Set(acc.GetLabels())) {
		return false
	}
	if s.field.Empty() {
		return true
	}
	set := fields.Set{"metadata.name": acc.GetName()}
	if res.namespaced {
		set["metadata.namespace"] = acc.GetNamespace()
	}
	if res.fieldSet != nil {
		for k, v := range res.fieldSet(obj) {
			set[k] = v
		}
	}
	return s.field.Matches(set)
}
