package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// now is the clock every test reads.
var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time { t := ago(d); return &t }

func microAgo(d time.Duration) metav1.MicroTime { return metav1.NewMicroTime(now.Add(-d)) }

func ptr[T any](v T) *T { return &v }

// om is the metadata of a fixture created five minutes before now.
func om(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(5 * time.Minute)}
}

func podSpec(containers ...corev1.Container) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: containers}}
}

func selector(k, v string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
}

// kindCase is one registered kind: its zero object, and a populated one with
// the row kube-apiserver prints for it.
type kindCase struct {
	gk   schema.GroupKind
	zero runtime.Object
	full runtime.Object
	want []interface{}
}

func kindCases() []kindCase {
	return append(policyKindCases(), []kindCase{
		{
			gk:   schema.GroupKind{Kind: "Namespace"},
			zero: &corev1.Namespace{},
			full: &corev1.Namespace{ObjectMeta: om("team-a"), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
			want: []interface{}{"team-a", "Terminating", "5m"},
		},
		{
			gk:   schema.GroupKind{Kind: "ConfigMap"},
			zero: &corev1.ConfigMap{},
			full: &corev1.ConfigMap{
				ObjectMeta: om("cm"),
				Data:       map[string]string{"a": "1", "b": "2"},
				BinaryData: map[string][]byte{"c": {3}},
			},
			want: []interface{}{"cm", int64(3), "5m"},
		},
		{
			gk:   schema.GroupKind{Kind: "PodTemplate"},
			zero: &corev1.PodTemplate{},
			full: &corev1.PodTemplate{
				ObjectMeta: om("tpl"),
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}, {Name: "log", Image: "busybox"}}}},
			},
			want: []interface{}{"tpl", "web,log", "nginx,busybox", "app=web"},
		},
		{
			gk:   schema.GroupKind{Kind: "Secret"},
			zero: &corev1.Secret{},
			full: &corev1.Secret{
				ObjectMeta: om("tls"),
				Type:       corev1.SecretTypeTLS,
				Data:       map[string][]byte{"tls.crt": nil, "tls.key": nil},
			},
			want: []interface{}{"tls", "kubernetes.io/tls", int64(2), "5m"},
		},
		{
			gk:   schema.GroupKind{Kind: "ServiceAccount"},
			zero: &corev1.ServiceAccount{},
			full: &corev1.ServiceAccount{ObjectMeta: om("default"), Secrets: []corev1.ObjectReference{{Name: "tok"}}},
			want: []interface{}{"default", int64(1), "5m"},
		},
		{
			gk:   schema.GroupKind{Kind: "Endpoints"},
			zero: &corev1.Endpoints{},
			full: &corev1.Endpoints{
				ObjectMeta: om("web"),
				Subsets: []corev1.EndpointSubset{{
					Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}, {IP: "fd00::2"}},
					Ports:     []corev1.EndpointPort{{Name: "http", Port: 80}},
				}},
			},
			want: []interface{}{"web", "10.0.0.1:80,[fd00::2]:80", "5m"},
		},
		{
			gk:   schema.GroupKind{Kind: "Service"},
			zero: &corev1.Service{},
			full: &corev1.Service{
				ObjectMeta: om("web"),
				Spec: corev1.ServiceSpec{
					Type:       corev1.ServiceTypeLoadBalancer,
					ClusterIP:  "10.96.0.10",
					ClusterIPs: []string{"10.96.0.10"},
					Ports: []corev1.ServicePort{
						{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP},
						{Port: 53, Protocol: corev1.ProtocolUDP},
					},
					Selector: map[string]string{"app": "web"},
				},
				Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{
					Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.9"}, {Hostname: "lb.example"}},
				}},
			},
			want: []interface{}{"web", "LoadBalancer", "10.96.0.10", "203.0.113.9,lb.example", "80:30080/TCP,53/UDP", "5m", "app=web"},
		},
		{
			gk:   schema.GroupKind{Kind: "Node"},
			zero: &corev1.Node{},
			full: &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{
					Name: "node-a", CreationTimestamp: ago(5 * time.Minute),
					Labels: map[string]string{
						"node-role.kubernetes.io/master":        "",
						"node-role.kubernetes.io/control-plane": "",
						"kubernetes.io/role":                    "worker",
						"node-role.kubernetes.io/":              "ignored",
						"kubernetes.io/hostname":                "node-a",
					},
				},
				Spec: corev1.NodeSpec{Unschedulable: true},
				Status: corev1.NodeStatus{
					Conditions: []corev1.NodeCondition{
						{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
						{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
					},
					Addresses: []corev1.NodeAddress{
						{Type: corev1.NodeHostName, Address: "node-a"},
						{Type: corev1.NodeInternalIP, Address: "10.0.0.5"},
						{Type: corev1.NodeExternalIP, Address: "203.0.113.5"},
					},
					NodeInfo: corev1.NodeSystemInfo{
						KubeletVersion: "v1.30.0", OSImage: "Ubuntu 22.04.4 LTS",
						KernelVersion: "6.1.0", ContainerRuntimeVersion: "containerd://1.7.0",
					},
				},
			},
			want: []interface{}{
				"node-a", "Ready,SchedulingDisabled", "control-plane,master,worker", "5m", "v1.30.0",
				"10.0.0.5", "203.0.113.5", "Ubuntu 22.04.4 LTS", "6.1.0", "containerd://1.7.0",
			},
		},
		{
			gk:   schema.GroupKind{Kind: "PersistentVolume"},
			zero: &corev1.PersistentVolume{},
			full: &corev1.PersistentVolume{
				ObjectMeta: metav1.ObjectMeta{Name: "pv1", CreationTimestamp: ago(5 * time.Minute)},
				Spec: corev1.PersistentVolumeSpec{
					Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
					AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOnce},
					PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
					ClaimRef:                      &corev1.ObjectReference{Namespace: "default", Name: "data"},
					StorageClassName:              "fast",
					VolumeMode:                    ptr(corev1.PersistentVolumeBlock),
				},
				Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
			},
			want: []interface{}{"pv1", "10Gi", "RWO,RWX", "Delete", "Bound", "default/data", "fast", "<unset>", "", "5m", "Block"},
		},
		{
			gk:   schema.GroupKind{Kind: "PersistentVolumeClaim"},
			zero: &corev1.PersistentVolumeClaim{},
			full: &corev1.PersistentVolumeClaim{
				ObjectMeta: om("data"),
				Spec: corev1.PersistentVolumeClaimSpec{
					VolumeName:                "pv1",
					StorageClassName:          ptr("fast"),
					VolumeAttributesClassName: ptr("gold"),
				},
				Status: corev1.PersistentVolumeClaimStatus{
					Phase:       corev1.ClaimBound,
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod},
					Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				},
			},
			want: []interface{}{"data", "Bound", "pv1", "1Gi", "RWOP", "fast", "gold", "5m", "Filesystem"},
		},
		{
			gk:   schema.GroupKind{Kind: "ReplicationController"},
			zero: &corev1.ReplicationController{},
			full: &corev1.ReplicationController{
				ObjectMeta: om("rc"),
				Spec: corev1.ReplicationControllerSpec{
					Replicas: ptr(int32(3)),
					Selector: map[string]string{"app": "web"},
					Template: ptr(podSpec(corev1.Container{Name: "web", Image: "nginx:1"}, corev1.Container{Name: "side", Image: "busybox"})),
				},
				Status: corev1.ReplicationControllerStatus{Replicas: 2, ReadyReplicas: 1},
			},
			want: []interface{}{"rc", int64(3), int64(2), int64(1), "5m", "web,side", "nginx:1,busybox", "app=web"},
		},
		{
			gk:   schema.GroupKind{Kind: "Pod"},
			zero: &corev1.Pod{},
			full: &corev1.Pod{
				ObjectMeta: om("web-0"),
				Spec: corev1.PodSpec{
					NodeName:       "node-a",
					Containers:     []corev1.Container{{Name: "web"}, {Name: "log"}},
					ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "lb/ready"}, {ConditionType: "other"}},
				},
				Status: corev1.PodStatus{
					Phase:  corev1.PodRunning,
					PodIP:  "10.244.0.5",
					PodIPs: []corev1.PodIP{{IP: "10.244.0.5"}, {IP: "fd00::5"}},
					Conditions: []corev1.PodCondition{
						{Type: "lb/ready", Status: corev1.ConditionTrue},
						{Type: "other", Status: corev1.ConditionFalse},
					},
					ContainerStatuses: []corev1.ContainerStatus{
						{Name: "web", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
						{
							Name: "log", RestartCount: 3,
							State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
							LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
								ExitCode: 1, FinishedAt: ago(5 * time.Minute),
							}},
						},
					},
				},
			},
			want: []interface{}{"web-0", "1/2", "Running", "3 (5m ago)", "5m", "10.244.0.5", "node-a", "<none>", "1/2"},
		},
		{
			gk:   schema.GroupKind{Kind: "Event"},
			zero: &corev1.Event{},
			full: &corev1.Event{
				ObjectMeta:     om("web-0.17c"),
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-0", FieldPath: "spec.containers{web}"},
				Reason:         "BackOff",
				Message:        " Back-off restarting failed container\n",
				Source:         corev1.EventSource{Component: "kubelet", Host: "node-a"},
				FirstTimestamp: ago(10 * time.Minute),
				LastTimestamp:  ago(5 * time.Minute),
				Count:          4,
				Type:           corev1.EventTypeWarning,
			},
			want: []interface{}{
				"5m", "Warning", "BackOff", "pod/web-0", "spec.containers{web}", "kubelet, node-a",
				"Back-off restarting failed container", "10m", int64(4), "web-0.17c",
			},
		},
		{
			gk:   schema.GroupKind{Group: "events.k8s.io", Kind: "Event"},
			zero: &eventsv1.Event{},
			full: &eventsv1.Event{
				ObjectMeta:          om("p.1"),
				EventTime:           microAgo(2 * time.Minute),
				Series:              &eventsv1.EventSeries{Count: 7, LastObservedTime: microAgo(30 * time.Second)},
				ReportingController: "skiff.io/scheduler",
				ReportingInstance:   "scheduler-1",
				Action:              "Binding",
				Reason:              "Scheduled",
				Regarding:           corev1.ObjectReference{Kind: "Pod", Name: "p"},
				Note:                "assigned default/p to node-a",
				Type:                corev1.EventTypeNormal,
			},
			want: []interface{}{
				"30s", "Normal", "Scheduled", "pod/p", "", "skiff.io/scheduler, scheduler-1",
				"assigned default/p to node-a", "2m", int64(7), "p.1",
			},
		},
		{
			gk:   schema.GroupKind{Group: "apps", Kind: "Deployment"},
			zero: &appsv1.Deployment{},
			full: &appsv1.Deployment{
				ObjectMeta: om("web"),
				Spec: appsv1.DeploymentSpec{
					Replicas: ptr(int32(3)),
					Selector: selector("app", "web"),
					Template: podSpec(corev1.Container{Name: "web", Image: "nginx"}),
				},
				Status: appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2},
			},
			want: []interface{}{"web", "2/3", int64(3), int64(2), "5m", "web", "nginx", "app=web"},
		},
		{
			gk:   schema.GroupKind{Group: "apps", Kind: "ReplicaSet"},
			zero: &appsv1.ReplicaSet{},
			full: &appsv1.ReplicaSet{
				ObjectMeta: om("web-abc"),
				Spec: appsv1.ReplicaSetSpec{
					Selector: selector("app", "web"),
					Template: podSpec(corev1.Container{Name: "web", Image: "nginx"}),
				},
				Status: appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1},
			},
			// replicas is unset, which kube defaults to 1.
			want: []interface{}{"web-abc", int64(1), int64(1), int64(1), "5m", "web", "nginx", "app=web"},
		},
		{
			gk:   schema.GroupKind{Group: "apps", Kind: "DaemonSet"},
			zero: &appsv1.DaemonSet{},
			full: &appsv1.DaemonSet{
				ObjectMeta: om("fluentd"),
				Spec: appsv1.DaemonSetSpec{
					Selector: selector("app", "fluentd"),
					Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
						NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
						Containers:   []corev1.Container{{Name: "fluentd", Image: "fluentd:v1"}},
					}},
				},
				Status: appsv1.DaemonSetStatus{
					DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2,
					UpdatedNumberScheduled: 1, NumberAvailable: 2,
				},
			},
			want: []interface{}{
				"fluentd", int64(3), int64(3), int64(2), int64(1), int64(2), "kubernetes.io/os=linux", "5m",
				"fluentd", "fluentd:v1", "app=fluentd",
			},
		},
		{
			gk:   schema.GroupKind{Group: "apps", Kind: "StatefulSet"},
			zero: &appsv1.StatefulSet{},
			full: &appsv1.StatefulSet{
				ObjectMeta: om("db"),
				Spec: appsv1.StatefulSetSpec{
					Replicas: ptr(int32(3)),
					Template: podSpec(corev1.Container{Name: "pg", Image: "postgres:16"}),
				},
				Status: appsv1.StatefulSetStatus{ReadyReplicas: 1},
			},
			want: []interface{}{"db", "1/3", "5m", "pg", "postgres:16"},
		},
		{
			gk:   schema.GroupKind{Group: "apps", Kind: "ControllerRevision"},
			zero: &appsv1.ControllerRevision{},
			full: &appsv1.ControllerRevision{
				ObjectMeta: metav1.ObjectMeta{
					Name: "fluentd-5d4f", Namespace: "default", CreationTimestamp: ago(5 * time.Minute),
					OwnerReferences: []metav1.OwnerReference{
						{APIVersion: "v1", Kind: "Pod", Name: "not-the-controller"},
						{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "fluentd", Controller: ptr(true)},
					},
				},
				Revision: 2,
			},
			want: []interface{}{"fluentd-5d4f", "daemonset.apps/fluentd", int64(2), "5m"},
		},
		{
			gk:   schema.GroupKind{Group: "batch", Kind: "Job"},
			zero: &batchv1.Job{},
			full: &batchv1.Job{
				ObjectMeta: om("pi"),
				Spec: batchv1.JobSpec{
					Completions: ptr(int32(3)),
					Selector:    selector("batch.kubernetes.io/controller-uid", "abc"),
					Template:    podSpec(corev1.Container{Name: "pi", Image: "perl"}),
				},
				Status: batchv1.JobStatus{Succeeded: 1, StartTime: agoPtr(2 * time.Minute)},
			},
			want: []interface{}{"pi", "Running", "1/3", "2m", "5m", "pi", "perl", "batch.kubernetes.io/controller-uid=abc"},
		},
		{
			gk:   schema.GroupKind{Group: "batch", Kind: "CronJob"},
			zero: &batchv1.CronJob{},
			full: &batchv1.CronJob{
				ObjectMeta: om("tick"),
				Spec: batchv1.CronJobSpec{
					Schedule: "*/5 * * * *",
					TimeZone: ptr("Etc/UTC"),
					Suspend:  ptr(true),
					JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
						Template: podSpec(corev1.Container{Name: "c", Image: "busybox"}),
					}},
				},
				Status: batchv1.CronJobStatus{
					Active:           []corev1.ObjectReference{{Name: "tick-1"}},
					LastScheduleTime: agoPtr(90 * time.Second),
				},
			},
			want: []interface{}{"tick", "*/5 * * * *", "Etc/UTC", "True", int64(1), "90s", "5m", "c", "busybox", "<none>"},
		},
		{
			gk:   schema.GroupKind{Group: "coordination.k8s.io", Kind: "Lease"},
			zero: &coordinationv1.Lease{},
			full: &coordinationv1.Lease{ObjectMeta: om("node-a"), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-a")}},
			want: []interface{}{"node-a", "node-a", "5m"},
		},
		{
			gk:   schema.GroupKind{Group: "discovery.k8s.io", Kind: "EndpointSlice"},
			zero: &discoveryv1.EndpointSlice{},
			full: &discoveryv1.EndpointSlice{
				ObjectMeta:  om("web-xyz"),
				AddressType: discoveryv1.AddressTypeIPv4,
				Ports:       []discoveryv1.EndpointPort{{Port: ptr(int32(80))}, {Name: ptr("metrics")}, {}},
				Endpoints: []discoveryv1.Endpoint{
					{Addresses: []string{"10.0.0.1", "10.0.0.2"}},
					{Addresses: []string{"10.0.0.3"}},
					{Addresses: []string{"10.0.0.4"}},
				},
			},
			want: []interface{}{"web-xyz", "IPv4", "80,metrics,*", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "5m"},
		},
		{
			gk:   schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"},
			zero: &networkingv1.Ingress{},
			full: &networkingv1.Ingress{
				ObjectMeta: om("ing"),
				Spec: networkingv1.IngressSpec{
					IngressClassName: ptr("nginx"),
					Rules:            []networkingv1.IngressRule{{Host: "a.example"}, {}, {Host: "b.example"}},
					TLS:              []networkingv1.IngressTLS{{Hosts: []string{"a.example"}}},
				},
				Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
					Ingress: []networkingv1.IngressLoadBalancerIngress{{Hostname: "lb.example"}, {IP: "203.0.113.7"}},
				}},
			},
			want: []interface{}{"ing", "nginx", "a.example,b.example", "203.0.113.7,lb.example", "80, 443", "5m"},
		},
		{
			gk:   schema.GroupKind{Group: "storage.k8s.io", Kind: "StorageClass"},
			zero: &storagev1.StorageClass{},
			full: &storagev1.StorageClass{
				ObjectMeta: metav1.ObjectMeta{Name: "local-path", CreationTimestamp: ago(5 * time.Minute),
					Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
				Provisioner:       "rancher.io/local-path",
				VolumeBindingMode: ptr(storagev1.VolumeBindingWaitForFirstConsumer),
			},
			want: []interface{}{"local-path (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", "false", "5m"},
		},
	}...)
}

