package synchub

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// Key prefixes the index follows.
const (
	podsPrefix       = "/registry/pods/"
	configMapsPrefix = "/registry/configmaps/"
	secretsPrefix    = "/registry/secrets/"
	claimsPrefix     = "/registry/persistentvolumeclaims/"
	volumesPrefix    = "/registry/persistentvolumes/"
)

// maxTombstones bounds the removals a node's document remembers; an agent
// further behind gets the whole document.
const maxTombstones = 512

// index holds every node's desired document. It is driven by datastore
// events in revision order (apply*), so a document is a pure function of
// the datastore at its revision, whichever server builds it.
type index struct {
	mu sync.Mutex
	// floor: documents cannot be told as deltas from before this revision
	// (the revision of the list the index was built from).
	floor int64
	pods  map[string]*podEntry       // "ns/name"
	objs  map[protocol.Ref]*objEntry // ConfigMaps and Secrets pods use
	nodes map[string]*nodeDoc
	// refLists are the pods' shared reference lists (shareRefs).
	refLists map[string][]protocol.Ref
}

// podEntry is what the index needs of a bound pod to keep the node
// documents; the pod itself is kept packed (see podpack.go) and decoded
// when a document or a status update asks for it.
type podEntry struct {
	node           string
	namespace      string
	uid            types.UID
	serviceAccount string
	refs           []protocol.Ref
	rev            int64
	packed         []byte // the stored JSON, compressed (podpack.go)
	// news fingerprints what the node learns from the pod (nodeNews):
	// an update that leaves it alone is not sent to the node.
	news [16]byte
}

// decode returns the pod as stored at e.rev.
func (e *podEntry) decode() (*corev1.Pod, error) {
	raw, err := unpackPod(e.packed)
	if err != nil {
		return nil, err
	}
	return decodePod(raw, e.rev)
}

func decodePod(value []byte, rev int64) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	if err := json.Unmarshal(value, pod); err != nil {
		return nil, err
	}
	pod.ResourceVersion = strconv.FormatInt(rev, 10)
	pod.APIVersion, pod.Kind = "v1", "Pod"
	return pod, nil
}

type objEntry struct {
	obj   any            // *corev1.ConfigMap, Secret, PersistentVolumeClaim or PersistentVolume; nil while absent
	nodes map[string]int // node -> number of its pods (for a volume: of its claims' nodes) that use it
	// cleanup, for a deleted local-path volume, is the node that must
	// remove its directory: it counts as one more use by that node.
	cleanup string
}

type nodeDoc struct {
	name  string
	rev   int64
	floor int64
	// entries: objects in the document and the revision each last changed
	// in it.
	entries    map[protocol.Ref]int64
	tombstones []tombstone
	changed    chan struct{} // closed and replaced on every change
}

type tombstone struct {
	ref protocol.Ref
	rev int64
}

func newIndex() *index {
	return &index{pods: map[string]*podEntry{}, objs: map[protocol.Ref]*objEntry{}, nodes: map[string]*nodeDoc{}}
}

// reset empties the index for a fresh list at revision rev.
func (x *index) reset(rev int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.floor = rev
	x.pods = map[string]*podEntry{}
	x.objs = map[protocol.Ref]*objEntry{}
	for _, d := range x.nodes {
		// Agents that synced before are told the whole document again.
		d.entries = map[protocol.Ref]int64{}
		d.tombstones = nil
		d.floor, d.rev = rev, rev
		d.notify()
	}
}

func (x *index) node(name string) *nodeDoc {
	d := x.nodes[name]
	if d == nil {
		d = &nodeDoc{name: name, rev: x.floor, floor: x.floor, entries: map[protocol.Ref]int64{}, changed: make(chan struct{})}
		x.nodes[name] = d
	}
	return d
}

func (d *nodeDoc) notify() {
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *nodeDoc) put(r protocol.Ref, rev int64) {
	d.entries[r] = rev
	d.bump(rev)
}

func (d *nodeDoc) remove(r protocol.Ref, rev int64) {
	if _, ok := d.entries[r]; !ok {
		return
	}
	delete(d.entries, r)
	d.tombstones = append(d.tombstones, tombstone{r, rev})
	if len(d.tombstones) > maxTombstones {
		d.floor = d.tombstones[0].rev
		d.tombstones = d.tombstones[1:]
	}
	d.bump(rev)
}

