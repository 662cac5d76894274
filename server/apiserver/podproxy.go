package apiserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	"github.com/skiff-io/skiff/server/errdefs"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// proxyMethods are the methods pods/proxy forwards, as kube-apiserver's.
var proxyMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodHead: true, http.MethodOptions: true,
}

// proxyTarget is where a pods/proxy request goes: a port of a pod,
// reached through its node's agent.
type proxyTarget struct {
	scheme string // http or https
	pod    *corev1.Pod
	port   int32
}

// splitProxyID reads the name of a proxy request, "name", "name:port" or
// "scheme:name:port" as Kubernetes writes it.
func splitProxyID(id string) (scheme, name, port string, err error) {
	scheme, name, port, ok := utilnet.SplitSchemeNamePort(id)
	if !ok {
		return "", "", "", apierrors.NewBadRequest(fmt.Sprintf("invalid pod request %q", id))
	}
	if scheme == "" {
		scheme = "http"
	}
	return scheme, name, port, nil
}

// podProxyPort resolves the port of a pods/proxy request: a number, a
// named container port, or, when empty, the first declared container port
// (Kubernetes' default), else the scheme's default port.
func podProxyPort(pod *corev1.Pod, scheme, port string) (int32, error) {
	if port == "" {
		for _, c := range pod.Spec.Containers {
			if len(c.Ports) > 0 {
				return c.Ports[0].ContainerPort, nil
			}
		}
		if scheme == "https" {
			return 443, nil
		}
		return 80, nil
	}
	if n, err := strconv.ParseUint(port, 10, 16); err == nil {
		if n == 0 {
			return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid port %q", port))
		}
		return int32(n), nil
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == port {
				return p.ContainerPort, nil
			}
		}
	}
	return 0, apierrors.NewBadRequest(fmt.Sprintf("pod %s has no container port named %q", pod.Name, port))
}

// podIP is the pod's primary address, as kube-apiserver reads it.
func podIP(pod *corev1.Pod) string {
	if len(pod.Status.PodIPs) > 0 {
		return pod.Status.PodIPs[0].IP
	}
	return pod.Status.PodIP
}

// servePodProxy answers pods/proxy: the request, less its
// /api/v1/namespaces/{ns}/pods/{name}/proxy prefix, goes as HTTP to the
// pod's port over a stream through the node's agent (skiff never dials
// nodes or pod addresses itself).
func (s *Server) servePodProxy(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	if !proxyMethods[r.Method] {
		writeError(w, apierrors.NewMethodNotSupported(gr, r.Method), gr, ri.name)
		return
	}
	scheme, name, port, err := splitProxyID(ri.name)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	_, obj, err := s.load(r.Context(), res, ri.namespace, name)
	if err != nil {
		writeError(w, err, gr, name)
		return
	}
	pod := obj.(*corev1.Pod)
	t := proxyTarget{scheme: scheme, pod: pod}
	if t.port, err = podProxyPort(pod, scheme, port); err != nil {
		writeError(w, err, gr, name)
		return
	}
	s.proxyToPod(w, r, gr.String(), ri, t)
}

// proxyToPod forwards r to t, with ri.proxyPath as the path; what names
// the subresource's resource in messages.
func (s *Server) proxyToPod(w http.ResponseWriter, r *http.Request, what string, ri requestInfo, t proxyTarget) {
	pod := t.pod
	ip := net.ParseIP(podIP(pod))
	if ip == nil || !ip.IsGlobalUnicast() || pod.Spec.NodeName == "" {
		writeStatus(w, &apierrors.NewBadRequest("address not allowed").ErrStatus)
		return
	}
	if ri.proxyPath == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		// As kube-apiserver: the root is served with a slash, so relative
		// links in the answer resolve under .../proxy/.
		loc := r.URL.Path + "/"
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	if s.cfg.Nodes == nil {
		writeStatus(w, &apierrors.NewServiceUnavailable(fmt.Sprintf("no connection to the agent on node %q: %s/proxy is not available", pod.Spec.NodeName, what)).ErrStatus)
		return
	}
	host := net.JoinHostPort(ip.String(), strconv.Itoa(int(t.port)))
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = &url.URL{Scheme: t.scheme, Host: host, Path: ri.proxyPath, RawQuery: pr.In.URL.RawQuery}
			pr.Out.Host = ""
			pr.SetXForwarded()
			// The pod needs none of the caller's API credentials.
			pr.Out.Header.Del("Authorization")
			for k := range pr.Out.Header {
				if strings.HasPrefix(k, "Impersonate-") {
					pr.Out.Header.Del(k)
				}
			}
		},
		Transport:     s.podTransport(pod, t.port),
		FlushInterval: -1,
		ErrorLog:      proxyErrorLog,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client went away
			}
			var se *apierrors.StatusError
			switch {
			case errors.As(err, new(*nodeDialError)):
				writeStatus(w, &apierrors.NewServiceUnavailable(fmt.Sprintf("no connection to the agent on node %q: %s/proxy is not available", pod.Spec.NodeName, what)).ErrStatus)
			case errors.As(err, &se) && se.ErrStatus.Code == http.StatusNotFound:
				writeStatus(w, &se.ErrStatus)
			default:
				writeStatus(w, &apierrors.NewServiceUnavailable("error trying to reach service: "+err.Error()).ErrStatus)
			}
		},
	}
	proxy.ServeHTTP(w, r)
}

