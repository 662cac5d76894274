package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The eviction API, as kube-apiserver serves it: POST pods/<name>/eviction
// deletes the pod unless that would break a PodDisruptionBudget.
const (
	// maxDisruptedPods bounds status.disruptedPods: evictions the
	// disruption controller has not yet seen through.
	maxDisruptedPods = 2000
	// evictionRetries bounds the retries of a write that lost a race.
	evictionRetries = maxPatchRetries

	violationMessage = "Cannot evict pod as it would violate the pod's disruption budget."
	multiplePDBs     = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
)

var (
	pdbsGVR     = policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets")
	pdbResource = schema.GroupResource{Group: policyv1.GroupName, Resource: "poddisruptionbudget"}
)

// serveEviction evicts a pod: terminal, pending and terminating pods go at
// once; a running pod goes only if the one PodDisruptionBudget selecting it
// allows a disruption, which is taken from the budget (disruptionsAllowed
// decremented, the pod recorded in disruptedPods) in a compare-and-swap
// write before the pod gets the DisruptionTarget condition and is deleted
// with the eviction's deleteOptions.
func (s *Server) serveEviction(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	if r.Method != http.MethodPost {
		writeError(w, apierrors.NewMethodNotSupported(gr, r.Method), gr, ri.name)
		return
	}
	ev, err := s.readEviction(r)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	if ev.Name != ri.name {
		writeError(w, apierrors.NewBadRequest("name in URL does not match name in Eviction object"), gr, ri.name)
		return
	}
	opts, err := evictionDeleteOptions(ev, r.URL.Query()["dryRun"])
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	if err := s.evict(r.Context(), res, ri.namespace, ri.name, opts); err != nil {
		st := toStatus(err, gr, ri.name)
		if d := st.Details; d != nil && d.RetryAfterSeconds > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfterSeconds)))
		}
		writeStatus(w, st)
		return
	}
	writeObjectJSON(w, http.StatusCreated, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

// readEviction decodes a policy/v1 Eviction, or a policy/v1beta1 one
// (same fields), which older clients send.
func (s *Server) readEviction(r *http.Request) (*policyv1.Eviction, error) {
	body, _, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var tm metav1.TypeMeta
	if !bytes.HasPrefix(body, protobufMagic) && json.Unmarshal(body, &tm) == nil && tm.APIVersion == "policy/v1beta1" {
		ev := &policyv1.Eviction{}
		if err := json.Unmarshal(body, ev); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("Eviction in version \"v1beta1\" cannot be handled as a Eviction: %v", err))
		}
		return ev, nil
	}
	dec, _, err := s.dec.decode(body, policyv1.SchemeGroupVersion.WithKind("Eviction"), func() runtime.Object { return &policyv1.Eviction{} }, validationIgnore)
	if err != nil {
		return nil, err
	}
	return dec.(*policyv1.Eviction), nil
}

// evictionDeleteOptions are the eviction's deleteOptions with the
// request's dryRun, which must agree with theirs.
func evictionDeleteOptions(ev *policyv1.Eviction, dryRun []string) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	if ev.DeleteOptions != nil {
		opts = ev.DeleteOptions.DeepCopy()
	}
	switch {
	case len(opts.DryRun) == 0:
		opts.DryRun = dryRun
	case len(dryRun) > 0 && !slices.Equal(opts.DryRun, dryRun):
		return nil, apierrors.NewBadRequest(fmt.Sprintf("Non-matching dry-run options in request and content: %v and %v", dryRun, opts.DryRun))
	}
	for _, d := range opts.DryRun {
		if d != "All" {
			return nil, apierrors.NewBadRequest(`dryRun: Unsupported value: "` + d + `": supported values: "All"`)
		}
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < 0 {
		opts.GracePeriodSeconds = new(int64)
	}
	return opts, nil
}

