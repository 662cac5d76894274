package apiserver

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"sync"
	"time"

	"github.com/skiff-io/skiff/server/jsonscan"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// fieldsMemo remembers what the field manager decided for writes of one
// shape, so that the next write of that shape by the same manager gets
// its managed fields without the field manager's typed conversions and
// comparisons (a tenth of a create's CPU, more of an update's).
//
// The field manager's answer for an Update operation depends on the
// paths present in the live and the new object, on which leaf values
// changed between them, on the managed fields it starts from and on the
// manager, never on the values themselves. A write's key records exactly
// that: each object's JSON with every scalar outside a list replaced by
// its JSON type (lists are kept whole, since their items carry the keys
// of associative lists and the values of sets), which leaves differ, and
// the one managed-fields entry the write starts from. Writes whose answer
// could depend on anything else (several managers, an entry of another
// kind, a changed shape on update) take the field manager's own path.
type fieldsMemo struct {
	mu      sync.Mutex
	entries map[string]memoAnswer
	// tries counts lookups and hits per kind, subresource and operation,
	// so that kinds whose writes rarely repeat a shape stop paying for
	// the key (see memoStats.useful).
	tries map[memoClass]*memoStats
	// emptyOK caches emptyLeavesOnly per kind.
	emptyOK map[schema.GroupVersionKind]bool
}

// memoEntries bounds the memo; when it is full it starts again empty.
const memoEntries = 512

type memoClass struct {
	gvk    schema.GroupVersionKind
	sub    string
	create bool
}

type memoStats struct{ lookups, hits int }

// useful reports whether a class's writes repeat their shapes often
// enough for the memo to pay: after memoProbation lookups, at least one
// in four must have hit.
func (s *memoStats) useful() bool {
	return s.lookups < memoProbation || s.hits*4 >= s.lookups
}

const memoProbation = 256

// memoAnswer is the field manager's answer for one key.
type memoAnswer struct {
	// none: the write ends with no managed fields at all (nilList: as
	// nil rather than an empty list).
	none, nilList bool
	// fields is the manager's FieldsV1 otherwise, and touched says the
	// write changed fields, so the entry's time is the write's.
	fields  []byte
	touched bool
}

func newFieldsMemo() *fieldsMemo {
	return &fieldsMemo{entries: map[string]memoAnswer{}, tries: map[memoClass]*memoStats{}, emptyOK: map[schema.GroupVersionKind]bool{}}
}

// memoWrite is one write's memo key and what answering from it needs.
type memoWrite struct {
	class memoClass
	key   string
	// start is the managed-fields entry the write starts from (nil: none).
	start *metav1.ManagedFieldsEntry
	// enc, when the caller asked for it, is the new object as
	// encodeStored encodes a kind stored as served (json.Marshal, no
	// resourceVersion), its managed fields aside: they belong at
	// enc[mf.from:mf.to] (see stored).
	enc []byte
	mf  mfSpot
}

// mfSpot is where the top-level metadata's managedFields member is, or
// would be, in an object's JSON. json.Marshal writes it last in metadata.
type mfSpot struct {
	// from, to: the member with the comma before it, or the empty range
	// before metadata's closing brace when it has none.
	from, to int
	// others says metadata has other members, so the member needs a comma.
	others bool
	ok     bool
}

