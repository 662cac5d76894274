package apiserver

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// NodeDialer opens a connection to a node's agent, which serves the
// kubelet's streaming paths on it (protocol/tunnel's Hub).
type NodeDialer interface {
	DialNode(ctx context.Context, node string) (net.Conn, error)
}

// nodeDialError marks a failure to reach the agent at all.
type nodeDialError struct{ err error }

func (e *nodeDialError) Error() string { return e.err.Error() }
func (e *nodeDialError) Unwrap() error { return e.err }

// proxyErrorLog drops the reverse proxy's own logging: ErrorHandler
// answers the client, and copy errors of ended streams are routine.
var proxyErrorLog = log.New(io.Discard, "", 0)

// nodeTransport carries one request to an agent: the URL host is the node
// name and the request gets its own stream, so nothing is pooled across
// tunnels (a stream costs one frame; these requests are rare).
func (s *Server) nodeTransport() http.RoundTripper {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			node, _, err := net.SplitHostPort(addr)
			if err != nil {
				node = addr
			}
			c, err := s.cfg.Nodes.DialNode(ctx, node)
			if err != nil {
				return nil, &nodeDialError{err}
			}
			return c, nil
		},
		DisableKeepAlives:  true,
		DisableCompression: true,
	}
}

// agentURL builds the kubelet-style path on the agent for a pod
// subresource request, defaulting and checking the container as
// kube-apiserver does.
func agentURL(pod *corev1.Pod, sub string, q url.Values) (*url.URL, error) {
	u := &url.URL{Scheme: "http", Host: pod.Spec.NodeName}
	out := url.Values{}
	if sub != "portforward" {
		if (sub == "exec" || sub == "attach") && (pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed) {
			verb := "exec into"
			if sub == "attach" {
				verb = "attach to"
			}
			return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot %s a container in a completed pod; current phase is %s", verb, pod.Status.Phase))
		}
		c, err := podContainer(pod, q.Get("container"))
		if err != nil {
			return nil, err
		}
		path := map[string]string{"log": "containerLogs", "exec": "exec", "attach": "attach"}[sub]
		u.Path = "/" + path + "/" + pod.Namespace + "/" + pod.Name + "/" + c
	} else {
		u.Path = "/portForward/" + pod.Namespace + "/" + pod.Name
	}
	switch sub {
	case "log":
		for _, k := range []string{"follow", "previous", "timestamps"} {
			if isSet(q, k) {
				out.Set(k, "true")
			}
		}
		for _, k := range []string{"sinceSeconds", "sinceTime", "tailLines", "limitBytes", "stream"} {
			if v := q.Get(k); v != "" {
				out.Set(k, v)
			}
		}
	case "exec", "attach":
		for _, k := range []string{"stdin", "stdout", "stderr", "tty"} {
			if isSet(q, k) {
				out.Set(k, "1")
			}
		}
		if sub == "exec" {
			out["command"] = q["command"]
		}
	case "portforward":
		for _, p := range q["ports"] {
			out.Add("port", p)
		}
	}
	u.RawQuery = out.Encode()
	return u, nil
}

// podContainer returns the named container, or the only one when name is
// empty, with kube-apiserver's messages otherwise.
func podContainer(pod *corev1.Pod, name string) (string, error) {
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", apierrors.NewBadRequest(fmt.Sprintf("the pod %s does not have any containers", pod.Name))
		}
		names := func(cs []corev1.Container) string {
			var n []string
			for _, c := range cs {
				n = append(n, c.Name)
			}
			return strings.Join(n, " ")
		}
		msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, names(pod.Spec.Containers))
		if len(pod.Spec.InitContainers) > 0 {
			msg += fmt.Sprintf(" or one of the init containers: [%s]", names(pod.Spec.InitContainers))
		}
		return "", apierrors.NewBadRequest(msg)
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}