func (s *Server) evict(ctx context.Context, res *resource, ns, name string, opts *metav1.DeleteOptions) error {
	userRV := opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil && *opts.Preconditions.ResourceVersion != ""
	var pod *corev1.Pod
	for attempt := 0; ; attempt++ {
		_, obj, err := s.load(ctx, res, ns, name)
		if err != nil {
			return err
		}
		pod = obj.(*corev1.Pod)
		if !canIgnorePDB(pod) {
			break
		}
		// Nothing left to protect: the pod has not started, has finished
		// or is already going. Unless the caller pinned a version, pin the
		// one just read, so that a pod starting meanwhile is not evicted
		// unchecked.
		o := opts
		if enforceResourceVersion(pod) && !userRV {
			o = withResourceVersion(opts, pod.ResourceVersion)
		}
		err = s.markAndDeletePod(ctx, res, ns, name, o)
		if apierrors.IsConflict(err) && !userRV && attempt < evictionRetries {
			continue
		}
		return err
	}

	pdbs, err := s.podDisruptionBudgets(ctx, pod)
	if err != nil {
		return err
	}
	if len(pdbs) > 1 {
		return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Message: multiplePDBs}}
	}
	deleteOpts := opts
	if len(pdbs) == 1 {
		pdb := pdbs[0]
		if unhealthyMayGo(pod, pdb) {
			// An unready pod protects nothing the budget counts: delete
			// it without taking from the budget, provided it does not
			// turn ready before the delete (the version pins that).
			if !userRV {
				deleteOpts = withResourceVersion(opts, pod.ResourceVersion)
			}
			err := s.markAndDeletePod(ctx, res, ns, name, deleteOpts)
			if apierrors.IsConflict(err) && !userRV {
				return tooManyRequests(pdb.Name, "The disruption budget %s is still being processed by the server.", 10)
			}
			return err
		}
		if err := s.takeDisruption(ctx, pdb, pod.Name, len(opts.DryRun) > 0); err != nil {
			return err
		}
	}
	return s.markAndDeletePod(ctx, res, ns, name, deleteOpts)
}

// canIgnorePDB: pods that have not started, have finished or are being
// deleted are evicted without consulting any budget.
func canIgnorePDB(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed, corev1.PodPending:
		return true
	}
	return pod.DeletionTimestamp != nil
}

// enforceResourceVersion: a pending pod may start while it is evicted.
func enforceResourceVersion(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		return false
	}
	return pod.DeletionTimestamp == nil
}

func withResourceVersion(opts *metav1.DeleteOptions, rv string) *metav1.DeleteOptions {
	o := opts.DeepCopy()
	if o.Preconditions == nil {
		o.Preconditions = &metav1.Preconditions{}
	}
	o.Preconditions.ResourceVersion = &rv
	return o
}

// unhealthyMayGo reports an unready pod that pdb lets go without a
// disruption: always under AlwaysAllow, and under IfHealthyBudget (the
// default) while the application is as healthy as the budget wants.
func unhealthyMayGo(pod *corev1.Pod, pdb *policyv1.PodDisruptionBudget) bool {
	if podReady(pod) {
		return false
	}
	if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil && *p == policyv1.AlwaysAllow {
		return true
	}
	return pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podDisruptionBudgets lists the budgets in the pod's namespace that
// select it. A budget with an empty or invalid selector selects no pod
// here.
func (s *Server) podDisruptionBudgets(ctx context.Context, pod *corev1.Pod) ([]*policyv1.PodDisruptionBudget, error) {
	res := s.byGVR[pdbsGVR]
	if res == nil {
		return nil, nil
	}
	prefix := res.listPrefix(pod.Namespace)
	page, err := s.store.List(ctx, prefix, prefixEnd(prefix), 0, 0)
	if err != nil {
		return nil, err
	}
	var out []*policyv1.PodDisruptionBudget
	for _, kv := range page.KVs {
		obj, err := res.decodeStored(kv)
		if err != nil {
			return nil, err
		}
		if pdb := obj.(*policyv1.PodDisruptionBudget); pdbSelects(pdb, pod) {
			out = append(out, pdb)
		}
	}
	return out, nil
}

func pdbSelects(pdb *policyv1.PodDisruptionBudget, pod *corev1.Pod) bool {
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	return err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels))
}

// takeDisruption takes one disruption from pdb for pod, in a write that
// fails if the budget changed since it was read; on such a conflict it
// reads the budget again and retries.
func (s *Server) takeDisruption(ctx context.Context, pdb *policyv1.PodDisruptionBudget, pod string, dryRun bool) error {
	res := s.byGVR[pdbsGVR]
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			_, obj, err := s.load(ctx, res, pdb.Namespace, pdb.Name)
			if err != nil {
				return err
			}
			pdb = obj.(*policyv1.PodDisruptionBudget)
		}
		updated, err := decrementBudget(pdb, pod, time.Now())
		if err != nil || dryRun {
			return err
		}
		rev, err := strconv.ParseInt(pdb.ResourceVersion, 10, 64)
		if err != nil {
			return err
		}
		b, err := res.encodeStored(updated)
		if err != nil {
			return err
		}
		key := res.key(pdb.Namespace, pdb.Name)
		s.recent.forget(key)
		_, _, err = s.store.Update(ctx, key, b, rev, 0)
		if err == nil {
			return nil
		}
		if !isConflictClass(err) {
			return err
		}
		if attempt >= evictionRetries {
			// Others keep winning the race for this budget: the client
			// should come back later, as after any 429.
			return tooManyRequests(pdb.Name, "The disruption budget %s is still being processed by the server.", 10)
		}
	}
}

