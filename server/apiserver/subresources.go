package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"

	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// scaleMapping reads and writes the replica count behind /scale.
type scaleMapping struct {
	get func(obj runtime.Object) (spec, status int32, selector *metav1.LabelSelector)
	set func(obj runtime.Object, replicas int32)
}

var replicasScale = &scaleMapping{
	get: func(obj runtime.Object) (int32, int32, *metav1.LabelSelector) {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			return deref(o.Spec.Replicas, 1), o.Status.Replicas, o.Spec.Selector
		case *appsv1.ReplicaSet:
			return deref(o.Spec.Replicas, 1), o.Status.Replicas, o.Spec.Selector
		case *appsv1.StatefulSet:
			return deref(o.Spec.Replicas, 1), o.Status.Replicas, o.Spec.Selector
		}
		return 0, 0, nil
	},
	set: func(obj runtime.Object, n int32) {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			o.Spec.Replicas = &n
		case *appsv1.ReplicaSet:
			o.Spec.Replicas = &n
		case *appsv1.StatefulSet:
			o.Spec.Replicas = &n
		}
	},
}

func deref(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

func (s *Server) scaleOf(res *resource, obj runtime.Object) *autoscalingv1.Scale {
	acc, _ := meta.Accessor(obj)
	spec, status, sel := res.scale.get(obj)
	sc := &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: acc.GetName(), Namespace: acc.GetNamespace(), UID: acc.GetUID(),
			ResourceVersion: acc.GetResourceVersion(), CreationTimestamp: acc.GetCreationTimestamp()},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status},
	}
	if sel != nil {
		if ls, err := metav1.LabelSelectorAsSelector(sel); err == nil {
			sc.Status.Selector = ls.String()
		}
	}
	return sc
}

// serveScale handles GET, PUT and PATCH on <resource>/<name>/scale.
func (s *Server) serveScale(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	ctx := r.Context()
	o, err := parseWriteOptions(r, false)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	var body []byte
	var pt string
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		body, _, err = readBody(r)
	case http.MethodPatch:
		body, pt, err = readBody(r, patchTypes[:3]...)
	default:
		err = apierrors.NewMethodNotSupported(gr, r.Method)
	}
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	newScale := func() runtime.Object { return &autoscalingv1.Scale{} }
	for attempt := 0; ; attempt++ {
		cur, obj, err := s.load(ctx, res, ri.namespace, ri.name)
		if err != nil {
			writeError(w, err, gr, ri.name)
			return
		}
		sc := s.scaleOf(res, obj)
		if r.Method == http.MethodGet {
			writeObjectJSON(w, http.StatusOK, sc)
			return
		}
		in := body
		if r.Method == http.MethodPatch {
			cj, _ := encodeObject(sc.DeepCopy(), scaleGVK)
			if in, err = applyPatchBytes(types.PatchType(pt), cj, body, &autoscalingv1.Scale{}); err != nil {
				writeError(w, err, gr, ri.name)
				return
			}
		}
		dec, _, err := s.dec.decode(in, scaleGVK, newScale, o.fv)
		if err != nil {
			writeError(w, err, gr, ri.name)
			return
		}
		want := dec.(*autoscalingv1.Scale)
		if want.ResourceVersion != "" && want.ResourceVersion != sc.ResourceVersion {
			writeError(w, apierrors.NewConflict(gr, ri.name, errors.New(conflictMessage)), gr, ri.name)
			return
		}
		if want.Spec.Replicas < 0 {
			writeError(w, apierrors.NewInvalid(scaleGVK.GroupKind(), ri.name, fieldErrorList{fieldInvalid("spec.replicas", want.Spec.Replicas, "must be greater than or equal to 0")}), gr, ri.name)
			return
		}
		updated := obj.DeepCopyObject()
		res.scale.set(updated, want.Spec.Replicas)
		out, err := s.commitUpdate(ctx, res, "", updated, obj, cur, o, true)
		if isConflict(err) && (want.ResourceVersion == "" || r.Method == http.MethodPatch) && attempt < maxPatchRetries {
			continue
		}
		if err != nil {
			writeError(w, err, gr, ri.name)
			return
		}
		writeObjectJSON(w, http.StatusOK, s.scaleOf(res, out))
		return
	}
}

