package tests

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// apiPod creates a pod bound to node (no agent runs it) and gives it the
// status an agent would report: Running, ip, Ready as told.
func apiPod(t *testing.T, c kubernetes.Interface, name, node, ip string, labels map[string]string, ready bool, mutate ...func(*corev1.Pod)) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}
	for _, m := range mutate {
		m(p)
	}
	created, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ip != "" {
		created.Status.PodIP = ip
		created.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	created.Status.Phase = corev1.PodRunning
	setPodReady(t, c, created, ready)
	return created
}

// setPodReady writes the pod's Ready condition through pods/status.
func setPodReady(t *testing.T, c kubernetes.Interface, p *corev1.Pod, ready bool) {
	t.Helper()
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	want := p.Status
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := c.CoreV1().Pods(p.Namespace).Get(context.Background(), p.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if want.PodIP != "" {
			cur.Status.PodIP, cur.Status.PodIPs = want.PodIP, want.PodIPs
		}
		if want.Phase != "" {
			cur.Status.Phase = want.Phase
		}
		var conds []corev1.PodCondition
		for _, cond := range cur.Status.Conditions {
			if cond.Type != corev1.PodReady {
				conds = append(conds, cond)
			}
		}
		cur.Status.Conditions = append(conds, corev1.PodCondition{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.Now()})
		_, err = c.CoreV1().Pods(p.Namespace).UpdateStatus(context.Background(), cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// endpointsOf summarizes a Service's Endpoints: "ready=ip:port,... notready=..."
// per subset, sorted.
func endpointsOf(c kubernetes.Interface, name string) string {
	ep, err := c.CoreV1().Endpoints("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "error: " + err.Error()
	}
	var parts []string
	for _, ss := range ep.Subsets {
		var ports []string
		for _, p := range ss.Ports {
			ports = append(ports, fmt.Sprint(p.Port))
		}
		for _, a := range ss.Addresses {
			parts = append(parts, fmt.Sprintf("%s%s:%s", a.IP, hostSuffix(a.Hostname), strings.Join(ports, "+")))
		}
		for _, a := range ss.NotReadyAddresses {
			parts = append(parts, fmt.Sprintf("!%s%s:%s", a.IP, hostSuffix(a.Hostname), strings.Join(ports, "+")))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func hostSuffix(h string) string {
	if h == "" {
		return ""
	}
	return "(" + h + ")"
}

// slicesOf summarizes a Service's EndpointSlices of manager: endpoints as
// ip:port with ! when not ready and ~ when terminating.
func slicesOf(c kubernetes.Interface, name, manager string) string {
	list, err := c.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + name + "," + discoveryv1.LabelManagedBy + "=" + manager})
	if err != nil {
		return "error: " + err.Error()
	}
	var parts []string
	for _, s := range list.Items {
		var ports []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprint(*p.Port))
		}
		for _, e := range s.Endpoints {
			mark := ""
			if e.Conditions.Ready == nil || !*e.Conditions.Ready {
				mark = "!"
			}
			if e.Conditions.Terminating != nil && *e.Conditions.Terminating {
				mark += "~"
			}
			h := ""
			if e.Hostname != nil {
				h = *e.Hostname
			}
			parts = append(parts, fmt.Sprintf("%s%s%s:%s", mark, e.Addresses[0], hostSuffix(h), strings.Join(ports, "+")))
		}
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d slices: %s", len(list.Items), strings.Join(parts, " "))
}

func waitFor(t *testing.T, what string, want string, got func() string) {
	t.Helper()
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if last = got(); last == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: got %q, want %q", what, last, want)
}

// TestEndpoints: Services' Endpoints and EndpointSlices list their ready
// pods and follow readiness, deletion, named ports and headless Services;
// a Service without selector gets its hand-written Endpoints mirrored; the
// kubernetes Service is left to its own controller. No agent: the test
// writes pod status itself.
func TestEndpoints(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	schedNode(t, c, "ep-node", "4", "8Gi")

	web := map[string]string{"app": "web"}
	p1 := apiPod(t, c, "web-1", "ep-node", "10.42.0.11", web, true)
	apiPod(t, c, "web-2", "ep-node", "10.42.0.12", web, false)
	apiPod(t, c, "web-3", "ep-node", "10.42.0.13", web, true, func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 9090 })
	apiPod(t, c, "web-noip", "ep-node", "", web, true)
	apiPod(t, c, "other", "ep-node", "10.42.0.99", map[string]string{"app": "other"}, true)
	if _, err := c.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"tier": "front"}},
		Spec:       corev1.ServiceSpec{Selector: web, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Ready pods under addresses, the named port resolved per pod.
	waitFor(t, "Endpoints of web", "!10.42.0.12:8080 10.42.0.11:8080 10.42.0.13:9090", func() string { return endpointsOf(c, "web") })
	waitFor(t, "slices of web", "2 slices: !10.42.0.12:8080 10.42.0.11:8080 10.42.0.13:9090",
		func() string { return slicesOf(c, "web", "endpointslice-controller.k8s.io") })
	ep, _ := c.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
	if ep.Labels["tier"] != "front" || ep.Annotations["endpoints.kubernetes.io/last-change-trigger-time"] == "" {
		t.Fatalf("Endpoints labels %v annotations %v", ep.Labels, ep.Annotations)
	}
	if a := ep.Subsets[0].Addresses; len(a) == 0 || a[0].TargetRef == nil || a[0].TargetRef.Name == "" || a[0].NodeName == nil || *a[0].NodeName != "ep-node" {
		t.Fatalf("address %+v", ep.Subsets[0])
	}
	// The real kubectl reads them.
	if out := s.mustKubectl("get", "endpoints", "web", "-o", "jsonpath={.subsets[*].addresses[*].ip}"); !strings.Contains(out, "10.42.0.11") {
		t.Fatalf("kubectl get endpoints web: %q", out)
	}

	// Readiness changes are followed.
	setPodReady(t, c, p1, false)
	waitFor(t, "web-1 not ready", "!10.42.0.11:8080 !10.42.0.12:8080 10.42.0.13:9090", func() string { return endpointsOf(c, "web") })
	setPodReady(t, c, p1, true)
	waitFor(t, "web-1 ready again", "!10.42.0.12:8080 10.42.0.11:8080 10.42.0.13:9090", func() string { return endpointsOf(c, "web") })

	// A pod being deleted leaves Endpoints; its slice endpoint says
	// terminating (no agent confirms the deletion, so it stays Terminating).
	if err := c.CoreV1().Pods("default").Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web-1 deleted", "!10.42.0.12:8080 10.42.0.13:9090", func() string { return endpointsOf(c, "web") })
	waitFor(t, "web-1 terminating in the slice", "2 slices: !10.42.0.12:8080 !~10.42.0.11:8080 10.42.0.13:9090",
		func() string { return slicesOf(c, "web", "endpointslice-controller.k8s.io") })

	// publishNotReadyAddresses puts every pod under addresses.
	patch := `{"spec":{"publishNotReadyAddresses":true}}`
	s.mustKubectl("patch", "service", "web", "--type=merge", "-p", patch)
	waitFor(t, "publishNotReadyAddresses", "10.42.0.11:8080 10.42.0.12:8080 10.42.0.13:9090", func() string { return endpointsOf(c, "web") })

	// Headless: hostnames for pods with the Service as subdomain.
	db := map[string]string{"app": "db"}
	apiPod(t, c, "db-0", "ep-node", "10.42.0.21", db, true, func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "db-0", "db" })
	apiPod(t, c, "db-x", "ep-node", "10.42.0.22", db, true)
	s.mustKubectlStdin(`apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: sql, port: 5432, targetPort: 8080}]
`, "apply", "-f", "-")
	waitFor(t, "headless Endpoints", "10.42.0.21(db-0):8080 10.42.0.22:8080", func() string { return endpointsOf(c, "db") })
	waitFor(t, "headless slice", "1 slices: 10.42.0.21(db-0):8080 10.42.0.22:8080", func() string { return slicesOf(c, "db", "endpointslice-controller.k8s.io") })
	if ep, _ := c.CoreV1().Endpoints("default").Get(ctx, "db", metav1.GetOptions{}); ep.Labels["service.kubernetes.io/headless"] != "" {
		t.Fatalf("headless Endpoints labels %v", ep.Labels)
	} else if _, ok := ep.Labels["service.kubernetes.io/headless"]; !ok {
		t.Fatalf("headless Endpoints lack the headless label: %v", ep.Labels)
	}

	// No selector: the user's Endpoints are theirs, and mirrored.
	s.mustKubectlStdin(`apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  ports: [{name: pg, port: 5432}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: ext}
subsets:
- addresses: [{ip: 192.168.50.10}]
  notReadyAddresses: [{ip: 192.168.50.11}]
  ports: [{name: pg, port: 5432}]
`, "apply", "-f", "-")
	waitFor(t, "mirrored slice", "1 slices: !192.168.50.11:5432 192.168.50.10:5432",
		func() string { return slicesOf(c, "ext", "endpointslicemirroring-controller.k8s.io") })
	if got := slicesOf(c, "ext", "endpointslice-controller.k8s.io"); got != "0 slices: " {
		t.Fatalf("the EndpointSlice controller wrote slices for a Service without selector: %s", got)
	}
	if got := endpointsOf(c, "ext"); got != "!192.168.50.11:5432 192.168.50.10:5432" {
		t.Fatalf("hand-written Endpoints changed: %s", got)
	}

	// The kubernetes Service: one Endpoints, one slice, not mirrored.
	if got := slicesOf(c, "kubernetes", "endpointslicemirroring-controller.k8s.io"); got != "0 slices: " {
		t.Fatalf("the kubernetes Service's Endpoints were mirrored: %s", got)
	}
	all, err := c.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kubernetes"})
	if err != nil || len(all.Items) != 1 {
		t.Fatalf("slices of the kubernetes Service: %v %v", all, err)
	}

	// Deleting a Service deletes its Endpoints and slices.
	if err := c.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Endpoints of a deleted Service", `error: endpoints "web" not found`, func() string { return endpointsOf(c, "web") })
	waitFor(t, "slices of a deleted Service", "0 slices: ", func() string { return slicesOf(c, "web", "endpointslice-controller.k8s.io") })

	// New pods tolerate not-ready and unreachable nodes for 300s.
	other, _ := c.CoreV1().Pods("default").Get(ctx, "other", metav1.GetOptions{})
	n := 0
	for _, tol := range other.Spec.Tolerations {
		if (tol.Key == corev1.TaintNodeNotReady || tol.Key == corev1.TaintNodeUnreachable) && tol.TolerationSeconds != nil && *tol.TolerationSeconds == 300 {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("default tolerations: %+v", other.Spec.Tolerations)
	}
}