func (d *nodeDoc) bump(rev int64) {
	if rev > d.rev {
		d.rev = rev
	}
	d.notify()
}

// fetch reads an object at a revision, for a ConfigMap or Secret that a
// pod starts using after it last changed.
type fetch func(key string, rev int64) ([]byte, error)

// nodeNameKey is how spec.nodeName's key appears in a pod's stored JSON.
var nodeNameKey = []byte(`"nodeName"`)

// applyPod records a pod's new value (nil: deleted) at revision rev.
func (x *index) applyPod(key string, value []byte, rev int64, get fetch) error {
	var pod *corev1.Pod
	// An unbound pod's stored JSON has no "nodeName" key (json.Marshal
	// omits the empty field, and quotes inside strings are escaped), so
	// the pending pods of a burst are not decoded only to be left out. A
	// pod that has the key elsewhere (a label of that name) is decoded.
	if value != nil && bytes.Contains(value, nodeNameKey) {
		var err error
		if pod, err = decodePod(value, rev); err != nil {
			return fmt.Errorf("decoding %s: %w", key, err)
		}
	}
	id := strings.TrimPrefix(key, podsPrefix)
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.pods[id]
	var newNode string
	if pod != nil {
		newNode = pod.Spec.NodeName
	}
	if old != nil && old.node != "" && old.node != newNode {
		d := x.node(old.node)
		d.remove(protocol.Ref{Kind: protocol.KindPod, Namespace: old.namespace, Name: strings.TrimPrefix(id, old.namespace+"/")}, rev)
		x.release(old.node, old.refs, rev)
	}
	if pod == nil || newNode == "" {
		// Unbound pods are the scheduler's business, not a node's.
		delete(x.pods, id)
		return nil
	}
	news, err := nodeNews(pod)
	if err != nil {
		return fmt.Errorf("fingerprinting %s: %w", key, err)
	}
	if old != nil && old.node == newNode && old.news == news {
		// Only the node's own part of the status changed (the node's
		// status reports coming back): the node's document stays as it
		// is, but the entry is the pod as now stored, for the next
		// document that sends it and for the next status update.
		e := *old
		e.rev, e.packed = rev, packPod(value)
		x.pods[id] = &e
		return nil
	}
	// What the entry keeps is shared where it can be: the node's name
	// with its document, the pod's namespace and name with its key, its
	// references with other pods' equal ones (a pod's decoded strings
	// would otherwise stay, one allocation each, for as long as it is
	// bound).
	d := x.node(newNode)
	newNode = d.name
	ns, name := pod.Namespace, pod.Name
	if len(id) == len(ns)+1+len(name) && id[len(ns)] == '/' && id[:len(ns)] == ns {
		ns, name = id[:len(ns)], id[len(ns)+1:]
	}
	refs := x.shareRefs(podRefs(pod))
	d.put(protocol.Ref{Kind: protocol.KindPod, Namespace: ns, Name: name}, rev)
	// Acquire the new references before releasing the old ones, so an
	// object both use never leaves the document.
	err = x.acquire(newNode, refs, rev, get)
	if old != nil && old.node == newNode {
		x.release(newNode, old.refs, rev)
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" || sa == "default" {
		sa = "default" // one string for every pod of the default account
	}
	x.pods[id] = &podEntry{node: newNode, namespace: ns, uid: pod.UID, serviceAccount: sa, refs: refs, rev: rev, packed: packPod(value), news: news}
	return err
}

// nodeNews fingerprints what a node learns from its pod: all of it but
// the resource version, the managed fields and the status the node
// reports itself (protocol.ServerPodStatus is what it keeps of the
// status). The node reports a pod's status two to four times while it
// starts, and each report, stored, came back to the node as a changed pod
// that it stored and read again, though it never reads its own status
// back from the server but after a restart (and then keeps its own).
func nodeNews(pod *corev1.Pod) ([16]byte, error) {
	c := *pod
	c.ResourceVersion, c.ManagedFields = "", nil
	c.Status = protocol.ServerPodStatus(pod.Status)
	b, err := json.Marshal(&c)
	if err != nil {
		return [16]byte{}, err
	}
	sum := sha256.Sum256(b)
	return [16]byte(sum[:16]), nil
}