func isConflict(err error) bool {
	return err != nil && (apierrors.IsConflict(err) || errors.Is(err, errConflictClass))
}

// serveBinding assigns a pod to a node (POST pods/<name>/binding), as the
// scheduler does. It follows kube-apiserver's BindingREST: the Binding is
// decoded with the request's field validation and validated
// (ValidatePodBinding), its name must match the URL, its uid and
// resourceVersion are preconditions on the pod, ?dryRun=All checks
// everything and stores nothing, and the pod is then written as a guarded
// update of spec.nodeName, the Binding's annotations and PodScheduled
// (not a pod update: spec.nodeName is immutable there, and kube-apiserver
// leaves the pod's managedFields to the writes that go through it).
func (s *Server) serveBinding(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	if r.Method != http.MethodPost {
		writeError(w, apierrors.NewMethodNotSupported(gr, r.Method), gr, ri.name)
		return
	}
	o, err := parseWriteOptions(r, false)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	body, _, err := readBody(r)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	bindingGVK := corev1.SchemeGroupVersion.WithKind("Binding")
	dec, warnings, err := s.dec.decode(body, bindingGVK, func() runtime.Object { return &corev1.Binding{} }, o.fv)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	for _, warning := range warnings {
		w.Header().Add("Warning", `299 - "`+warning+`"`)
	}
	b := dec.(*corev1.Binding)
	if b.Name != "" && b.Name != ri.name {
		writeError(w, apierrors.NewBadRequest("name in URL does not match name in Binding object"), gr, ri.name)
		return
	}
	if b.Namespace != "" && b.Namespace != ri.namespace {
		writeError(w, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"), gr, ri.name)
		return
	}
	var errs fieldErrorList
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		errs = append(errs, fieldNotSupported("target.kind", b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if b.Target.Name == "" {
		errs = append(errs, fieldRequired("target.name", ""))
	}
	if len(errs) > 0 {
		writeError(w, apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, ri.name, errs), gr, ri.name)
		return
	}
	ctx := r.Context()
	key := res.key(ri.namespace, ri.name)
	// The pod usually comes from the recent-writes cache: the scheduler
	// binds pods moments after they were created through this server. A
	// cached value is only trusted as far as the compare-and-swap trusts
	// it: a refusal it would cause is checked against the datastore first.
	// A miss is not cached, so that binding a backlog in creation order
	// does not push out the pods still to be bound.
	cur, cached := s.recent.get(key)
	fromStore := !cached // cur is the datastore's (or is to be read from it)
	for attempt := 0; ; attempt++ {
		if fromStore && cur.ModRevision == 0 {
			kv, _, err := s.store.Get(ctx, key)
			if err != nil {
				if errors.Is(err, errdefs.ErrNotFound) {
					s.recent.forget(key)
				}
				writeError(w, err, gr, ri.name)
				return
			}
			cur = kv
		}
		obj, err := res.decodeStored(cur)
		if err != nil {
			writeError(w, err, gr, ri.name)
			return
		}
		pod := obj.(*corev1.Pod)
		if refused := bindRefusal(b, pod, cur.ModRevision, gr, ri.name); refused != nil {
			if !fromStore {
				cur, fromStore = storage.KV{}, true
				continue
			}
			writeError(w, refused, gr, ri.name)
			return
		}
		pod.Spec.NodeName = b.Target.Name
		for k, v := range b.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		setCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
		if o.dryRun {
			writeObjectJSON(w, http.StatusCreated, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated})
			return
		}
		enc, err := res.encodeStored(pod)
		if err != nil {
			writeError(w, err, gr, ri.name)
			return
		}
		rev, now, err := s.store.Update(ctx, key, enc, cur.ModRevision, 0)
		if err != nil {
			s.recent.forget(key)
			// A lost race is retried on what the datastore holds now (the
			// failed swap returns it): the preconditions, checked again,
			// refuse it if the pod was bound or replaced meanwhile.
			if isConflictClass(err) && (!fromStore || attempt < maxPatchRetries) {
				cur, fromStore = now, true
				if now.ModRevision != 0 {
					s.recent.put(now)
				}
				continue
			}
			writeError(w, err, gr, ri.name)
			return
		}
		// The agent's first status write for the pod follows: it finds the
		// pod here instead of reading it back.
		s.recent.put(storage.KV{Key: key, Value: enc, ModRevision: rev})
		writeObjectJSON(w, http.StatusCreated, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated})
		return
	}
}

