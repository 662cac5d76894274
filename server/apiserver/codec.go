package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// maxBodyBytes is kube-apiserver's limit for a request body (3 MiB).
const maxBodyBytes = 3 * 1024 * 1024

// readBody reads a request body as JSON, converting YAML, and rejects
// media types the server cannot decode.
func readBody(r *http.Request, allowed ...string) ([]byte, string, error) {
	ct := r.Header.Get("Content-Type")
	mt := "application/json"
	if ct != "" && ct != mt { // client-go sends mt itself: nothing to parse
		var err error
		mt, _, err = mime.ParseMediaType(ct)
		if err != nil {
			return nil, "", unsupportedMediaType(ct)
		}
	}
	if len(allowed) == 0 {
		allowed = []string{"application/json", "application/yaml", protobufType, "*/*"}
	}
	ok := false
	for _, a := range allowed {
		if a == mt {
			ok = true
		}
	}
	if !ok {
		return nil, "", &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
			Message: fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s", strings.Join(allowed, ", ")),
		}}
	}
	body, err := readAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes), r.ContentLength)
	if err != nil {
		return nil, "", err
	}
	if mt == "application/yaml" || mt == "application/apply-patch+yaml" {
		// YAML is a superset of JSON; convert so one decoder handles both.
		j, err := yaml.YAMLToJSON(body)
		if err != nil {
			return nil, "", apierrors.NewBadRequest(fmt.Sprintf("error converting YAML to JSON: %v", err))
		}
		body = j
	}
	return body, mt, nil
}

// readAll is io.ReadAll with the buffer sized from the request's
// Content-Length when it has one (clients send it for every body they
// hold whole), so a body is read into one allocation instead of a
// doubling series from 512 bytes.
func readAll(r io.Reader, contentLength int64) ([]byte, error) {
	if contentLength <= 0 || contentLength > maxBodyBytes {
		return io.ReadAll(r)
	}
	// One byte more than announced, so that the read that finds the end
	// has room and does not grow the buffer.
	b := make([]byte, 0, contentLength+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // a longer body than announced
		}
	}
}

// decoder decodes request bodies into typed objects, strictly so that
// unknown and duplicate fields are reported.
type decoder struct {
	scheme *runtime.Scheme
	proto  *protobuf.Serializer
}

// protobufType is what client-go's typed clients send by default. Request
// bodies in it are accepted; responses are always JSON.
const protobufType = "application/vnd.kubernetes.protobuf"

func newDecoder(s *runtime.Scheme) *decoder {
	return &decoder{
		scheme: s,
		proto:  protobuf.NewSerializer(s, s),
	}
}

// protobufMagic starts every Kubernetes protobuf envelope.
var protobufMagic = []byte{0x6b, 0x38, 0x73, 0x00}

// fieldValidation is the ?fieldValidation= directive.
type fieldValidation string

const (
	validationIgnore fieldValidation = "Ignore"
	validationWarn   fieldValidation = "Warn"
	validationStrict fieldValidation = "Strict"
)

func parseFieldValidation(v string) (fieldValidation, error) {
	switch v {
	case "", "Warn":
		return validationWarn, nil
	case "Ignore":
		return validationIgnore, nil
	case "Strict":
		return validationStrict, nil
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation must be one of Ignore, Warn, Strict, got %q", v))
}

// decode decodes body into a new object of gvk. Unknown or duplicate
// fields fail under Strict and become warnings under Warn.
func (d *decoder) decode(body []byte, gvk schema.GroupVersionKind, newObj func() runtime.Object, fv fieldValidation) (runtime.Object, []string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil, apierrors.NewBadRequest("the request body is empty")
	}
	into := newObj()
	var obj runtime.Object
	var actual *schema.GroupVersionKind
	var err error
	if bytes.HasPrefix(body, protobufMagic) {
		obj, actual, err = d.proto.Decode(body, &gvk, into)
	} else if obj, actual, err = decodeJSONKnownKind(body, gvk, into); obj == nil {
		obj, actual, err = decodeJSON(body, gvk, newObj())
	}
	var warnings []string
	if err != nil {
		if runtime.IsStrictDecodingError(err) && obj != nil {
			if fv == validationStrict {
				return nil, nil, apierrors.NewBadRequest(err.Error())
			}
			if fv == validationWarn {
				warnings = strictWarnings(err)
			}
		} else if runtime.IsNotRegisteredError(err) || (actual != nil && *actual != gvk) {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", actual.GroupVersion(), gvk.GroupVersion()))
		} else {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err))
		}
	}
	if actual != nil && *actual != gvk {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", actual.GroupVersion(), gvk.GroupVersion()))
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, warnings, nil
}

func strictWarnings(err error) []string {
	var out []string
	if se, ok := runtime.AsStrictDecodingError(err); ok {
		for _, e := range se.Errors() {
			out = append(out, e.Error())
		}
	}
	return out
}

func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", msg))
	}
}

// encodeObject marshals a typed object with its apiVersion and kind.
func encodeObject(obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return json.Marshal(obj)
}

// writeJSON writes an already encoded object.
func writeJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(body)
	_, _ = w.Write(newline)
}

// decodeJSONKnownKind is decodeJSON for the body client-go sends: one
// that starts with the endpoint's own kind and apiVersion, in that order.
// Those are then known without first reading the whole body for them
// (DefaultMetaFactory.Interpret is a full JSON pass of its own), so the
// body is read once. It answers only when the strict decode finds nothing
// to report (no syntax error, unknown or duplicate field, so no other
// kind or apiVersion either); otherwise it returns a nil object and
// decodeJSON decodes the body again, with its own errors.
func decodeJSONKnownKind(body []byte, want schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	prefix := `{"kind":"` + want.Kind + `","apiVersion":"` + want.GroupVersion().String() + `",`
	if !bytes.HasPrefix(body, []byte(prefix)) {
		return nil, nil, nil
	}
	strictErrs, err := sjson.UnmarshalStrict(body, into, sjson.DisallowDuplicateFields, sjson.DisallowUnknownFields)
	if err != nil || len(strictErrs) > 0 || into.GetObjectKind().GroupVersionKind() != want {
		return nil, nil, nil
	}
	return into, &want, nil
}

// decodeJSON decodes a JSON body into a typed object in one strict pass:
// unknown and duplicate fields come back as a strict decoding error next to
// the decoded object, as the apimachinery serializer reports them, without
// decoding the body twice (once leniently, once strictly) as it does.
func decodeJSON(body []byte, want schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	actual, err := kjson.DefaultMetaFactory.Interpret(body)
	if err != nil {
		return nil, nil, err
	}
	// Missing apiVersion or kind default to the endpoint's, as the
	// serializer does.
	if actual.Kind == "" {
		actual.Kind = want.Kind
	}
	if actual.Group == "" && actual.Version == "" {
		actual.Group, actual.Version = want.Group, want.Version
	}
	if *actual != want {
		return nil, actual, nil
	}
	strictErrs, err := sjson.UnmarshalStrict(body, into, sjson.DisallowDuplicateFields, sjson.DisallowUnknownFields)
	if err != nil {
		return nil, actual, err
	}
	if len(strictErrs) > 0 {
		return into, actual, runtime.NewStrictDecodingError(strictErrs)
	}
	return into, actual, nil
}
