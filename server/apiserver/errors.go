package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/skiff-io/skiff/server/errdefs"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
)

// toStatus is the one place where error classes become HTTP codes and
// metav1.Status reasons. gr and name describe the object the request was
// about, for the message.
func toStatus(err error, gr schema.GroupResource, name string) *metav1.Status {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		return &st
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), errors.Is(err, errdefs.ErrTooLarge):
		return &apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxBodyBytes)).ErrStatus
	case errors.Is(err, errdefs.ErrNotFound):
		return &apierrors.NewNotFound(gr, name).ErrStatus
	case errors.Is(err, errdefs.ErrAlreadyExists):
		return &apierrors.NewAlreadyExists(gr, name).ErrStatus
	case errors.Is(err, errdefs.ErrConflict):
		return &apierrors.NewConflict(gr, name, errors.New(conflictMessage)).ErrStatus
	case errors.Is(err, errdefs.ErrGone):
		return &apierrors.NewResourceExpired(err.Error()).ErrStatus
	case errors.Is(err, errdefs.ErrInvalid):
		return &apierrors.NewBadRequest(err.Error()).ErrStatus
	case errors.Is(err, errdefs.ErrUnavailable):
		return &apierrors.NewServiceUnavailable(err.Error()).ErrStatus
	case errors.Is(err, context.DeadlineExceeded):
		return &apierrors.NewTimeoutError(err.Error(), 1).ErrStatus
	}
	return &apierrors.NewInternalError(err).ErrStatus
}

const conflictMessage = "the object has been modified; please apply your changes to the latest version and try again"

// writeStatus writes a metav1.Status with its code.
func writeStatus(w http.ResponseWriter, st *metav1.Status) {
	st.Kind = "Status"
	st.APIVersion = "v1"
	if st.Status == "" {
		st.Status = metav1.StatusFailure
	}
	code := int(st.Code)
	if code == 0 {
		code = http.StatusInternalServerError
		st.Code = int32(code)
	}
	b, _ := json.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, err error, gr schema.GroupResource, name string) {
	st := toStatus(err, gr, name)
	if st.Code >= 500 {
		klog.ErrorS(err, "request failed", "resource", gr.String(), "name", name)
	}
	writeStatus(w, st)
}

func unsupportedMediaType(ct string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
		Message: fmt.Sprintf("the body of the request was in an unknown format - %s", ct),
	}}
}

// unprocessable is a patch that is well-formed but cannot be applied.
func unprocessable(err error) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid,
		Message: err.Error(),
	}}
}