// podTransport carries requests to one port of a pod: each connection is
// a stream to the node's agent, upgraded to raw TCP to the port.
func (s *Server) podTransport(pod *corev1.Pod, port int32) http.RoundTripper {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := s.cfg.Nodes.DialNode(ctx, pod.Spec.NodeName)
			if err != nil {
				return nil, &nodeDialError{err}
			}
			pc, err := portConnect(c, pod.Namespace, pod.Name, port)
			if err != nil {
				c.Close()
				return nil, err
			}
			return pc, nil
		},
		// A pod's certificate is not one the API server can check; as
		// kube-apiserver, https to a pod is encrypted but not verified.
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
		DisableKeepAlives:  true,
		DisableCompression: true,
	}
}

// portConnect asks the agent on c for a byte stream to the pod's port
// (agent/streaming's /portConnect). An answer other than 101 is returned
// as an *apierrors.StatusError.
func portConnect(c net.Conn, ns, pod string, port int32) (net.Conn, error) {
	req, err := http.NewRequest(http.MethodGet, "http://agent/portConnect/"+url.PathEscape(ns)+"/"+url.PathEscape(pod)+"/"+strconv.Itoa(int(port)), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	if err := req.Write(c); err != nil {
		return nil, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("reading the agent's answer: %w", err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return &bufferedConn{Conn: c, r: br}, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var st metav1.Status
	if json.Unmarshal(b, &st) != nil || st.Message == "" {
		st = metav1.Status{Message: strings.TrimSpace(string(b))}
	}
	st.Status, st.Code = metav1.StatusFailure, int32(resp.StatusCode)
	return nil, &apierrors.StatusError{ErrStatus: st}
}

// bufferedConn reads what the handshake's reader already buffered first.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// serveServiceProxy answers services/proxy: as kube-apiserver, the port
// (a number or a port name) selects a service port, and the request goes
// to a ready endpoint of it chosen at random, through that pod's node.
func (s *Server) serveServiceProxy(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	if !proxyMethods[r.Method] {
		writeError(w, apierrors.NewMethodNotSupported(gr, r.Method), gr, ri.name)
		return
	}
	scheme, name, port, ok := utilnet.SplitSchemeNamePort(ri.name)
	if !ok {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid service request %q", ri.name)), gr, ri.name)
		return
	}
	if scheme == "" {
		scheme = "http"
	}
	ctx := r.Context()
	_, obj, err := s.load(ctx, res, ri.namespace, name)
	if err != nil {
		writeError(w, err, gr, name)
		return
	}
	if n, err := strconv.ParseInt(port, 10, 32); err == nil {
		found := false
		for _, p := range obj.(*corev1.Service).Spec.Ports {
			if int64(p.Port) == n {
				port, found = p.Name, true
				break
			}
		}
		if !found {
			writeStatus(w, &apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", n, name)).ErrStatus)
			return
		}
	}
	noEndpoints := apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", name))
	epRes, podRes := s.byGVR[corev1.SchemeGroupVersion.WithResource("endpoints")], s.byGVR[corev1.SchemeGroupVersion.WithResource("pods")]
	_, obj, err = s.load(ctx, epRes, ri.namespace, name)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			err = noEndpoints
		}
		writeError(w, err, gr, name)
		return
	}
	type candidate struct {
		pod  string
		port int32
	}
	var cands []candidate
	for _, ss := range obj.(*corev1.Endpoints).Subsets {
		for _, p := range ss.Ports {
			if p.Name != port {
				continue
			}
			for _, a := range ss.Addresses {
				if a.TargetRef != nil && a.TargetRef.Kind == "Pod" && a.TargetRef.Namespace == ri.namespace {
					cands = append(cands, candidate{a.TargetRef.Name, p.Port})
				}
			}
		}
	}
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	for _, c := range cands {
		_, obj, err := s.load(ctx, podRes, ri.namespace, c.pod)
		if err != nil {
			continue // gone since the endpoints were written
		}
		pod := obj.(*corev1.Pod)
		if ip := net.ParseIP(podIP(pod)); ip == nil || !ip.IsGlobalUnicast() || pod.Spec.NodeName == "" {
			continue
		}
		s.proxyToPod(w, r, gr.String(), ri, proxyTarget{scheme: scheme, pod: pod, port: c.port})
		return
	}
	writeStatus(w, &noEndpoints.ErrStatus)
}
