package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
)

// HashLabel is the label carrying a revision's hash on the revision and on
// the pods made from it.
const HashLabel = appsv1.ControllerRevisionHashLabelKey

// maxNameLength bounds a revision name (a DNS subdomain), leaving room for
// the hash.
const maxNameLength = 253

// TemplateData is the data of a revision of template: a strategic merge
// patch replacing spec.template, which `kubectl rollout undo` applies to
// the owner as is.
func TemplateData(template *corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(template)
	if err != nil {
		return nil, fmt.Errorf("history: encode template: %w", err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		return nil, fmt.Errorf("history: decode template: %w", err)
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// Hash is the hash of data and collisionCount, encoded for use in names
// and labels.
func Hash(data []byte, collisionCount *int32) string {
	h := fnv.New32a()
	_, _ = h.Write(data)
	if collisionCount != nil {
		_, _ = h.Write([]byte(strconv.FormatInt(int64(*collisionCount), 10)))
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// Name is the name of owner's revision with hash.
func Name(owner, hash string) string {
	if max := maxNameLength - len(hash) - 1; len(owner) > max {
		owner = owner[:max]
	}
	return owner + "-" + hash
}

// New builds owner's revision number revision of data, not yet stored.
// gvk is the owner's kind (it becomes the controller reference).
func New(owner metav1.Object, gvk schema.GroupVersionKind, templateLabels map[string]string, data []byte, revision int64, collisionCount *int32) *appsv1.ControllerRevision {
	hash := Hash(data, collisionCount)
	labels := make(map[string]string, len(templateLabels)+1)
	for k, v := range templateLabels {
		labels[k] = v
	}
	labels[HashLabel] = hash
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            Name(owner.GetName(), hash),
			Namespace:       owner.GetNamespace(),
			Labels:          labels,
			Annotations:     changeCause(owner),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, gvk)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: revision,
	}
}

// changeCause carries the owner's kubernetes.io/change-cause annotation
// (set by `kubectl --record` or by users) to the revision, where
// `kubectl rollout history` shows it.
func changeCause(owner metav1.Object) map[string]string {
	const key = "kubernetes.io/change-cause"
	if v, ok := owner.GetAnnotations()[key]; ok {
		return map[string]string{key: v}
	}
	return nil
}

// Equal reports whether two revisions hold the same template.
func Equal(a, b *appsv1.ControllerRevision) bool {
	return bytes.Equal(compact(a.Data.Raw), compact(b.Data.Raw))
}

func compact(raw []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return raw
	}
	return buf.Bytes()
}

// FindEqual returns the revisions of revs equal to needle, in revs' order.
func FindEqual(revs []*appsv1.ControllerRevision, needle *appsv1.ControllerRevision) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revs {
		if Equal(r, needle) {
			out = append(out, r)
		}
	}
	return out
}

// Sort orders revs by revision number, then by name.
func Sort(revs []*appsv1.ControllerRevision) {
	sort.SliceStable(revs, func(i, j int) bool {
		if revs[i].Revision != revs[j].Revision {
			return revs[i].Revision < revs[j].Revision
		}
		return revs[i].Name < revs[j].Name
	})
}

// Next is the revision number after the highest of revs (1 for none).
func Next(revs []*appsv1.ControllerRevision) int64 {
	var max int64
	for _, r := range revs {
		if r.Revision > max {
			max = r.Revision
		}
	}
	return max + 1
}

// ToDelete returns the revisions history cleanup removes so that at most
// limit revisions beyond the live ones remain: the oldest of those not in
// live (names of revisions some pod or the owner's status still refers
// to), oldest first.
func ToDelete(revs []*appsv1.ControllerRevision, live map[string]bool, limit int32) []*appsv1.ControllerRevision {
	var dead []*appsv1.ControllerRevision
	for _, r := range revs {
		if !live[r.Name] {
			dead = append(dead, r)
		}
	}
	if limit < 0 {
		limit = 0
	}
	excess := len(dead) - int(limit)
	if excess <= 0 {
		return nil
	}
	Sort(dead)
	return dead[:excess]
}

// Owned returns the revisions of revs that owner controls.
func Owned(revs []*appsv1.ControllerRevision, owner metav1.Object) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revs {
		if ref := metav1.GetControllerOf(r); ref != nil && ref.UID == owner.GetUID() {
			out = append(out, r)
		}
	}
	return out
}

// Template decodes the pod template a revision made by TemplateData holds.
func Template(rev *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var patch struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(rev.Data.Raw, &patch); err != nil {
		return nil, fmt.Errorf("history: decode revision %s: %w", rev.Name, err)
	}
	return &patch.Spec.Template, nil
}