// stored returns the stored encoding of obj, the write w's object once
// its managed fields are set, or nil if w has no encoding to start from.
func (w *memoWrite) stored(obj runtime.Object) []byte {
	if w.enc == nil || !w.mf.ok {
		return nil
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	var mf []byte
	if entries := acc.GetManagedFields(); len(entries) > 0 {
		if mf, err = json.Marshal(entries); err != nil {
			return nil
		}
	}
	out := make([]byte, 0, len(w.enc)-(w.mf.to-w.mf.from)+len(mf)+20)
	out = append(out, w.enc[:w.mf.from]...)
	if mf != nil {
		if w.mf.others {
			out = append(out, ',')
		}
		out = append(out, `"managedFields":`...)
		out = append(out, mf...)
	}
	return append(out, w.enc[w.mf.to:]...)
}

// eligible decides whether a write may be answered from the memo and
// returns its key. live is the stored object (for a create, the kind's
// empty object), obj the object being written; both have their kind set.
// liveJSON, when not nil, is live as json.Marshal encodes it but for its
// resourceVersion, which the key leaves out; without it live is encoded.
// With encode the write's enc is set (see memoWrite).
func (m *fieldsMemo) eligible(gvk schema.GroupVersionKind, sub string, create bool, live runtime.Object, liveJSON []byte, obj runtime.Object, manager string, encode bool) (memoWrite, bool) {
	if _, ok := obj.(runtime.Unstructured); ok {
		return memoWrite{}, false
	}
	class := memoClass{gvk: gvk, sub: sub, create: create}
	m.mu.Lock()
	st := m.tries[class]
	if st == nil {
		st = &memoStats{}
		m.tries[class] = st
	}
	useful := st.useful()
	m.mu.Unlock()
	if !useful {
		return memoWrite{}, false
	}
	liveAcc, err1 := meta.Accessor(live)
	objAcc, err2 := meta.Accessor(obj)
	if err1 != nil || err2 != nil {
		return memoWrite{}, false
	}
	start, ok := startingEntry(liveAcc.GetManagedFields(), objAcc.GetManagedFields(), sub, create)
	if !ok {
		return memoWrite{}, false
	}
	gv := gvk.GroupVersion().String()
	if start != nil && (start.Manager != manager || start.Operation != metav1.ManagedFieldsOperationUpdate ||
		start.APIVersion != gv || start.FieldsType != "FieldsV1" || start.Subresource != sub ||
		start.FieldsV1 == nil || start.Time == nil) {
		return memoWrite{}, false
	}

	// A create's key is the new object's shape alone when the kind's
	// empty object has no leaves but kind and apiVersion (the same in
	// both) and nulls (a value in their place shows in the new shape).
	if create && !m.emptyLeavesOnly(gvk, live) {
		return memoWrite{}, false
	}

	// From here on the write pays for its key: one that cannot have one
	// counts as a lookup that missed.
	// Encoded without its resourceVersion, as encodeStored does, so that
	// the same bytes can be stored (the key leaves it out anyway).
	rv := objAcc.GetResourceVersion()
	objAcc.SetResourceVersion("")
	newJSON, err := json.Marshal(obj)
	objAcc.SetResourceVersion(rv)
	if err != nil {
		return memoWrite{}, m.missed(class)
	}
	var ns shapeScan
	if !ns.scan(newJSON) {
		return memoWrite{}, m.missed(class)
	}
	var enc []byte
	if encode {
		enc = newJSON
	}
	key := make([]byte, 0, 64+len(ns.shape)+len(manager))
	key = appendPart(key, []byte(gvk.String()))
	key = appendPart(key, []byte(sub))
	key = appendPart(key, []byte(manager))
	if create {
		key = append(key, 'C')
		key = appendPart(key, ns.shape)
	} else {
		if liveJSON == nil {
			var err error
			if liveJSON, err = json.Marshal(live); err != nil {
				return memoWrite{}, m.missed(class)
			}
		}
		var ls shapeScan
		if !ls.scan(liveJSON) || !bytes.Equal(ls.shape, ns.shape) || len(ls.leaves) != len(ns.leaves) {
			return memoWrite{}, m.missed(class)
		}
		key = append(key, 'U')
		if start != nil {
			key = appendPart(key, start.FieldsV1.Raw)
		} else {
			key = appendPart(key, nil)
		}
		key = appendPart(key, ns.shape)
		// Which leaves changed, one bit each.
		bits := make([]byte, (len(ns.leaves)+7)/8)
		for i := range ns.leaves {
			l, n := ls.leaves[i], ns.leaves[i]
			if !bytes.Equal(liveJSON[l[0]:l[1]], newJSON[n[0]:n[1]]) {
				bits[i/8] |= 1 << (i % 8)
			}
		}
		key = appendPart(key, bits)
	}
	return memoWrite{class: class, key: string(key), start: start, enc: enc, mf: ns.mf}, true
}

// emptyLeavesOnly reports whether the JSON of a kind's empty object has
// no scalar leaf other than its kind, apiVersion and nulls: then a new
// object's shape alone says which of its fields a create adds. The answer
// is kept per kind.
func (m *fieldsMemo) emptyLeavesOnly(gvk schema.GroupVersionKind, empty runtime.Object) bool {
	m.mu.Lock()
	ok, known := m.emptyOK[gvk]
	m.mu.Unlock()
	if known {
		return ok
	}
	ok = false
	if b, err := json.Marshal(empty); err == nil {
		var s shapeScan
		if s.scan(b) && bytes.HasPrefix(s.shape, []byte(`{"kind":s,"apiVersion":s`)) {
			ok = true
			for _, l := range s.leaves[2:] {
				if string(b[l[0]:l[1]]) != "null" {
					ok = false
				}
			}
		}
	}
	m.mu.Lock()
	m.emptyOK[gvk] = ok
	m.mu.Unlock()
	return ok
}

// startingEntry is the managed-fields entry a write starts from, as the
// field manager chooses it: the live object's for a subresource, none when
// the request resets them, else the request's or, when it sends none, the
// live object's. A write that sends entries other than the live ones, or
// starts from more than one, is not answered from the memo (ok false).
func startingEntry(live, sent []metav1.ManagedFieldsEntry, sub string, create bool) (*metav1.ManagedFieldsEntry, bool) {
	from := live
	if sub == "" {
		switch {
		case sent != nil && len(sent) == 0, len(sent) == 1 && isEmptyEntry(sent[0]):
			from = nil // a reset
		case len(sent) > 0:
			if create || !sameEntries(sent, live) {
				return nil, false
			}
		}
	}
	switch len(from) {
	case 0:
		return nil, true
	case 1:
		return &from[0], true
	}
	return nil, false
}

func isEmptyEntry(e metav1.ManagedFieldsEntry) bool {
	return e.Manager == "" && e.Operation == "" && e.APIVersion == "" && e.Time == nil &&
		e.FieldsType == "" && e.FieldsV1 == nil && e.Subresource == ""
}

func sameEntries(a, b []metav1.ManagedFieldsEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Manager != y.Manager || x.Operation != y.Operation || x.APIVersion != y.APIVersion ||
			x.FieldsType != y.FieldsType || x.Subresource != y.Subresource ||
			(x.Time == nil) != (y.Time == nil) || (x.Time != nil && !x.Time.Equal(y.Time)) ||
			(x.FieldsV1 == nil) != (y.FieldsV1 == nil) || (x.FieldsV1 != nil && !bytes.Equal(x.FieldsV1.Raw, y.FieldsV1.Raw)) {
			return false
		}
	}
	return true
}

