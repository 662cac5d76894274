package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// memoPair runs the same writes through field managers with the memo and
// without it (the field manager alone), and compares what they record.
type memoPair struct {
	t            *testing.T
	memo, direct *fieldManagers
	// encoded counts writes whose stored encoding the memo gave.
	encoded int
}

func newMemoPair(t *testing.T) *memoPair {
	tc, _ := converters(t)
	direct := managersWith(tc)
	direct.memo = nil
	return &memoPair{t: t, memo: managersWith(tc), direct: direct}
}

// write runs one write four times through the memo (the later ones may
// be answered from it), half of them given the live object's stored
// encoding as an update is when the server stored it, and once without,
// and fails unless all record the same managed fields, times aside: a
// time is either the starting entry's in all of them or the write's own
// in all of them.
func (p *memoPair) write(r *resource, sub string, create bool, live, obj runtime.Object, manager string) runtime.Object {
	p.t.Helper()
	run := func(m *fieldManagers, stored bool) runtime.Object {
		l, o := live.DeepCopyObject(), obj.DeepCopyObject()
		var (
			out runtime.Object
			enc []byte
		)
		if create {
			out, enc = m.trackCreate(r.gvk, l, o, manager, r.storage == nil)
		} else {
			var liveJSON []byte
			if stored {
				var err error
				if liveJSON, err = r.encodeStored(live.DeepCopyObject()); err != nil {
					p.t.Fatal(err)
				}
			}
			out, enc = m.track(r.gvk, sub, l, liveJSON, o, manager, r.storage == nil)
		}
		// An encoding given with the answer is encodeStored's.
		if enc != nil {
			want, err := r.encodeStored(out.DeepCopyObject())
			if err != nil {
				p.t.Fatal(err)
			}
			if !bytes.Equal(enc, want) {
				p.t.Fatalf("stored encoding from the memo differs:\nmemo:         %s\nencodeStored: %s", enc, want)
			}
			p.encoded++
		}
		return out
	}
	want := run(p.direct, false)
	for i := 0; i < 4; i++ {
		got := run(p.memo, i%2 == 1)
		p.same(want, got, startTimes(live, obj))
	}
	return want
}

func startTimes(objs ...runtime.Object) map[string]bool {
	out := map[string]bool{}
	for _, o := range objs {
		acc, _ := meta.Accessor(o)
		for _, e := range acc.GetManagedFields() {
			if e.Time != nil {
				out[e.Time.UTC().String()] = true
			}
		}
	}
	return out
}

func (p *memoPair) same(want, got runtime.Object, start map[string]bool) {
	p.t.Helper()
	wa, _ := meta.Accessor(want)
	ga, _ := meta.Accessor(got)
	wm, gm := wa.GetManagedFields(), ga.GetManagedFields()
	if (wm == nil) != (gm == nil) || len(wm) != len(gm) {
		p.t.Fatalf("managed fields differ:\nfield manager: %s\nmemo:          %s", jsonOf(wm), jsonOf(gm))
	}
	for i := range wm {
		w, g := wm[i], gm[i]
		if (w.Time == nil) != (g.Time == nil) {
			p.t.Fatalf("entry %d: time set in one only:\n%s\n%s", i, jsonOf(wm), jsonOf(gm))
		}
		if w.Time != nil {
			ws, gs := start[w.Time.UTC().String()], start[g.Time.UTC().String()]
			if ws != gs || (ws && !w.Time.Equal(g.Time)) {
				p.t.Fatalf("entry %d: one kept the starting time, the other did not: %v and %v (starting times %v)", i, w.Time, g.Time, start)
			}
		}
		w.Time, g.Time = nil, nil
		if !reflect.DeepEqual(w, g) {
			p.t.Fatalf("entry %d differs:\nfield manager: %s\nmemo:          %s", i, jsonOf(w), jsonOf(g))
		}
	}
	// Nothing but the managed fields may differ.
	wc, gc := want.DeepCopyObject(), got.DeepCopyObject()
	for _, o := range []runtime.Object{wc, gc} {
		acc, _ := meta.Accessor(o)
		acc.SetManagedFields(nil)
	}
	if !reflect.DeepEqual(wc, gc) {
		p.t.Fatalf("objects differ beyond their managed fields:\n%s\n%s", jsonOf(wc), jsonOf(gc))
	}
}