// maxSharedRefs bounds the table of shared reference lists; when it is
// full it starts anew (lists handed out before stay valid).
const maxSharedRefs = 4096

// shareRefs returns a list equal to refs that pods with equal
// references share: most pods of a namespace name the same ConfigMaps
// (kube-root-ca.crt, at least). The lists are never modified.
func (x *index) shareRefs(refs []protocol.Ref) []protocol.Ref {
	if len(refs) == 0 {
		return nil
	}
	var b strings.Builder
	for _, r := range refs {
		b.WriteString(r.Kind)
		b.WriteByte(0)
		b.WriteString(r.Namespace)
		b.WriteByte(0)
		b.WriteString(r.Name)
		b.WriteByte(0)
	}
	k := b.String()
	if s, ok := x.refLists[k]; ok {
		return s
	}
	if x.refLists == nil || len(x.refLists) >= maxSharedRefs {
		x.refLists = map[string][]protocol.Ref{}
	}
	x.refLists[k] = refs
	return refs
}

// acquire counts a pod's references for node, adding objects that are
// new to the node's document.
func (x *index) acquire(node string, refs []protocol.Ref, rev int64, get fetch) error {
	var firstErr error
	for _, r := range refs {
		e := x.objs[r]
		if e == nil {
			e = &objEntry{nodes: map[string]int{}}
			x.objs[r] = e
			value, err := get(refKey(r), rev)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if value != nil {
				if e.obj, err = decodeObj(r.Kind, value, rev); err != nil && firstErr == nil {
					firstErr = err
				}
			}
		}
		e.nodes[node]++
		if e.nodes[node] == 1 && e.obj != nil {
			x.node(node).put(r, rev)
			if v := claimVolume(e.obj); v != "" {
				if err := x.acquire(node, []protocol.Ref{volumeRef(v)}, rev, get); err != nil && firstErr == nil {
					firstErr = err
				}
			}
		}
	}
	return firstErr
}

func volumeRef(name string) protocol.Ref {
	return protocol.Ref{Kind: protocol.KindPersistentVolume, Name: name}
}

// claimVolume is the volume a claim object names, "" for anything else.
func claimVolume(obj any) string {
	if c, ok := obj.(*corev1.PersistentVolumeClaim); ok {
		return c.Spec.VolumeName
	}
	return ""
}

// cleanupNode is the node that must remove a deleted local-path
// volume's directory, "" when obj is not such a volume.
func cleanupNode(obj any) string {
	pv, ok := obj.(*corev1.PersistentVolume)
	if !ok || pv.DeletionTimestamp == nil {
		return ""
	}
	for _, f := range pv.Finalizers {
		if f == protocol.LocalPathCleanupFinalizer {
			return pv.Annotations[protocol.LocalPathNodeAnnotation]
		}
	}
	return ""
}

// release undoes acquire.
func (x *index) release(node string, refs []protocol.Ref, rev int64) {
	for _, r := range refs {
		e := x.objs[r]
		if e == nil {
			continue
		}
		e.nodes[node]--
		if e.nodes[node] <= 0 {
			delete(e.nodes, node)
			x.node(node).remove(r, rev)
			if v := claimVolume(e.obj); v != "" {
				x.release(node, []protocol.Ref{volumeRef(v)}, rev)
			}
		}
		if len(e.nodes) == 0 {
			delete(x.objs, r)
		}
	}
}