func appendPart(dst, part []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(part)))
	return append(dst, part...)
}

// missed counts a write of class that paid for a key in vain; it returns
// false for eligible to return.
func (m *fieldsMemo) missed(class memoClass) bool {
	m.mu.Lock()
	m.tries[class].lookups++
	m.mu.Unlock()
	return false
}

// answer sets obj's managed fields from the memo, if it holds w's key.
func (m *fieldsMemo) answer(w memoWrite, obj runtime.Object, manager string) bool {
	m.mu.Lock()
	a, ok := m.entries[w.key]
	st := m.tries[w.class]
	st.lookups++
	if ok {
		st.hits++
	}
	m.mu.Unlock()
	if !ok {
		return false
	}
	acc, _ := meta.Accessor(obj)
	if a.none {
		if a.nilList {
			acc.SetManagedFields(nil)
		} else {
			acc.SetManagedFields([]metav1.ManagedFieldsEntry{})
		}
		return true
	}
	t := &metav1.Time{Time: time.Now().UTC()}
	if !a.touched {
		t = &metav1.Time{Time: w.start.Time.Time}
	}
	acc.SetManagedFields([]metav1.ManagedFieldsEntry{{
		Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: w.class.gvk.GroupVersion().String(),
		Time: t, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: append([]byte(nil), a.fields...)},
		Subresource: w.class.sub,
	}})
	return true
}

// learn records the field manager's answer out for w, when it is one the
// memo can give again: no managed fields, or the manager's one entry.
// startPtrs are the starting entries' times, which the field manager
// carries over into its answer when the write changed nothing.
func (m *fieldsMemo) learn(w memoWrite, out runtime.Object, manager string, startPtrs ...*metav1.Time) {
	acc, err := meta.Accessor(out)
	if err != nil {
		return
	}
	mf := acc.GetManagedFields()
	var a memoAnswer
	switch len(mf) {
	case 0:
		a = memoAnswer{none: true, nilList: mf == nil}
	case 1:
		e := mf[0]
		if e.Manager != manager || e.Operation != metav1.ManagedFieldsOperationUpdate ||
			e.APIVersion != w.class.gvk.GroupVersion().String() || e.FieldsType != "FieldsV1" ||
			e.Subresource != w.class.sub || e.FieldsV1 == nil || e.Time == nil {
			return
		}
		a.fields = append([]byte(nil), e.FieldsV1.Raw...)
		switch {
		case w.start == nil:
			a.touched = true
		case !e.Time.Equal(w.start.Time):
			a.touched = true
		default:
			// The same time: carried over, unless the write's own time
			// happened to fall on that instant; only a carried-over
			// pointer says which.
			carried := false
			for _, p := range startPtrs {
				if p != nil && p == e.Time {
					carried = true
				}
			}
			if !carried {
				return
			}
		}
	default:
		return
	}
	m.mu.Lock()
	if len(m.entries) >= memoEntries {
		clear(m.entries)
	}
	m.entries[w.key] = a
	m.mu.Unlock()
}