// variants edits one leaf of obj's JSON at a time (strings get a suffix,
// numbers another digit, booleans flip) and returns each edit that still
// decodes into the kind, plus one with every such edit at once.
func variants(t *testing.T, r *resource, obj runtime.Object) []runtime.Object {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var s shapeScan
	if !s.scan(b) {
		t.Fatalf("shape scan failed on %s", b)
	}
	edit := func(v []byte) []byte {
		switch {
		case v[0] == '"':
			return append(append(append([]byte{}, v[:len(v)-1]...), 'x'), '"')
		case string(v) == "true":
			return []byte("false")
		case string(v) == "false":
			return []byte("true")
		case v[0] == '-' || (v[0] >= '0' && v[0] <= '9'):
			if bytes.ContainsAny(v, ".eE") {
				return append([]byte("1"), v...)
			}
			return append(append([]byte{}, v...), '7')
		}
		return nil
	}
	decode := func(j []byte) runtime.Object {
		o := r.newObj()
		if err := json.Unmarshal(j, o); err != nil {
			return nil
		}
		o.GetObjectKind().SetGroupVersionKind(r.gvk)
		return o
	}
	var out []runtime.Object
	var good [][2]int
	// A large kind has hundreds of leaves: edit at most maxEdits of
	// them, spread over the object (fewer under -short).
	maxEdits := 12
	if testing.Short() {
		maxEdits = 3
	}
	step := max(1, len(s.leaves)/maxEdits)
	for i, l := range s.leaves {
		if i%step != 0 {
			continue
		}
		e := edit(b[l[0]:l[1]])
		if e == nil || l[0] < len(`{"kind":"`)+len(r.gvk.Kind)+len(`","apiVersion":`)+len(r.gvk.GroupVersion().String())+2 {
			continue // nulls; kind and apiVersion
		}
		j := append(append(append([]byte{}, b[:l[0]]...), e...), b[l[1]:]...)
		if o := decode(j); o != nil {
			out = append(out, o)
			good = append(good, l)
		}
	}
	all := append([]byte{}, b...)
	for i := len(good) - 1; i >= 0; i-- {
		l := good[i]
		all = append(append(append([]byte{}, all[:l[0]]...), edit(all[l[0]:l[1]])...), all[l[1]:]...)
	}
	if o := decode(all); o != nil {
		out = append(out, o)
	}
	return out
}

// TestMemoMatchesFieldManager creates an object of every served kind,
// filled and nearly empty, then updates it with every single-leaf edit,
// with the managed fields sent back, left out or reset, by the same
// manager and by another, on the object and on its status: the memo must
// record exactly what the field manager records.
func TestMemoMatchesFieldManager(t *testing.T) {
	p := newMemoPair(t)
	for i, r := range catalogue() {
		// Every kind takes a minute without the race detector; with it,
		// more than the package's time limit. hack/test runs the whole
		// sweep without it; under -race a twelfth of the kinds, ConfigMaps
		// among them, check the memo's locking too.
		if raceDetector && i%12 != 0 && r.plural != "configmaps" {
			continue
		}
		t.Run(r.gvk.Kind+"."+r.gvk.Group, func(t *testing.T) {
			p.t = t
			full := r.newObj()
			n := 0
			fill(reflect.ValueOf(full).Elem(), &n, 0)
			sparse := r.newObj()
			for _, o := range []runtime.Object{full, sparse} {
				acc, _ := meta.Accessor(o)
				acc.SetName("obj")
				acc.SetManagedFields(nil)
				acc.SetResourceVersion("")
				o.GetObjectKind().SetGroupVersionKind(r.gvk)
			}
			sparse.(metav1.Object).SetLabels(map[string]string{"app": "x"})
			for _, obj := range []runtime.Object{full, sparse} {
				created := p.write(r, "", true, r.newObj(), obj, "creator")
				setRV(created, 5)
				for _, v := range variants(t, r, created) {
					for _, manager := range []string{"creator", "other"} {
						for _, sent := range []string{"same", "none", "reset"} {
							nv := v.DeepCopyObject()
							acc, _ := meta.Accessor(nv)
							switch sent {
							case "none":
								acc.SetManagedFields(nil)
							case "reset":
								acc.SetManagedFields([]metav1.ManagedFieldsEntry{})
							}
							p.write(r, "", false, created, nv, manager)
							if r.hasStatus {
								p.write(r, "status", false, created, nv, manager)
							}
						}
					}
				}
				// An unchanged object keeps the starting entry's time.
				p.write(r, "", false, created, created.DeepCopyObject(), "creator")
			}
		})
	}
}

// The memo answers repeated writes of one shape: a second ConfigMap with
// other names and values, and an update of it that changes a value.
func TestMemoAnswersRepeatedShapes(t *testing.T) {
	p := newMemoPair(t)
	r := catalogueResource(t, "configmaps")
	mk := func(name, v string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("u-" + name), CreationTimestamp: metav1.Now()},
			Data: map[string]string{"payload": v}}
	}
	p.write(r, "", true, r.newObj(), mk("a", "1"), "bench")
	st := p.memo.memo.tries[memoClass{gvk: r.gvk, create: true}]
	hits := st.hits
	created, enc := p.memo.trackCreate(r.gvk, r.newObj(), mk("b", strings.Repeat("2", 100)), "bench", true)
	if st.hits != hits+1 {
		t.Fatalf("a create of the same shape was not answered from the memo (%d hits, %d lookups)", st.hits, st.lookups)
	}
	if want, _ := r.encodeStored(created.DeepCopyObject()); enc == nil || !bytes.Equal(enc, want) {
		t.Fatalf("the memo's answer came with the stored encoding\n%s\nwant\n%s", enc, want)
	}
	mf := created.(*corev1.ConfigMap).ManagedFields
	if len(mf) != 1 || string(mf[0].FieldsV1.Raw) != `{"f:data":{".":{},"f:payload":{}}}` || mf[0].Manager != "bench" {
		t.Fatalf("managed fields %s", jsonOf(mf))
	}
	setRV(created, 7)
	upd := created.DeepCopyObject().(*corev1.ConfigMap)
	upd.Data["payload"] = "3"
	p.write(r, "", false, created, upd, "bench")
	ust := p.memo.memo.tries[memoClass{gvk: r.gvk}]
	if ust.hits == 0 {
		t.Fatalf("updates of one shape were not answered from the memo (%d lookups)", ust.lookups)
	}
	if p.encoded == 0 {
		t.Fatal("no answer from the memo came with the stored encoding")
	}
}

