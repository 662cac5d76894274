package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/skiff-io/skiff/server/errdefs"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

var patchTypes = []string{
	string(types.JSONPatchType), string(types.MergePatchType),
	string(types.StrategicMergePatchType), string(types.ApplyYAMLPatchType), string(types.ApplyCBORPatchType),
}

// maxPatchRetries bounds retries of a patch that raced with another write;
// a patch without a resourceVersion applies to whatever is current.
const maxPatchRetries = 5

// patch serves PATCH on an object or its status subresource.
func (s *Server) patch(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	body, pt, err := readBody(r, patchTypes[:4]...)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	apply := pt == string(types.ApplyYAMLPatchType)
	o, err := parseWriteOptions(r, apply)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	force := isSet(r.URL.Query(), "force")
	if force && !apply {
		writeError(w, apierrors.NewBadRequest("force may only be specified with apply patches"), gr, ri.name)
		return
	}
	var result runtime.Object
	var code int
	for attempt := 0; ; attempt++ {
		var warnings []string
		result, code, warnings, err = s.patchOnce(r.Context(), res, ri, types.PatchType(pt), body, o, force)
		if errors.Is(err, errdefs.ErrConflict) && attempt < maxPatchRetries {
			continue
		}
		addWarnings(w, warnings)
		break
	}
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	s.writeObject(w, r, res, out, code, result)
}

func (s *Server) patchOnce(ctx context.Context, res *resource, ri requestInfo, pt types.PatchType, body []byte, o writeOptions, force bool) (runtime.Object, int, []string, error) {
	cur, err := s.current(ctx, res.key(ri.namespace, ri.name), "", true)
	if errors.Is(err, errdefs.ErrNotFound) && pt == types.ApplyYAMLPatchType && ri.subresource == "" {
		obj, warnings, err := s.applyNew(ctx, res, ri, body, o, force)
		return obj, http.StatusCreated, warnings, err
	}
	if err != nil {
		return nil, 0, nil, err
	}
	old, err := res.decodeStored(cur)
	if err != nil {
		return nil, 0, nil, err
	}
	if pt == types.ApplyYAMLPatchType {
		obj, err := s.applyPatch(res, ri.subresource, old, body, o, force)
		if err != nil {
			return nil, 0, nil, err
		}
		out, err := s.commitUpdate(ctx, res, ri.subresource, obj, old, cur, o, false)
		return out, http.StatusOK, nil, err
	}
	oldJSON, err := encodeObject(old.DeepCopyObject(), res.gvk)
	if err != nil {
		return nil, 0, nil, err
	}
	patched, err := applyPatchBytes(pt, oldJSON, body, res.newObj())
	if err != nil {
		return nil, 0, nil, err
	}
	obj, warnings, err := s.dec.decode(patched, res.gvk, res.newObj, o.fv)
	if err != nil {
		return nil, 0, nil, err
	}
	acc, _ := meta.Accessor(obj)
	if acc.GetName() != ri.name {
		return nil, 0, nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", acc.GetName(), ri.name))
	}
	// A patch that does not name a resourceVersion applies to the current
	// object; one that does is a precondition.
	out, err := s.commitUpdate(ctx, res, ri.subresource, obj, old, cur, o, true)
	return out, http.StatusOK, warnings, err
}

// applyPatchBytes applies a JSON, merge or strategic merge patch.
func applyPatchBytes(pt types.PatchType, original, patch []byte, schema runtime.Object) ([]byte, error) {
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		out, err := p.Apply(original)
		if err != nil {
			return nil, unprocessable(err)
		}
		return out, nil
	case types.MergePatchType:
		out, err := jsonpatch.MergePatch(original, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	case types.StrategicMergePatchType:
		var pm map[string]interface{}
		if err := json.Unmarshal(patch, &pm); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
		}
		out, err := strategicpatch.StrategicMergePatch(original, patch, schema)
		if err != nil {
			return nil, unprocessable(err)
		}
		return out, nil
	}
	return nil, unsupportedMediaType(string(pt))
}

// applyPatch merges a server-side apply configuration into the live object.
func (s *Server) applyPatch(res *resource, sub string, live runtime.Object, body []byte, o writeOptions, force bool) (runtime.Object, error) {
	patchObj := &unstructured.Unstructured{}
	if err := json.Unmarshal(body, &patchObj.Object); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	if gvk := patchObj.GroupVersionKind(); gvk != res.gvk {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s) or kind (%s)", gvk.GroupVersion(), res.gvk.GroupVersion(), res.gvk.Kind))
	}
	if patchObj.GetName() != "" && patchObj.GetName() != nameOf(live) {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", patchObj.GetName(), nameOf(live)))
	}
	if o.fv == validationStrict {
		// Unknown fields are checked by decoding the configuration strictly.
		if _, _, err := s.dec.decode(body, res.gvk, res.newObj, validationStrict); err != nil {
			return nil, err
		}
	}
	fm, err := s.managers.get(res.gvk, sub)
	if err != nil {
		return nil, err
	}
	live.GetObjectKind().SetGroupVersionKind(res.gvk)
	out, err := fm.Apply(live, patchObj, o.manager, force)
	if err != nil {
		var se apierrors.APIStatus
		if errors.As(err, &se) {
			return nil, err
		}
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return out, nil
}

// applyNew creates an object from its first server-side apply.
func (s *Server) applyNew(ctx context.Context, res *resource, ri requestInfo, body []byte, o writeOptions, force bool) (runtime.Object, []string, error) {
	live := res.newObj()
	acc, _ := meta.Accessor(live)
	acc.SetName(ri.name)
	acc.SetNamespace(ri.namespace)
	obj, err := s.applyPatch(res, "", live, body, o, force)
	if err != nil {
		return nil, nil, err
	}
	// The apply result already carries managed fields; keep them through
	// the create path.
	created, err := s.createApplied(ctx, res, ri.namespace, obj, o)
	return created, nil, err
}

func nameOf(obj runtime.Object) string {
	acc, _ := meta.Accessor(obj)
	return acc.GetName()
}
