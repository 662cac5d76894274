package tests

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// adminHTTP is a raw HTTPS client with the admin certificate.
func (s *server) adminHTTP(t *testing.T) *http.Client {
	t.Helper()
	tlsDir := filepath.Join(s.dataDir, "server", "tls")
	cert, err := tls.LoadX509KeyPair(filepath.Join(tlsDir, "admin.crt"), filepath.Join(tlsDir, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(tlsDir, "server-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(ca)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}}}
}

type rawResp struct {
	code    int
	status  metav1.Status
	body    string
	warning string
}

func do(t *testing.T, c *http.Client, method, url, ctype, accept string, body []byte) rawResp {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := rawResp{code: resp.StatusCode, body: string(b), warning: resp.Header.Get("Warning")}
	_ = json.Unmarshal(b, &r.status)
	return r
}

// TestBadInput: each kind of bad request gets its HTTP code and a readable
// metav1.Status, and leaves the store as it was.
func TestBadInput(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	c := s.adminHTTP(t)
	base := s.url() + "/api/v1/namespaces/default/configmaps"
	good := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"good"},"data":{"a":"b"}}`
	if r := do(t, c, "POST", base, "application/json", "", []byte(good)); r.code != 201 {
		t.Fatalf("create good: %d %s", r.code, r.body)
	}
	get := do(t, c, "GET", base+"/good", "", "", nil)
	var cm struct {
		Metadata struct{ ResourceVersion string } `json:"metadata"`
	}
	_ = json.Unmarshal([]byte(get.body), &cm)

	huge := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"huge"},"data":{"a":"` + strings.Repeat("x", 4<<20) + `"}}`
	cases := []struct {
		name, method, url, ctype, accept, body string
		code                                   int
		reason                                 metav1.StatusReason
		msg                                    string
	}{
		{"malformed JSON", "POST", base, "application/json", "", `{"apiVersion":"v1",`, 400, metav1.StatusReasonBadRequest, "cannot be handled as a ConfigMap"},
		{"malformed YAML", "POST", base, "application/yaml", "", "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n", 400, metav1.StatusReasonBadRequest, "YAML"},
		{"unknown field strict", "POST", base + "?fieldValidation=Strict", "application/json", "", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"strict"},"bogus":1}`, 400, metav1.StatusReasonBadRequest, `unknown field "bogus"`},
		{"duplicate field strict", "POST", base + "?fieldValidation=Strict", "application/json", "", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup2"}}`, 400, metav1.StatusReasonBadRequest, `duplicate field`},
		{"invalid name", "POST", base, "application/json", "", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}`, 422, metav1.StatusReasonInvalid, "metadata.name"},
		{"invalid label", "POST", base, "application/json", "", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ok","labels":{"bad key!":"v"}}}`, 422, metav1.StatusReasonInvalid, "metadata.labels"},
		{"missing containers", "POST", s.url() + "/api/v1/namespaces/default/pods", "application/json", "", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{}}`, 422, metav1.StatusReasonInvalid, "spec.containers"},
		{"selector does not match template", "POST", s.url() + "/apis/apps/v1/namespaces/default/deployments", "application/json", "",
			`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
			422, metav1.StatusReasonInvalid, "`selector` does not match template `labels`"},
		{"wrong kind", "POST", base, "application/json", "", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"k"}}`, 400, metav1.StatusReasonBadRequest, ""},
		{"stale resourceVersion", "PUT", base + "/good", "application/json", "", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"good","resourceVersion":"1"},"data":{"a":"stale"}}`, 409, metav1.StatusReasonConflict, "the object has been modified"},
		{"already exists", "POST", base, "application/json", "", good, 409, metav1.StatusReasonAlreadyExists, `configmaps "good" already exists`},
		{"huge body", "POST", base, "application/json", "", huge, 413, metav1.StatusReasonRequestEntityTooLarge, "limit is"},
		{"unsupported media type", "POST", base, "text/plain", "", good, 415, metav1.StatusReasonUnsupportedMediaType, "unknown format"},
		{"protobuf only accept", "GET", base, "", "application/vnd.kubernetes.protobuf", "", 406, metav1.StatusReasonNotAcceptable, "application/json"},
		{"namespace missing", "POST", s.url() + "/api/v1/namespaces/nope/configmaps", "application/json", "", good, 404, metav1.StatusReasonNotFound, `namespaces "nope" not found`},
		{"not found", "GET", base + "/nope", "", "", "", 404, metav1.StatusReasonNotFound, `configmaps "nope" not found`},
		{"unknown resource", "GET", s.url() + "/api/v1/widgets", "", "", "", 404, metav1.StatusReasonNotFound, ""},
		{"bad label selector", "GET", base + "?labelSelector=a%20in%20(", "", "", "", 400, metav1.StatusReasonBadRequest, ""},
		{"unsupported field selector", "GET", base + "?fieldSelector=spec.foo%3Dx", "", "", "", 400, metav1.StatusReasonBadRequest, "field label not supported"},
		{"bad patch type", "PATCH", base + "/good", "application/xml", "", `{}`, 415, metav1.StatusReasonUnsupportedMediaType, ""},
		{"invalid json patch", "PATCH", base + "/good", "application/json-patch+json", "", `[{"op":"frobnicate"}]`, 422, "", ""},
		{"uid precondition", "DELETE", base + "/good", "application/json", "", `{"preconditions":{"uid":"not-the-uid"}}`, 409, metav1.StatusReasonConflict, "Precondition failed"},
		{"system namespace", "DELETE", s.url() + "/api/v1/namespaces/kube-system", "", "", "", 403, metav1.StatusReasonForbidden, "may not be deleted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, c, tc.method, tc.url, tc.ctype, tc.accept, []byte(tc.body))
			if r.code != tc.code {
				t.Fatalf("code %d, want %d: %s", r.code, tc.code, tail(r.body, 500))
			}
			if r.status.Kind != "Status" || r.status.Status != metav1.StatusFailure || int(r.status.Code) != tc.code {
				t.Fatalf("not a metav1.Status failure with code %d: %s", tc.code, tail(r.body, 500))
			}
			if tc.reason != "" && r.status.Reason != tc.reason {
				t.Fatalf("reason %q, want %q (%s)", r.status.Reason, tc.reason, r.status.Message)
			}
			if !strings.Contains(r.status.Message, tc.msg) {
				t.Fatalf("message %q lacks %q", r.status.Message, tc.msg)
			}
		})
	}

	// Nothing above changed the store.
	list := do(t, c, "GET", base, "", "", nil)
	var l struct {
		Items []struct {
			Metadata struct{ Name, ResourceVersion string } `json:"metadata"`
			Data     map[string]string                      `json:"data"`
		} `json:"items"`
	}
	_ = json.Unmarshal([]byte(list.body), &l)
	var names []string
	for _, it := range l.Items {
		if it.Metadata.Name != "kube-root-ca.crt" {
			names = append(names, it.Metadata.Name)
		}
	}
	if len(names) != 1 || names[0] != "good" {
		t.Fatalf("bad requests changed the store: configmaps now %v", names)
	}
	for _, it := range l.Items {
		if it.Metadata.Name == "good" && (it.Metadata.ResourceVersion != cm.Metadata.ResourceVersion || it.Data["a"] != "b") {
			t.Fatalf("good configmap changed: %+v", it)
		}
	}

	// Warn mode accepts the object and says what was dropped.
	r := do(t, c, "POST", base+"?fieldValidation=Warn", "application/json", "", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"warned"},"bogus":1}`))
	if r.code != 201 || !strings.Contains(r.warning, `unknown field \"bogus\"`) {
		t.Fatalf("Warn: code %d warning %q", r.code, r.warning)
	}

	// No credentials: 401, and health stays public.
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if r := do(t, anon, "GET", base, "", "", nil); r.code != 401 || r.status.Reason != metav1.StatusReasonUnauthorized {
		t.Fatalf("anonymous list: %d %s", r.code, r.body)
	}
	if r := do(t, anon, "GET", s.url()+"/readyz", "", "", nil); r.code != 200 {
		t.Fatalf("anonymous readyz: %d", r.code)
	}
	// kubectl says the same things on one readable line and exits non-zero.
	out, err := s.kubectlStdin("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n", "apply", "-f", "-")
	if err == nil || !strings.Contains(out, "metadata.name: Invalid value") {
		t.Fatalf("kubectl apply invalid name: %v %s", err, out)
	}
}
