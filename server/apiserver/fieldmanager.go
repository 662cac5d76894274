package apiserver

import (
	"net/http"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// fieldManagers builds one managedfields.FieldManager per kind and
// subresource, on first use: the typed schemas behind them are large, and
// a server that only serves reads never needs them.
type fieldManagers struct {
	scheme    *runtime.Scheme
	defaulter runtime.ObjectDefaulter
	// models returns the OpenAPI schemas of the served kinds, which carry
	// their merge semantics (list types and keys, atomic maps and structs).
	models func() (map[string]*spec.Schema, error)
	once   sync.Once
	tc     managedfields.TypeConverter
	tcErr  error
	mu     sync.Mutex
	byKind map[string]*managedfields.FieldManager
	// memo answers writes of a shape seen before (nil: always ask the
	// field manager).
	memo *fieldsMemo
}

func newFieldManagers(s *runtime.Scheme, models func() (map[string]*spec.Schema, error)) *fieldManagers {
	return &fieldManagers{scheme: s, defaulter: defaulterFunc(applyDefaults), models: models, byKind: map[string]*managedfields.FieldManager{}, memo: newFieldsMemo()}
}

// sameVersion is the scheme as the field managers' object converter,
// without the copy the scheme makes of a typed object already in the
// version asked for: the field manager converts the live and the new
// object of every write only to read them (into typed values), and
// serves one version per kind, so each write paid two deep copies for
// nothing. Unstructured objects and real conversions go to the scheme.
type sameVersion struct{ *runtime.Scheme }

func (c sameVersion) ConvertToVersion(in runtime.Object, target runtime.GroupVersioner) (runtime.Object, error) {
	if _, ok := in.(runtime.Unstructured); !ok {
		gvk := in.GetObjectKind().GroupVersionKind()
		if want, ok := target.KindForGroupVersionKinds([]schema.GroupVersionKind{gvk}); ok && want == gvk && !gvk.Empty() {
			if kinds, _, err := c.ObjectKinds(in); err == nil && slices.Contains(kinds, gvk) {
				return in, nil
			}
		}
	}
	return c.Scheme.ConvertToVersion(in, target)
}

type defaulterFunc func(runtime.Object)

func (f defaulterFunc) Default(obj runtime.Object) { f(obj) }

func (m *fieldManagers) get(gvk schema.GroupVersionKind, subresource string) (*managedfields.FieldManager, error) {
	m.once.Do(func() {
		models, err := m.models()
		if err == nil {
			m.tc, err = managedfields.NewTypeConverter(models, false)
		}
		m.tcErr = err
	})
	if m.tcErr != nil {
		return nil, m.tcErr
	}
	k := gvk.String() + "/" + subresource
	m.mu.Lock()
	defer m.mu.Unlock()
	if fm, ok := m.byKind[k]; ok {
		return fm, nil
	}
	reset := fieldpath.NewSet(fieldpath.MakePathOrDie("status"))
	if subresource == "status" {
		reset = fieldpath.NewSet(fieldpath.MakePathOrDie("spec"))
	}
	resetFields := map[fieldpath.APIVersion]fieldpath.Filter{
		fieldpath.APIVersion(gvk.GroupVersion().String()): fieldpath.NewExcludeSetFilter(reset),
	}
	fm, err := managedfields.NewDefaultFieldManager(m.tc, sameVersion{m.scheme}, m.defaulter, m.scheme, gvk, gvk.GroupVersion(), subresource, resetFields)
	if err != nil {
		return nil, err
	}
	m.byKind[k] = fm
	return fm, nil
}

// track records manager as the owner of the fields it changed from live to
// obj. Failures keep the previous managed fields, as kube-apiserver does.
// liveJSON, when not nil, is json.Marshal's encoding of live, its
// resourceVersion aside (as encodeStored stored it). With encode (for a
// kind stored as served) it may also return the object's stored
// encoding, which encodeStored would give; nil when it has none.
func (m *fieldManagers) track(gvk schema.GroupVersionKind, sub string, live runtime.Object, liveJSON []byte, obj runtime.Object, manager string, encode bool) (runtime.Object, []byte) {
	return m.track1(gvk, sub, false, live, liveJSON, obj, manager, encode)
}

// trackCreate is track for a create: empty is a new, empty object of the
// kind.
func (m *fieldManagers) trackCreate(gvk schema.GroupVersionKind, empty, obj runtime.Object, manager string, encode bool) (runtime.Object, []byte) {
	return m.track1(gvk, "", true, empty, nil, obj, manager, encode)
}

func (m *fieldManagers) track1(gvk schema.GroupVersionKind, sub string, create bool, live runtime.Object, liveJSON []byte, obj runtime.Object, manager string, encode bool) (runtime.Object, []byte) {
	fm, err := m.get(gvk, sub)
	if err != nil {
		return obj, nil
	}
	live.GetObjectKind().SetGroupVersionKind(gvk)
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	if m.memo == nil {
		return fm.UpdateNoErrors(live, obj, manager), nil
	}
	w, ok := m.memo.eligible(gvk, sub, create, live, liveJSON, obj, manager, encode)
	if !ok {
		return fm.UpdateNoErrors(live, obj, manager), nil
	}
	if m.memo.answer(w, obj, manager) {
		// Only the managed fields changed since w's encoding.
		return obj, w.stored(obj)
	}
	// The pointers to the starting entry's time the field manager may
	// carry over into its answer.
	var ptrs []*metav1.Time
	for _, o := range []runtime.Object{live, obj} {
		if acc, err := meta.Accessor(o); err == nil {
			for _, e := range acc.GetManagedFields() {
				ptrs = append(ptrs, e.Time)
			}
		}
	}
	out := fm.UpdateNoErrors(live, obj, manager)
	if out == obj {
		m.memo.learn(w, out, manager, ptrs...)
	}
	return out, nil
}

// managerName is ?fieldManager=, or the user agent's program name.
func managerName(r *http.Request, required bool) (string, error) {
	name := r.URL.Query().Get("fieldManager")
	if name == "" {
		if required {
			return "", apierrors.NewBadRequest("PATCH, application/apply-patch+yaml requests must have fieldManager set")
		}
		ua := r.UserAgent()
		name, _, _ = strings.Cut(ua, "/")
		if name == "" {
			name = "unknown"
		}
	}
	if len(name) > 128 {
		return "", apierrors.NewBadRequest("fieldManager: Too long: must have at most 128 bytes")
	}
	return name, nil
}