func TestRows(t *testing.T) {
	for _, kc := range kindCases() {
		t.Run(kc.gk.String(), func(t *testing.T) {
			p, ok := For(kc.gk)
			if !ok {
				t.Fatalf("no printer for %v", kc.gk)
			}
			if diff := cmp.Diff(kc.want, p.Row(kc.full, now)); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}

// TestShapes checks, for every registered kind, that the columns are
// well-formed and that every row, however empty or ill-typed the object,
// has exactly one cell per column of a type the column can hold.
func TestShapes(t *testing.T) {
	cases := kindCases()
	tested := map[schema.GroupKind]bool{}
	for _, kc := range cases {
		tested[kc.gk] = true
	}
	for gk := range registry {
		if !tested[gk] {
			t.Errorf("%v is registered but has no kindCase", gk)
		}
	}

	check := func(t *testing.T, p Printer, objs map[string]runtime.Object) {
		t.Helper()
		names := map[string]bool{}
		nameFormats := 0
		for _, c := range p.Columns {
			if names[c.Name] {
				t.Errorf("column %q twice", c.Name)
			}
			names[c.Name] = true
			if c.Format == "name" {
				nameFormats++
			}
			if c.Description == "" {
				t.Errorf("column %q has no description", c.Name)
			}
			if c.Priority != 0 && c.Priority != 1 {
				t.Errorf("column %q has priority %d", c.Name, c.Priority)
			}
			switch c.Type {
			case "string", "integer", "boolean", "date":
			default:
				t.Errorf("column %q has type %q", c.Name, c.Type)
			}
		}
		if nameFormats != 1 {
			t.Errorf("%d columns have format name, want 1", nameFormats)
		}
		for what, obj := range objs {
			row := p.Row(obj, now)
			if len(row) != len(p.Columns) {
				t.Errorf("%s: %d cells for %d columns: %v", what, len(row), len(p.Columns), row)
				continue
			}
			for i, cell := range row {
				col := p.Columns[i]
				switch cell.(type) {
				case string:
					// kube sends strings even in some "boolean" columns.
					if col.Type == "integer" {
						t.Errorf("%s: column %q is integer, cell is %q", what, col.Name, cell)
					}
				case int64:
					// …and counts in some "string" columns (DATA, SECRETS).
					if col.Type == "boolean" || col.Type == "date" {
						t.Errorf("%s: column %q is %s, cell is %d", what, col.Name, col.Type, cell)
					}
				default:
					t.Errorf("%s: column %q has a %T cell; only string and int64 serialise as kube's do", what, col.Name, cell)
				}
			}
		}
	}

	for _, kc := range cases {
		t.Run(kc.gk.String(), func(t *testing.T) {
			p, _ := For(kc.gk)
			check(t, p, map[string]runtime.Object{
				"zero":        kc.zero,
				"full":        kc.full,
				"typed nil":   typedNil(kc.zero),
				"nil":         nil,
				"wrong kind":  &unstructured.Unstructured{},
				"other typed": &corev1.Binding{},
			})
		})
	}
	t.Run("Default", func(t *testing.T) {
		objs := map[string]runtime.Object{"nil": nil, "typed nil": (*corev1.Pod)(nil), "unstructured": &unstructured.Unstructured{}}
		for _, kc := range cases {
			objs["zero "+kc.gk.String()] = kc.zero
			objs["full "+kc.gk.String()] = kc.full
		}
		check(t, Default(), objs)
	})
}

// typedNil returns a nil pointer of obj's type.
func typedNil(obj runtime.Object) runtime.Object {
	switch obj.(type) {
	case *corev1.Pod:
		return (*corev1.Pod)(nil)
	case *corev1.Event:
		return (*corev1.Event)(nil)
	case *eventsv1.Event:
		return (*eventsv1.Event)(nil)
	case *corev1.Service:
		return (*corev1.Service)(nil)
	case *appsv1.Deployment:
		return (*appsv1.Deployment)(nil)
	case *batchv1.Job:
		return (*batchv1.Job)(nil)
	case *corev1.Node:
		return (*corev1.Node)(nil)
	}
	return nil
}

func TestZeroRows(t *testing.T) {
	tests := []struct {
		gk   schema.GroupKind
		obj  runtime.Object
		want []interface{}
	}{
		{
			gk:   schema.GroupKind{Kind: "Pod"},
			obj:  &corev1.Pod{},
			want: []interface{}{"", "0/0", "Pending", "0", "<unknown>", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			gk:   schema.GroupKind{Kind: "Service"},
			obj:  (*corev1.Service)(nil),
			want: []interface{}{"", "ClusterIP", "<none>", "<none>", "<none>", "<unknown>", "<none>"},
		},
		{
			gk:   schema.GroupKind{Kind: "Node"},
			obj:  &corev1.Node{},
			want: []interface{}{"", "Unknown", "<none>", "<unknown>", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			gk:   schema.GroupKind{Kind: "Event"},
			obj:  &corev1.Event{},
			want: []interface{}{"<unknown>", "", "", "", "", "", "", "<unknown>", int64(1), ""},
		},
		{
			gk:   schema.GroupKind{Kind: "Endpoints"},
			obj:  &corev1.Endpoints{},
			want: []interface{}{"", "<none>", "<unknown>"},
		},
		{
			gk:   schema.GroupKind{Kind: "PersistentVolume"},
			obj:  &corev1.PersistentVolume{},
			want: []interface{}{"", "0", "", "Retain", "Pending", "", "", "<unset>", "", "<unknown>", "Filesystem"},
		},
		{
			gk:   schema.GroupKind{Kind: "PersistentVolumeClaim"},
			obj:  &corev1.PersistentVolumeClaim{},
			want: []interface{}{"", "Pending", "", "", "", "", "<unset>", "<unknown>", "Filesystem"},
		},
		{
			gk:   schema.GroupKind{Group: "apps", Kind: "Deployment"},
			obj:  &appsv1.Deployment{},
			want: []interface{}{"", "0/1", int64(0), int64(0), "<unknown>", "", "", ""},
		},
		{
			gk:   schema.GroupKind{Group: "apps", Kind: "ReplicaSet"},
			obj:  &appsv1.ReplicaSet{},
			want: []interface{}{"", int64(1), int64(0), int64(0), "<unknown>", "", "", "<none>"},
		},
		{
			gk:   schema.GroupKind{Group: "batch", Kind: "Job"},
			obj:  &batchv1.Job{},
			want: []interface{}{"", "Running", "0/1", "", "<unknown>", "", "", "<none>"},
		},
		{
			gk:   schema.GroupKind{Group: "batch", Kind: "CronJob"},
			obj:  &batchv1.CronJob{},
			want: []interface{}{"", "", "<none>", "False", int64(0), "<none>", "<unknown>", "", "", "<none>"},
		},
		{
			gk:   schema.GroupKind{Group: "discovery.k8s.io", Kind: "EndpointSlice"},
			obj:  &discoveryv1.EndpointSlice{},
			want: []interface{}{"", "", "<unset>", "<unset>", "<unknown>"},
		},
		{
			gk:   schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"},
			obj:  &networkingv1.Ingress{},
			want: []interface{}{"", "<none>", "*", "", "80", "<unknown>"},
		},
		{
			gk:   schema.GroupKind{Group: "apps", Kind: "ControllerRevision"},
			obj:  &appsv1.ControllerRevision{},
			want: []interface{}{"", "<none>", int64(0), "<unknown>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.gk.String(), func(t *testing.T) {
			p, _ := For(tt.gk)
			if diff := cmp.Diff(tt.want, p.Row(tt.obj, now)); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}

func TestColumnNames(t *testing.T) {
	// What kubectl prints as headers, wide columns included.
	tests := []struct {
		gk   schema.GroupKind
		want []string
	}{
		{schema.GroupKind{Kind: "Namespace"}, []string{"Name", "Status", "Age"}},
		{schema.GroupKind{Kind: "Pod"}, []string{"Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"}},
		{schema.GroupKind{Kind: "Service"}, []string{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"}},
		{schema.GroupKind{Kind: "Node"}, []string{"Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"}},
		{schema.GroupKind{Kind: "Event"}, []string{"Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count", "Name"}},
		{schema.GroupKind{Kind: "ConfigMap"}, []string{"Name", "Data", "Age"}},
		{schema.GroupKind{Kind: "Secret"}, []string{"Name", "Type", "Data", "Age"}},
		{schema.GroupKind{Group: "apps", Kind: "Deployment"}, []string{"Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"}},
		{schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}, []string{"Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"}},
		{schema.GroupKind{Group: "batch", Kind: "Job"}, []string{"Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"}},
		{schema.GroupKind{Group: "coordination.k8s.io", Kind: "Lease"}, []string{"Name", "Holder", "Age"}},
	}
	for _, tt := range tests {
		p, ok := For(tt.gk)
		if !ok {
			t.Fatalf("no printer for %v", tt.gk)
		}
		var got []string
		for _, c := range p.Columns {
			got = append(got, c.Name)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%v columns (-want +got):\n%s", tt.gk, diff)
		}
	}

	// Pod columns after AGE are the wide-only ones.
	p, _ := For(schema.GroupKind{Kind: "Pod"})
	for i, c := range p.Columns {
		want := int32(0)
		if i > 4 {
			want = 1
		}
		if c.Priority != want {
			t.Errorf("pod column %q priority %d, want %d", c.Name, c.Priority, want)
		}
	}
}

func TestForIsolation(t *testing.T) {
	p, _ := For(schema.GroupKind{Kind: "Pod"})
	p.Columns[0].Name = "changed"
	q, _ := For(schema.GroupKind{Kind: "Pod"})
	if q.Columns[0].Name != "Name" {
		t.Errorf("editing one For result changed the next: %q", q.Columns[0].Name)
	}
	if _, ok := For(schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}); ok {
		t.Error("ClusterRole has a printer; kube prints it with the default")
	}
	if _, ok := For(schema.GroupKind{Group: "extensions", Kind: "Pod"}); ok {
		t.Error("the group must be part of the key")
	}
}

func TestDefault(t *testing.T) {
	p := Default()
	if p.Columns[0].Name != "Name" || p.Columns[1].Name != "Created At" || p.Columns[1].Type != "date" {
		t.Errorf("columns = %+v", p.Columns)
	}
	created := metav1.NewTime(time.Date(2024, 4, 30, 8, 15, 0, 0, time.FixedZone("CEST", 2*3600)))
	u := &unstructured.Unstructured{}
	u.SetName("my-widget")
	u.SetCreationTimestamp(created)
	tests := []struct {
		name string
		obj  runtime.Object
		want []interface{}
	}{
		{"typed", &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits", CreationTimestamp: created}}, []interface{}{"limits", "2024-04-30T06:15:00Z"}},
		{"unstructured", u, []interface{}{"my-widget", "2024-04-30T06:15:00Z"}},
		{"zero", &corev1.LimitRange{}, []interface{}{"", "0001-01-01T00:00:00Z"}},
		{"nil", nil, []interface{}{"", "0001-01-01T00:00:00Z"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, p.Row(tt.obj, now)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
