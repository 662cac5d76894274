package kubeclient

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupDiscoveryError reports the group versions whose resources could not
// be listed; the other groups' lists come with it.
type GroupDiscoveryError struct {
	Groups map[schema.GroupVersion]error
}

func (e *GroupDiscoveryError) Error() string {
	parts := make([]string, 0, len(e.Groups))
	for gv, err := range e.Groups {
		parts = append(parts, fmt.Sprintf("%s: %v", gv, err))
	}
	sort.Strings(parts)
	return "unable to retrieve the complete list of server APIs: " + strings.Join(parts, ", ")
}

// PreferredResources implements Interface with the legacy discovery
// documents: /api/v1 for the core group, /apis for the others' preferred
// versions, then each /apis/<group>/<version>. Subresources ("pods/log")
// are left out, as client-go's discovery does.
func (cs *Clientset) PreferredResources(ctx context.Context) ([]*metav1.APIResourceList, error) {
	var core metav1.APIResourceList
	if err := cs.getJSON(ctx, "/api/v1", &core); err != nil {
		return nil, err
	}
	if core.GroupVersion == "" {
		core.GroupVersion = "v1"
	}
	dropSubresources(&core)
	var groups metav1.APIGroupList
	if err := cs.getJSON(ctx, "/apis", &groups); err != nil {
		return nil, err
	}
	out := []*metav1.APIResourceList{&core}
	failed := map[schema.GroupVersion]error{}
	for _, g := range groups.Groups {
		gv := g.PreferredVersion.GroupVersion
		if gv == "" && len(g.Versions) > 0 {
			gv = g.Versions[0].GroupVersion
		}
		if gv == "" {
			continue
		}
		l := &metav1.APIResourceList{}
		if err := cs.getJSON(ctx, "/apis/"+gv, l); err != nil {
			parsed, _ := schema.ParseGroupVersion(gv)
			failed[parsed] = err
			continue
		}
		if l.GroupVersion == "" {
			l.GroupVersion = gv
		}
		dropSubresources(l)
		out = append(out, l)
	}
	if len(failed) > 0 {
		return out, &GroupDiscoveryError{Groups: failed}
	}
	return out, nil
}

func (cs *Clientset) getJSON(ctx context.Context, path string, into any) error {
	body, err := cs.root.Get().AbsPath(path).Do(ctx).Raw()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	return nil
}

// FilterResources keeps the resources for which keep returns true and drops
// lists left empty (client-go's discovery.FilteredBy).
func FilterResources(lists []*metav1.APIResourceList, keep func(gv schema.GroupVersion, r *metav1.APIResource) bool) []*metav1.APIResourceList {
	var out []*metav1.APIResourceList
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		kept := &metav1.APIResourceList{TypeMeta: l.TypeMeta, GroupVersion: l.GroupVersion}
		for i := range l.APIResources {
			if keep(gv, &l.APIResources[i]) {
				kept.APIResources = append(kept.APIResources, l.APIResources[i])
			}
		}
		if len(kept.APIResources) > 0 {
			out = append(out, kept)
		}
	}
	return out
}

// HasVerbs reports whether r supports every one of verbs.
func HasVerbs(r *metav1.APIResource, verbs ...string) bool {
	for _, v := range verbs {
		found := false
		for _, have := range r.Verbs {
			if have == v {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func dropSubresources(l *metav1.APIResourceList) {
	kept := l.APIResources[:0]
	for _, r := range l.APIResources {
		if !strings.Contains(r.Name, "/") {
			kept = append(kept, r)
		}
	}
	l.APIResources = kept
}
