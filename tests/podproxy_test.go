package tests

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// podProxyManifest is a busybox httpd on a named port, with a CGI script
// that echoes the method, query, Content-Length header and body of what
// reaches it. busybox httpd (1.35) gives a CGI the body of a POST only:
// for other methods the header arrives but stdin is empty, or not, by
// the timing of the read.
const podProxyManifest = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: web
    image: ` + TestImage + `
    imagePullPolicy: Never
    ports:
    - {name: http, containerPort: 8080}
    command: ["sh", "-c", "mkdir -p /www/cgi-bin && echo served > /www/index.html && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REQUEST_METHOD $QUERY_STRING ${CONTENT_LENGTH:-$HTTP_CONTENT_LENGTH}\\ncat\\n' > /www/cgi-bin/echo && chmod +x /www/cgi-bin/echo && httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
---
apiVersion: v1
kind: Pod
metadata:
  name: pending
spec:
  nodeSelector: {no-such-label: "true"}
  containers:
  - {name: c, image: ` + TestImage + `, imagePullPolicy: Never, ports: [{containerPort: 8080}]}
`

// TestAgentPodProxy reaches a server in a pod through the API server's
// pods/proxy and services/proxy subresources, which travel over the
// agent's tunnel as port-forward does.
func TestAgentPodProxy(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent())
	node := localNode(t)
	waitNodeReady(t, s, node, 60*time.Second)
	if out, err := s.kubectlStdin(podProxyManifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	waitPodPhase(t, s, "default", "web", "Running", 90*time.Second)

	const base = "/api/v1/namespaces/default/pods/"
	eventually(t, 30*time.Second, "pods/proxy answers", func() bool {
		out, err := s.kubectl("get", "--raw", base+"web:8080/proxy/index.html")
		return err == nil && strings.TrimSpace(out) == "served"
	})
	for _, path := range []string{
		base + "web:http/proxy/index.html", // a named container port
		base + "http:web:8080/proxy/",      // scheme:name:port
		base + "web/proxy/",                // the first container port
		base + "web/proxy",                 // redirected to .../proxy/
		"/api/v1/namespaces/default/services/web:http/proxy/index.html",
		"/api/v1/namespaces/default/services/web:80/proxy/",
	} {
		if path == "/api/v1/namespaces/default/services/web:http/proxy/index.html" {
			eventually(t, 30*time.Second, "the Service has an endpoint", func() bool {
				out, err := s.kubectl("get", "endpoints", "web", "-o", "jsonpath={.subsets[*].addresses[*].ip}")
				return err == nil && strings.TrimSpace(out) != ""
			})
		}
		if out := s.mustKubectl("get", "--raw", path); strings.TrimSpace(out) != "served" {
			t.Errorf("GET %s = %q, want served", path, out)
		}
	}

	// Methods, query, headers and (for POST, see above) the body pass
	// through.
	c := s.client().CoreV1().RESTClient()
	ctx := context.Background()
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		b, err := c.Verb(method).AbsPath(base+"web:http/proxy/cgi-bin/echo").Param("a", "1").
			Body([]byte("the body")).SetHeader("Content-Type", "text/plain").DoRaw(ctx)
		got, want := strings.TrimSpace(string(b)), method+" a=1 8"
		if method == http.MethodPost {
			want += "\nthe body"
		} else {
			got, _, _ = strings.Cut(got, "\n")
		}
		if err != nil || got != want {
			t.Errorf("%s through pods/proxy = %q, %v; want %q", method, b, err, want)
		}
	}

	// Bad requests answer with a Status.
	hc, err := rest.HTTPClientFor(s.restConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		code int32
		msg  string
	}{
		{base + "web:nope/proxy/", http.StatusBadRequest, `pod web has no container port named "nope"`},
		{base + "ftp:web:21/proxy/", http.StatusBadRequest, `invalid pod request "ftp:web:21"`},
		{base + "absent:8080/proxy/", http.StatusNotFound, `pods "absent" not found`},
		{base + "pending/proxy/", http.StatusBadRequest, "address not allowed"}, // no pod IP
		{base + "web:8081/proxy/", http.StatusServiceUnavailable, "error trying to reach service: "},
		{"/api/v1/namespaces/default/services/web:81/proxy/", http.StatusServiceUnavailable, `no service port 81 found for service "web"`},
	} {
		resp, err := hc.Get(s.url() + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		var st metav1.Status
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode != int(tc.code) || err != nil || st.Kind != "Status" || st.Code != tc.code || !strings.Contains(st.Message, tc.msg) {
			t.Errorf("GET %s: %s %+v %v; want %d %q", tc.path, resp.Status, st, err, tc.code, tc.msg)
		}
	}

	// Nodes may not proxy to pods (the Node authorizer does not grant
	// pods/proxy), even to a pod of their own.
	out, err := s.kubectlAs(s.nodeKubeconfig(node), "", "get", "--raw", base+"web:8080/proxy/index.html")
	if err == nil || !strings.Contains(out, `forbidden: User "system:node:`+node+`" cannot get resource "pods/proxy"`) {
		t.Errorf("a node through pods/proxy: %v\n%s", err, out)
	}
}