// applyObj records a ConfigMap's, Secret's, claim's or volume's new value
// (nil: deleted).
func (x *index) applyObj(kind, key string, value []byte, rev int64, get fetch) error {
	r, ok := refFromKey(kind, key)
	if !ok {
		return nil
	}
	if kind != protocol.KindPersistentVolume {
		// Only a pod's reference keeps the entry of a ConfigMap, Secret
		// or claim (cleanupNode is a volume's), so one no pod uses is
		// not decoded: most ConfigMap and Secret writes are of those.
		// The index changes only on the hub's goroutine, which is here.
		x.mu.Lock()
		_, used := x.objs[r]
		x.mu.Unlock()
		if !used {
			return nil
		}
	}
	var obj any
	if value != nil {
		var err error
		if obj, err = decodeObj(kind, value, rev); err != nil {
			return err
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.objs[r]
	clean := cleanupNode(obj)
	if e == nil {
		if clean == "" {
			return nil // no pod uses it
		}
		e = &objEntry{nodes: map[string]int{}}
		x.objs[r] = e
	}
	oldObj := e.obj
	e.obj = obj
	for n := range e.nodes {
		if obj == nil {
			x.node(n).remove(r, rev)
		} else {
			x.node(n).put(r, rev)
		}
	}
	var firstErr error
	if oldVol, newVol := claimVolume(oldObj), claimVolume(obj); oldVol != newVol {
		// A claim bound (or unbound): its nodes now need the other volume.
		for n := range e.nodes {
			if newVol != "" {
				if err := x.acquire(n, []protocol.Ref{volumeRef(newVol)}, rev, get); err != nil && firstErr == nil {
					firstErr = err
				}
			}
			if oldVol != "" {
				x.release(n, []protocol.Ref{volumeRef(oldVol)}, rev)
			}
		}
	}
	if clean != e.cleanup {
		old := e.cleanup
		e.cleanup = clean
		if clean != "" {
			e.nodes[clean]++
			if e.nodes[clean] == 1 {
				x.node(clean).put(r, rev)
			}
		}
		if old != "" {
			x.release(old, []protocol.Ref{r}, rev) // may drop the entry
		}
	}
	if obj == nil && len(e.nodes) == 0 {
		delete(x.objs, r)
	}
	return firstErr
}

func decodeObj(kind string, value []byte, rev int64) (any, error) {
	switch kind {
	case protocol.KindConfigMap:
		cm := &corev1.ConfigMap{}
		if err := json.Unmarshal(value, cm); err != nil {
			return nil, fmt.Errorf("decoding configmap: %w", err)
		}
		cm.ResourceVersion = strconv.FormatInt(rev, 10)
		cm.APIVersion, cm.Kind = "v1", "ConfigMap"
		return cm, nil
	case protocol.KindSecret:
		s := &corev1.Secret{}
		if err := json.Unmarshal(value, s); err != nil {
			return nil, fmt.Errorf("decoding secret: %w", err)
		}
		s.ResourceVersion = strconv.FormatInt(rev, 10)
		s.APIVersion, s.Kind = "v1", "Secret"
		return s, nil
	case protocol.KindPersistentVolumeClaim:
		c := &corev1.PersistentVolumeClaim{}
		if err := json.Unmarshal(value, c); err != nil {
			return nil, fmt.Errorf("decoding persistentvolumeclaim: %w", err)
		}
		c.ResourceVersion = strconv.FormatInt(rev, 10)
		c.APIVersion, c.Kind = "v1", "PersistentVolumeClaim"
		return c, nil
	case protocol.KindPersistentVolume:
		v := &corev1.PersistentVolume{}
		if err := json.Unmarshal(value, v); err != nil {
			return nil, fmt.Errorf("decoding persistentvolume: %w", err)
		}
		v.ResourceVersion = strconv.FormatInt(rev, 10)
		v.APIVersion, v.Kind = "v1", "PersistentVolume"
		return v, nil
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

func refKey(r protocol.Ref) string {
	switch r.Kind {
	case protocol.KindConfigMap:
		return configMapsPrefix + r.Namespace + "/" + r.Name
	case protocol.KindSecret:
		return secretsPrefix + r.Namespace + "/" + r.Name
	case protocol.KindPersistentVolumeClaim:
		return claimsPrefix + r.Namespace + "/" + r.Name
	case protocol.KindPersistentVolume:
		return volumesPrefix + r.Name
	}
	return podsPrefix + r.Namespace + "/" + r.Name
}

func refFromKey(kind, key string) (protocol.Ref, bool) {
	var rest string
	switch kind {
	case protocol.KindConfigMap:
		rest = strings.TrimPrefix(key, configMapsPrefix)
	case protocol.KindSecret:
		rest = strings.TrimPrefix(key, secretsPrefix)
	case protocol.KindPersistentVolumeClaim:
		rest = strings.TrimPrefix(key, claimsPrefix)
	case protocol.KindPersistentVolume:
		name := strings.TrimPrefix(key, volumesPrefix)
		return protocol.Ref{Kind: kind, Name: name}, name != "" && !strings.Contains(name, "/")
	default:
		rest = strings.TrimPrefix(key, podsPrefix)
	}
	ns, name, ok := strings.Cut(rest, "/")
	return protocol.Ref{Kind: kind, Namespace: ns, Name: name}, ok
}

// document returns node's document as a delta over since, or whole when
// since is 0 or too old to tell a delta from; ok is false when nothing
// changed after since. wait is closed at the document's next change.
func (x *index) document(node string, since int64) (doc *protocol.Desired, wait <-chan struct{}) {
	doc, pods, wait := x.documentLocked(node, since)
	// Entries are replaced, never modified, so their pods can be decoded
	// without holding up the events.
	for _, p := range pods {
		pod, err := p.decode()
		if err != nil {
			// It decoded before it was packed: only a bug gets here.
			klog.ErrorS(err, "node sync hub: leaving out a pod it cannot unpack", "node", node, "uid", p.uid)
			continue
		}
		doc.Pods = append(doc.Pods, *pod)
	}
	return doc, wait
}

// documentLocked is document but for the pods, which it returns packed.
func (x *index) documentLocked(node string, since int64) (doc *protocol.Desired, pods []*podEntry, wait <-chan struct{}) {
	x.mu.Lock()
	defer x.mu.Unlock()
	d := x.node(node)
	if since != 0 && since == d.rev {
		return nil, nil, d.changed
	}
	out := &protocol.Desired{APIVersion: protocol.APIVersion, Node: node, Revision: d.rev}
	whole := since == 0 || since < d.floor || since > d.rev
	if !whole {
		out.Since = since
		for _, t := range d.tombstones {
			if t.rev > since {
				out.Removed = append(out.Removed, t.ref)
			}
		}
	}
	for r, rev := range d.entries {
		if !whole && rev <= since {
			continue
		}
		switch r.Kind {
		case protocol.KindPod:
			if p := x.pods[r.Namespace+"/"+r.Name]; p != nil {
				pods = append(pods, p)
			}
		case protocol.KindConfigMap:
			if e := x.objs[r]; e != nil && e.obj != nil {
				out.ConfigMaps = append(out.ConfigMaps, *e.obj.(*corev1.ConfigMap))
			}
		case protocol.KindSecret:
			if e := x.objs[r]; e != nil && e.obj != nil {
				out.Secrets = append(out.Secrets, *e.obj.(*corev1.Secret))
			}
		case protocol.KindPersistentVolumeClaim:
			if e := x.objs[r]; e != nil && e.obj != nil {
				out.PersistentVolumeClaims = append(out.PersistentVolumeClaims, *e.obj.(*corev1.PersistentVolumeClaim))
			}
		case protocol.KindPersistentVolume:
			if e := x.objs[r]; e != nil && e.obj != nil {
				out.PersistentVolumes = append(out.PersistentVolumes, *e.obj.(*corev1.PersistentVolume))
			}
		}
	}
	return out, pods, d.changed
}

// pod returns the pod stored under namespace/name if it is bound to a
// node: a fresh copy the caller may modify.
func (x *index) pod(namespace, name string) (*corev1.Pod, error) {
	x.mu.Lock()
	p := x.pods[namespace+"/"+name]
	x.mu.Unlock()
	if p == nil {
		return nil, nil
	}
	return p.decode()
}

// mayRead reports whether node runs a pod that uses the object.
func (x *index) mayRead(node string, r protocol.Ref) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch r.Kind {
	case protocol.KindPod:
		p := x.pods[r.Namespace+"/"+r.Name]
		return p != nil && p.node == node
	case "ServiceAccount":
		// Tokens for the service accounts the node's pods run as.
		for _, p := range x.pods {
			if p.node == node && p.namespace == r.Namespace && p.serviceAccount == r.Name {
				return true
			}
		}
		return false
	}
	e := x.objs[r]
	return e != nil && e.nodes[node] > 0
}

// podOn reports whether the pod namespace/name with uid is bound to node.
func (x *index) podOn(namespace, name, node string, uid types.UID) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	p := x.pods[namespace+"/"+name]
	return p != nil && p.node == node && p.uid == uid
}