// Kinds whose writes never repeat a shape stop paying for the memo's key.
func TestMemoGivesUpOnKindsThatNeverRepeat(t *testing.T) {
	m := managersWith(mustConverter(t))
	r := catalogueResource(t, "configmaps")
	for i := 0; i < memoProbation+10; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Data: map[string]string{fmt.Sprintf("k%d", i): "v"}}
		m.trackCreate(r.gvk, r.newObj(), cm, "bench", true)
	}
	st := m.memo.tries[memoClass{gvk: r.gvk, create: true}]
	if st.lookups != memoProbation || st.hits != 0 {
		t.Fatalf("%d lookups, %d hits; want %d lookups and then none", st.lookups, st.hits, memoProbation)
	}
}

func mustConverter(t *testing.T) managedfields.TypeConverter {
	tc, _ := converters(t)
	return tc
}

func TestShapeScan(t *testing.T) {
	for _, c := range []struct{ in, shape string }{
		{`{"a":"x","b":1,"c":true,"d":null}`, `{"a":s,"b":n,"c":b,"d":z}`},
		{`{"kind":"K","metadata":{"name":"n","managedFields":[{"manager":"m"}],"labels":{"k":"v"}}}`, `{"kind":s,"metadata":{"name":s,"labels":{"k":s}}}`},
		{`{"metadata":{"managedFields":[]},"x":{"managedFields":[1]}}`, `{"metadata":{},"x":{"managedFields":[1]}}`},
		{`{"a":[1,{"b":"c\"]"}],"e":"\\"}`, `{"a":[1,{"b":"c\"]"}],"e":s}`},
		{` { "a" : -1.5e3 } `, `{"a":n}`},
	} {
		var s shapeScan
		if !s.scan([]byte(c.in)) || string(s.shape) != c.shape {
			t.Errorf("%s: shape %s, want %s", c.in, s.shape, c.shape)
		}
	}
	for _, bad := range []string{`{"a":}`, `{"a":"x"`, `{"a" "x"}`, `{"a":1,}`, `{"a":[1}`, `{"a":1} x`, `{"a":tru}`} {
		var s shapeScan
		if s.scan([]byte(bad)) {
			t.Errorf("%s: scanned as %s", bad, s.shape)
		}
	}
}

// BenchmarkTrackConfigMap records the managed fields of a 1 KiB
// ConfigMap's create and of an update that changes its data, by the field
// manager alone and with the memo (which answers all but the first).
func BenchmarkTrackConfigMap(b *testing.B) {
	tc, err := managedfields.NewTypeConverter(mustModels(b), false)
	if err != nil {
		b.Fatal(err)
	}
	gvk := corev1.SchemeGroupVersion.WithKind("ConfigMap")
	mk := func() *corev1.ConfigMap {
		return &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "cm-000001", Namespace: "bench", UID: "3f1c1d4e-1111-2222-3333-444455556666", CreationTimestamp: metav1.Now()},
			Data:       map[string]string{"payload": strings.Repeat("ab", 512)},
		}
	}
	for _, memo := range []bool{false, true} {
		m := managersWith(tc)
		name := "fieldmanager"
		if memo {
			name = "memo"
		} else {
			m.memo = nil
		}
		b.Run("create/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m.trackCreate(gvk, &corev1.ConfigMap{}, mk(), "api-writes-bench", true)
			}
		})
		created, _ := m.trackCreate(gvk, &corev1.ConfigMap{}, mk(), "api-writes-bench", true)
		live := created.(*corev1.ConfigMap)
		b.Run("update/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				n := live.DeepCopy()
				n.Data["payload"] = strings.Repeat("cd", 512)
				m.track(gvk, "", live, nil, n, "api-writes-bench", true)
			}
		})
		if !memo {
			continue
		}
		// As the server updates an object it stored itself: the live
		// object's shape read from its stored encoding.
		stored, err := json.Marshal(live)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("update/memo-stored", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				n := live.DeepCopy()
				n.Data["payload"] = strings.Repeat("cd", 512)
				m.track(gvk, "", live, stored, n, "api-writes-bench", true)
			}
		})
	}
}

func mustModels(b *testing.B) map[string]*spec.Schema {
	models, err := servedModels()()
	if err != nil {
		b.Fatal(err)
	}
	return models
}
