package apiserver

import (
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type mediaType struct {
	typ    string
	params map[string]string
}

// parseAccept splits an Accept header into media types with parameters,
// in the client's order.
func parseAccept(h string) []mediaType {
	var out []mediaType
	for _, part := range strings.Split(h, ",") {
		fields := strings.Split(part, ";")
		mt := mediaType{typ: strings.ToLower(strings.TrimSpace(fields[0])), params: map[string]string{}}
		if mt.typ == "" {
			continue
		}
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			mt.params[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
		}
		out = append(out, mt)
	}
	return out
}

// outputKind is how the response body is rendered.
type outputKind int

const (
	outputObject outputKind = iota
	outputTable
	outputPartial // PartialObjectMetadata(List)
)

// negotiate picks the response form from Accept. Only JSON is served;
// a client that accepts nothing else gets 406.
func negotiate(r *http.Request) (outputKind, error) {
	h := r.Header.Get("Accept")
	if h == "" {
		return outputObject, nil
	}
	for _, mt := range parseAccept(h) {
		switch mt.typ {
		case "application/json", "*/*", "application/*", "application/yaml":
		default:
			continue
		}
		switch mt.params["as"] {
		case "":
			return outputObject, nil
		case "Table":
			if mt.params["g"] == "meta.k8s.io" && (mt.params["v"] == "v1" || mt.params["v"] == "v1beta1") {
				return outputTable, nil
			}
		case "PartialObjectMetadata", "PartialObjectMetadataList":
			if mt.params["g"] == "meta.k8s.io" && (mt.params["v"] == "v1" || mt.params["v"] == "v1beta1") {
				return outputPartial, nil
			}
		}
	}
	return 0, &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotAcceptable, Reason: metav1.StatusReasonNotAcceptable,
		Message: "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io",
	}}
}