// decrementBudget is the budget after one disruption for pod at now, or
// the error the eviction answers with when the budget cannot give one.
func decrementBudget(pdb *policyv1.PodDisruptionBudget, pod string, now time.Time) (*policyv1.PodDisruptionBudget, error) {
	st := &pdb.Status
	switch {
	case st.ObservedGeneration < pdb.Generation:
		return nil, tooManyRequests(pdb.Name, "The disruption budget %s is still being processed by the server.", 10)
	case st.DisruptionsAllowed < 0:
		return nil, apierrors.NewForbidden(pdbResource, pdb.Name, errors.New("pdb disruptions allowed is negative"))
	case len(st.DisruptedPods) > maxDisruptedPods:
		return nil, apierrors.NewForbidden(pdbResource, pdb.Name, errors.New("DisruptedPods map too big - too many evictions not confirmed by PDB controller"))
	case st.DisruptionsAllowed == 0:
		return nil, tooManyRequests(pdb.Name, fmt.Sprintf("The disruption budget %%s needs %d healthy pods and has %d currently", st.DesiredHealthy, st.CurrentHealthy), 0)
	}
	out := pdb.DeepCopy()
	out.Status.DisruptionsAllowed--
	if out.Status.DisruptionsAllowed == 0 {
		apimeta.SetStatusCondition(&out.Status.Conditions, metav1.Condition{
			Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse, Reason: policyv1.InsufficientPodsReason,
			ObservedGeneration: out.Status.ObservedGeneration, LastTransitionTime: metav1.NewTime(now),
		})
	}
	if out.Status.DisruptedPods == nil {
		out.Status.DisruptedPods = map[string]metav1.Time{}
	}
	out.Status.DisruptedPods[pod] = metav1.NewTime(now)
	return out, nil
}

// tooManyRequests is the 429 of an eviction the budget refuses, with a
// DisruptionTarget cause saying why (format takes the budget's name).
func tooManyRequests(pdb, format string, retryAfter int) error {
	err := apierrors.NewTooManyRequests(violationMessage, retryAfter)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes,
		metav1.StatusCause{Type: policyv1.DisruptionBudgetCause, Message: fmt.Sprintf(format, pdb)})
	return err
}

// markAndDeletePod gives the pod the DisruptionTarget condition, so that
// its controller and its node know why it goes, then deletes it with opts.
// A dry run writes nothing.
func (s *Server) markAndDeletePod(ctx context.Context, res *resource, ns, name string, opts *metav1.DeleteOptions) error {
	pinned := opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil && *opts.Preconditions.ResourceVersion != ""
	for attempt := 0; len(opts.DryRun) == 0; attempt++ {
		cur, obj, err := s.load(ctx, res, ns, name)
		if err != nil {
			return err
		}
		pod := obj.(*corev1.Pod)
		gr := groupResource(res)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != "" && *p.UID != pod.UID {
				return apierrors.NewConflict(gr, name, fmt.Errorf("the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", *p.UID, pod.UID))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != "" && *p.ResourceVersion != pod.ResourceVersion {
				return apierrors.NewConflict(gr, name, fmt.Errorf("the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified", *p.ResourceVersion, pod.ResourceVersion))
			}
		}
		if setDisruptionTarget(pod, time.Now()) {
			b, err := res.encodeStored(pod)
			if err != nil {
				return err
			}
			s.recent.forget(cur.Key)
			rev, _, err := s.store.Update(ctx, cur.Key, b, cur.ModRevision, 0)
			if isConflictClass(err) && !pinned && attempt < evictionRetries {
				continue // another write to the pod: mark the new version
			}
			if isConflictClass(err) {
				return apierrors.NewConflict(gr, name, errors.New(conflictMessage))
			}
			if err != nil {
				return err
			}
			if pinned {
				// The version the caller pinned is now ours.
				opts = withResourceVersion(opts, strconv.FormatInt(rev, 10))
			}
		}
		break
	}
	_, _, err := s.deleteObject(ctx, res, ns, name, opts)
	return err
}

// setDisruptionTarget adds or refreshes the DisruptionTarget condition the
// eviction API sets, and reports whether the pod changed.
func setDisruptionTarget(pod *corev1.Pod, now time.Time) bool {
	c := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting", LastTransitionTime: metav1.NewTime(now)}
	for i := range pod.Status.Conditions {
		old := &pod.Status.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		if *old == c {
			return false
		}
		*old = c
		return true
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
	return true
}