// shapeScan reads a JSON value as json.Marshal writes it and records its
// shape: objects with their member names, every scalar outside a list as
// one byte for its JSON type (s string, n number, b boolean, z null), and
// lists whole. leaves are the byte ranges of those scalars, in order. The
// managed fields and the resourceVersion of the top-level metadata are
// left out: the field manager strips both before it compares objects,
// and the stored encoding of an object has no resourceVersion.
type shapeScan struct {
	b      []byte
	i      int
	shape  []byte
	leaves [][2]int
	// mf is where the top-level metadata's managedFields are, when they
	// are its last member (or absent) and nothing but them follows up
	// to its closing brace.
	mf mfSpot
}

func (s *shapeScan) scan(b []byte) bool {
	s.b, s.i = b, 0
	s.shape = make([]byte, 0, 256)
	if !s.value(0, false) {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

func (s *shapeScan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value reads one value; depth is the object nesting (1 inside the
// top-level object) and isMeta says it is the top-level metadata.
func (s *shapeScan) value(depth int, isMeta bool) bool {
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	start := s.i
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(depth+1, isMeta)
	case c == '[':
		if !s.skip() {
			return false
		}
		s.shape = append(s.shape, s.b[start:s.i]...)
		return true
	case c == '"':
		if !s.str() {
			return false
		}
		s.leaf(start, 's')
	case c == 't' || c == 'f':
		if !s.literal() {
			return false
		}
		s.leaf(start, 'b')
	case c == 'n':
		if !s.literal() {
			return false
		}
		s.leaf(start, 'z')
	case c == '-' || (c >= '0' && c <= '9'):
		for s.i < len(s.b) && bytes.IndexByte([]byte("+-.0123456789eE"), s.b[s.i]) >= 0 {
			s.i++
		}
		s.leaf(start, 'n')
	default:
		return false
	}
	return true
}

func (s *shapeScan) leaf(start int, tag byte) {
	s.shape = append(s.shape, tag)
	s.leaves = append(s.leaves, [2]int{start, s.i})
}

func (s *shapeScan) object(depth int, isMeta bool) bool {
	s.i++ // {
	s.shape = append(s.shape, '{')
	first, emitted := true, false
	// For the top-level metadata: where its managedFields member begins
	// and ends (-1: none seen), and whether it has others.
	mfFrom, mfTo, others := -1, -1, false
	for {
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		if s.b[s.i] == '}' {
			if isMeta {
				switch {
				case mfFrom < 0:
					s.mf = mfSpot{from: s.i, to: s.i, others: others, ok: true}
				case mfTo == s.i:
					s.mf = mfSpot{from: mfFrom, to: mfTo, others: others, ok: true}
				}
			}
			s.i++
			s.shape = append(s.shape, '}')
			return true
		}
		member := s.i
		if !first {
			if s.b[s.i] != ',' {
				return false
			}
			s.i++
			s.ws()
		}
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		k := s.i
		if !s.str() {
			return false
		}
		name := s.b[k:s.i]
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		if isMeta && (string(name) == `"managedFields"` || string(name) == `"resourceVersion"`) {
			s.ws()
			if !s.skip() {
				return false
			}
			if string(name) == `"managedFields"` {
				mfFrom, mfTo = member, s.i
			} else {
				others = true
			}
			first = false
			continue
		}
		others = others || isMeta
		if emitted {
			s.shape = append(s.shape, ',')
		}
		emitted = true
		s.shape = append(s.shape, name...)
		s.shape = append(s.shape, ':')
		if !s.value(depth, depth == 1 && string(name) == `"metadata"`) {
			return false
		}
		first = false
	}
}

// str reads a string, escapes included.
func (s *shapeScan) str() bool {
	end, ok := jsonscan.StringEnd(s.b, s.i)
	s.i = end
	return ok
}

func (s *shapeScan) literal() bool {
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
			s.i += len(lit)
			return true
		}
	}
	return false
}

// skip reads any value without recording it.
func (s *shapeScan) skip() bool {
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; c {
	case '"':
		return s.str()
	case '{', '[':
		var open []byte
		for s.i < len(s.b) {
			switch c := s.b[s.i]; c {
			case '"':
				if !s.str() {
					return false
				}
				continue
			case '{', '[':
				open = append(open, c)
			case '}', ']':
				want := byte('{')
				if c == ']' {
					want = '['
				}
				if len(open) == 0 || open[len(open)-1] != want {
					return false
				}
				open = open[:len(open)-1]
				if len(open) == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	case 't', 'f', 'n':
		return s.literal()
	default:
		start := s.i
		for s.i < len(s.b) && bytes.IndexByte([]byte("+-.0123456789eE"), s.b[s.i]) >= 0 {
			s.i++
		}
		return s.i > start
	}
}