// bindRefusal checks a Binding against the pod at revision rev: its uid
// and resourceVersion preconditions, and that the pod is neither being
// deleted nor assigned already.
func bindRefusal(b *corev1.Binding, pod *corev1.Pod, rev int64, gr schema.GroupResource, name string) error {
	if b.UID != "" && b.UID != pod.UID {
		return apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
	}
	if b.ResourceVersion != "" && b.ResourceVersion != strconv.FormatInt(rev, 10) {
		return apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", b.ResourceVersion, rev))
	}
	if pod.DeletionTimestamp != nil {
		return apierrors.NewConflict(gr, name, errors.New("pod is being deleted, cannot be assigned to a host"))
	}
	if pod.Spec.NodeName != "" {
		return apierrors.NewConflict(gr, name, fmt.Errorf("pod %s is already assigned to node %q", name, pod.Spec.NodeName))
	}
	return nil
}

func setCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			pod.Status.Conditions[i] = c
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}

// serveNodeStream answers pods/log, exec, attach and portforward by
// proxying them to the agent of the pod's node, through the connection the
// agent opened (Config.Nodes). Upgrades (WebSocket, SPDY) pass through.
func (s *Server) serveNodeStream(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	_, obj, err := s.load(r.Context(), res, ri.namespace, ri.name)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("%s/%s is not available", gr.Resource, ri.subresource)), gr, ri.name)
		return
	}
	if pod.Spec.NodeName == "" {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", ri.name)), gr, ri.name)
		return
	}
	unavailable := apierrors.NewServiceUnavailable(fmt.Sprintf("no connection to the agent on node %q: pods/%s is not available", pod.Spec.NodeName, ri.subresource))
	if s.cfg.Nodes == nil {
		writeError(w, unavailable, gr, ri.name)
		return
	}
	target, err := agentURL(pod, ri.subresource, r.URL.Query())
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target
			pr.Out.Host = ""
			// The agent needs none of the caller's credentials.
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("Cookie")
			for k := range pr.Out.Header {
				if strings.HasPrefix(k, "Impersonate-") {
					pr.Out.Header.Del(k)
				}
			}
		},
		Transport:     s.nodeTransport(),
		FlushInterval: -1, // followed logs go out line by line
		ErrorLog:      proxyErrorLog,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client went away
			}
			if errors.As(err, new(*nodeDialError)) {
				writeError(w, unavailable, gr, ri.name)
				return
			}
			writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("error talking to the agent on node %q: %v", pod.Spec.NodeName, err)), gr, ri.name)
		},
	}
	proxy.ServeHTTP(w, r)
}

// finalizeNamespace stores a namespace whose spec.finalizers changed, and
// removes it when nothing holds it any more.
func (s *Server) finalizeNamespace(w http.ResponseWriter, r *http.Request, res *resource, out outputKind, ns *corev1.Namespace, old runtime.Object, cur storage.KV, o writeOptions) {
	gr := groupResource(res)
	if ns.ResourceVersion != "" && ns.ResourceVersion != old.(*corev1.Namespace).ResourceVersion {
		writeError(w, apierrors.NewConflict(gr, ns.Name, errors.New(conflictMessage)), gr, ns.Name)
		return
	}
	ctx := r.Context()
	s.recent.forget(cur.Key)
	if ns.DeletionTimestamp != nil && len(ns.Spec.Finalizers) == 0 && len(ns.Finalizers) == 0 {
		if !o.dryRun {
			if _, _, err := s.store.Delete(ctx, cur.Key, cur.ModRevision); err != nil {
				writeError(w, err, gr, ns.Name)
				return
			}
		}
		s.writeObject(w, r, res, out, http.StatusOK, ns)
		return
	}
	b, err := res.encodeStored(ns)
	if err != nil {
		writeError(w, err, gr, ns.Name)
		return
	}
	if !o.dryRun {
		rev, _, err := s.store.Update(ctx, cur.Key, b, cur.ModRevision, 0)
		if err != nil {
			writeError(w, err, gr, ns.Name)
			return
		}
		setRV(ns, rev)
	}
	s.writeObject(w, r, res, out, http.StatusOK, ns)
}
