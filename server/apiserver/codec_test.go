package apiserver

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestDecodeFieldValidation(t *testing.T) {
	d := newDecoder(newScheme())
	gvk := corev1.SchemeGroupVersion.WithKind("ConfigMap")
	newCM := func() runtime.Object { return &corev1.ConfigMap{} }
	for _, tc := range []struct {
		name, body string
		fv         fieldValidation
		wantErr    string // substring of a 400 message; "" for success
		warnings   int
		wantData   string
	}{
		{"valid", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}`, validationStrict, "", 0, "v"},
		{"kind and version default to the endpoint's", `{"metadata":{"name":"a"},"data":{"k":"v"}}`, validationStrict, "", 0, "v"},
		{"unknown field strict", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"bogus":1}`, validationStrict, `strict decoding error: unknown field "bogus"`, 0, ""},
		{"unknown field warn", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"bogus":1,"data":{"k":"v"}}`, validationWarn, "", 1, "v"},
		{"unknown field ignore", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"bogus":1,"data":{"k":"v"}}`, validationIgnore, "", 0, "v"},
		{"duplicate field strict", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"}}`, validationStrict, `duplicate field`, 0, ""},
		{"case matters", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"Data":{"k":"v"}}`, validationStrict, `unknown field "Data"`, 0, ""},
		{"wrong kind", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"a"}}`, validationStrict, "does not match the expected API version", 0, ""},
		{"wrong group", `{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"a"}}`, validationStrict, "does not match the expected API version", 0, ""},
		{"malformed", `{"apiVersion":"v1",`, validationStrict, "cannot be handled as a ConfigMap", 0, ""},
		{"wrong type", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":["x"]}`, validationStrict, "cannot be handled as a ConfigMap", 0, ""},
		{"empty", `  `, validationStrict, "empty", 0, ""},
	} {
		obj, warnings, err := d.decode([]byte(tc.body), gvk, newCM, tc.fv)
		if tc.wantErr != "" {
			if err == nil || !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want 400 containing %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(warnings) != tc.warnings {
			t.Errorf("%s: warnings %q, want %d", tc.name, warnings, tc.warnings)
		}
		cm := obj.(*corev1.ConfigMap)
		if cm.Data["k"] != tc.wantData || cm.Kind != "ConfigMap" || cm.APIVersion != "v1" {
			t.Errorf("%s: decoded %+v", tc.name, cm)
		}
	}
}

// TestDecodeJSONKnownKind checks that the one-pass decode of a body that
// starts with the endpoint's kind and apiVersion gives what decodeJSON
// gives, and that it steps aside for every body decodeJSON has something
// to say about.
func TestDecodeJSONKnownKind(t *testing.T) {
	want := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	const p = `{"kind":"ConfigMap","apiVersion":"v1",`
	for _, c := range []struct {
		body   string
		answer bool
	}{
		{p + `"metadata":{"name":"a","labels":{"x":"y"}},"data":{"k":"v"}}`, true},
		{p + `"metadata":{"name":"a"},"kind":"Secret"}`, false},          // duplicate kind
		{p + `"metadata":{"name":"a"},"Kind":"Secret"}`, false},          // another case
		{p + `"metadata":{"name":"a"},"bogus":1}`, false},                // unknown field
		{p + `"metadata":{"name":"a"},"data":{"k":"v","k":"w"}}`, false}, // duplicate key
		{p + `"metadata":{"name":"a"}`, false},                           // truncated
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}`, false},
		{`{"kind":"Secret","apiVersion":"v1","metadata":{"name":"a"}}`, false},
	} {
		got, gotKind, err := decodeJSONKnownKind([]byte(c.body), want, &corev1.ConfigMap{})
		if (got != nil) != c.answer || err != nil {
			t.Fatalf("%s: answered %v (err %v), want %v", c.body, got != nil, err, c.answer)
		}
		if got == nil {
			continue
		}
		ref, refKind, err := decodeJSON([]byte(c.body), want, &corev1.ConfigMap{})
		if err != nil {
			t.Fatalf("%s: decodeJSON: %v", c.body, err)
		}
		if !reflect.DeepEqual(got, ref) || *gotKind != *refKind {
			t.Fatalf("%s: got %#v %v, decodeJSON %#v %v", c.body, got, gotKind, ref, refKind)
		}
	}
}
