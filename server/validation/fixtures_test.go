package validation

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiff-io/skiff/server/defaults"
)

// The fixtures below are realistic manifests, written the way a user would
// write them (no defaults), and then run through defaults.Apply exactly as
// the API server will before validating.

// prepared defaults obj as the server does on create. Jobs also get their
// UID and generated selector.
func prepared[T runtime.Object](obj T) T {
	defaults.Apply(obj)
	if j, ok := any(obj).(*batchv1.Job); ok {
		if j.UID == "" {
			j.UID = "0f3c9e1a-6b2d-4c1e-9d8f-2a7b5c4d3e21"
		}
		defaults.JobSelector(j)
	}
	return obj
}

func objMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", ResourceVersion: "1"}
}

func webTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{"app": "web", "tier": "frontend"},
			Annotations: map[string]string{"prometheus.io/scrape": "true"},
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: "web",
			SecurityContext:    &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](101), FSGroup: ptr.To[int64](101)},
			Containers: []corev1.Container{{
				Name:  "web",
				Image: "nginx:1.27-alpine",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				Env: []corev1.EnvVar{
					{Name: "LOG_LEVEL", Value: "info"},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
					{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
					{Name: "MEM_LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory"}}},
				},
				EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}}}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
					InitialDelaySeconds: 2},
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}},
				Lifecycle:     &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "config", MountPath: "/etc/nginx/conf.d", ReadOnly: true},
					{Name: "cache", MountPath: "/var/cache/nginx"},
				},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"},
					Items:                []corev1.KeyToPath{{Key: "default.conf", Path: "default.conf"}}}}},
				{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
			},
			NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
			Tolerations:  []corev1.Toleration{{Key: "node-role.kubernetes.io/edge", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, TopologyKey: "kubernetes.io/hostname"}}}}},
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone",
				WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
		},
	}
}

func validDeployment() *appsv1.Deployment {
	return prepared(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "1",
			Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"deployment.kubernetes.io/revision": "1"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"frontend"}}}},
			Template: webTemplate(),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}},
			MinReadySeconds: 5,
		},
	})
}

func validReplicaSet() *appsv1.ReplicaSet {
	return prepared(&appsv1.ReplicaSet{ObjectMeta: objMeta("web-7d9c"), Spec: appsv1.ReplicaSetSpec{
		Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: webTemplate()}})
}

func validDaemonSet() *appsv1.DaemonSet {
	t := webTemplate()
	t.Spec.Containers[0].Name = "agent"
	return prepared(&appsv1.DaemonSet{ObjectMeta: objMeta("agent"), Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: t}})
}

func validStatefulSet() *appsv1.StatefulSet {
	return prepared(&appsv1.StatefulSet{
		ObjectMeta: objMeta("db"),
		Spec: appsv1.StatefulSetSpec{
			ServiceName: "db",
			Replicas:    ptr.To[int32](3),
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](60),
					Containers: []corev1.Container{{
						Name: "postgres", Image: "postgres:16",
						Ports:        []corev1.ContainerPort{{Name: "pg", ContainerPort: 5432}},
						Env:          []corev1.EnvVar{{Name: "PGDATA", Value: "/var/lib/postgresql/data/pgdata"}},
						VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/postgresql/data"}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
							Command: []string{"pg_isready", "-U", "postgres"}}}},
					}},
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: ptr.To("local-path"),
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
				},
			}},
		},
	})
}

func validPod() *corev1.Pod {
	return prepared(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "debug", Namespace: "default", ResourceVersion: "1", Labels: map[string]string{"run": "debug"}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{
				{Name: "wait-db", Image: "busybox:1.36", Command: []string{"sh", "-c", "until nc -z db 5432; do sleep 1; done"}},
				{Name: "log-shipper", Image: "fluent/fluent-bit:3.0", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
					StartupProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(2020)}}},
					VolumeMounts: []corev1.VolumeMount{{Name: "logs", MountPath: "/logs", ReadOnly: true}}},
			},
			Containers: []corev1.Container{{
				Name: "app", Image: "ghcr.io/example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				Args:  []string{"--port=8080"},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
				Env:   []corev1.EnvVar{{Name: "my.dotted-name", Value: "ok"}},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "logs", MountPath: "/var/log/app"},
					{Name: "tls", MountPath: "/etc/tls", ReadOnly: true},
					{Name: "info", MountPath: "/etc/podinfo"},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "logs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(resource.MustParse("1Gi"))}}},
				{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "app-tls", DefaultMode: ptr.To[int32](0400)}}},
				{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
					{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
					{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "requests.cpu"}},
				}}}},
			},
			RestartPolicy:         corev1.RestartPolicyOnFailure,
			ActiveDeadlineSeconds: ptr.To[int64](3600),
			Tolerations:           []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}},
			Hostname:              "debug",
			DNSConfig:             &corev1.PodDNSConfig{Searches: []string{"svc.cluster.local"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}}},
		},
	})
}

func validService() *corev1.Service {
	return prepared(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "1", Labels: map[string]string{"app": "web"}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
				{Name: "metrics", Port: 9113, TargetPort: intstr.FromInt32(9113), AppProtocol: ptr.To("http")},
			},
		},
	})
}

// allocated is what the server does to a defaulted service on create.
func allocated(s *corev1.Service, ip string) *corev1.Service {
	s.Spec.ClusterIP = ip
	s.Spec.ClusterIPs = []string{ip}
	return s
}

func validConfigMap() *corev1.ConfigMap {
	return prepared(&corev1.ConfigMap{
		ObjectMeta: objMeta("web-config"),
		Data: map[string]string{
			"default.conf": "server { listen 8080; location / { root /usr/share/nginx/html; } }",
			"LOG_FORMAT":   "json",
			".hidden":      "yes",
		},
		BinaryData: map[string][]byte{"favicon.ico": {0x00, 0x01, 0x02}},
	})
}

func validSecret() *corev1.Secret {
	return prepared(&corev1.Secret{
		ObjectMeta: objMeta("db"),
		Data:       map[string][]byte{"password": []byte("s3cr3t")},
		StringData: map[string]string{"username": "app"},
	})
}

func validTLSSecret() *corev1.Secret {
	return prepared(&corev1.Secret{
		ObjectMeta: objMeta("app-tls"), Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": []byte("-----BEGIN CERTIFICATE-----"), "tls.key": []byte("-----BEGIN PRIVATE KEY-----")},
	})
}

func validJob() *batchv1.Job {
	return prepared(&batchv1.Job{
		ObjectMeta: objMeta("pi"),
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To[int32](4),
			TTLSecondsAfterFinished: ptr.To[int32](600),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "pi", Image: "perl:5.34",
					Command: []string{"perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"}}},
			}},
		},
	})
}

func validCronJob() *batchv1.CronJob {
	return prepared(&batchv1.CronJob{
		ObjectMeta: objMeta("backup"),
		Spec: batchv1.CronJobSpec{
			Schedule:                "*/15 1-5,22 * JAN-dec mon-FRI",
			TimeZone:                ptr.To("Europe/Berlin"),
			ConcurrencyPolicy:       batchv1.ForbidConcurrent,
			StartingDeadlineSeconds: ptr.To[int64](120),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "backup"}},
				Spec: batchv1.JobSpec{
					BackoffLimit: ptr.To[int32](2),
					Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
						RestartPolicy: corev1.RestartPolicyOnFailure,
						Containers: []corev1.Container{{Name: "backup", Image: "registry.example.com/tools/backup:2024.1",
							Args: []string{"--target", "s3://bucket"}}},
					}},
				},
			},
		},
	})
}

func validIngress() *networkingv1.Ingress {
	prefix, exact := networkingv1.PathTypePrefix, networkingv1.PathTypeExact
	return prepared(&networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "1",
			Annotations: map[string]string{"traefik.ingress.kubernetes.io/router.entrypoints": "websecure"}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("traefik"),
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{"www.example.com", "*.apps.example.com"}, SecretName: "app-tls"}},
			Rules: []networkingv1.IngressRule{
				{Host: "www.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: "web", Port: networkingv1.ServiceBackendPort{Name: "http"}}}},
					{Path: "/metrics", PathType: &exact, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: "web", Port: networkingv1.ServiceBackendPort{Number: 9113}}}},
				}}}},
				{Host: "*.apps.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					{Path: "/api", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: "api", Port: networkingv1.ServiceBackendPort{Number: 8080}}}},
				}}}},
			},
		},
	})
}

func validNamespace() *corev1.Namespace {
	return prepared(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", ResourceVersion: "1",
		Labels: map[string]string{"team": "a"}}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}})
}

func validNode() *corev1.Node {
	return prepared(&corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "edge-01.example.com", ResourceVersion: "1", Labels: map[string]string{"kubernetes.io/hostname": "edge-01"}},
		Spec: corev1.NodeSpec{PodCIDRs: []string{"10.42.0.0/24"}, PodCIDR: "10.42.0.0/24",
			Taints: []corev1.Taint{{Key: "node-role.kubernetes.io/edge", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourcePods: resource.MustParse("110")}},
	})
}

func validCoreEvent() *corev1.Event {
	return prepared(&corev1.Event{
		ObjectMeta:     objMeta("web-7d9c.17f1a2b3c4d5e6f7"),
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-7d9c"},
		Reason:         "Pulled", Message: "Successfully pulled image", Type: corev1.EventTypeNormal,
		Source: corev1.EventSource{Component: "kubelet", Host: "edge-01"}, Count: 1,
	})
}

func validEventsV1() *eventsv1.Event {
	return prepared(&eventsv1.Event{
		ObjectMeta:          objMeta("web-7d9c.17f1a2b3c4d5e6f8"),
		EventTime:           metav1.NewMicroTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)),
		ReportingController: "skiff.io/agent",
		ReportingInstance:   "agent-edge-01",
		Action:              "Pulling",
		Reason:              "Pulling",
		Regarding:           corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-7d9c"},
		Note:                "Pulling image nginx",
		Type:                corev1.EventTypeNormal,
	})
}

func validServiceAccount() *corev1.ServiceAccount {
	return prepared(&corev1.ServiceAccount{ObjectMeta: objMeta("web"), AutomountServiceAccountToken: ptr.To(false)})
}

func validPVC() *corev1.PersistentVolumeClaim {
	return prepared(&corev1.PersistentVolumeClaim{
		ObjectMeta: objMeta("data"),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To("local-path"),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")}},
		},
	})
}

func validPV() *corev1.PersistentVolume {
	return prepared(&corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-data-01", ResourceVersion: "1"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:       "local-path",
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/data", Type: ptr.To(corev1.HostPathDirectoryOrCreate)}},
		},
	})
}

func validLease() *coordinationv1.Lease {
	return prepared(&coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "edge-01", Namespace: "kube-node-lease", ResourceVersion: "1"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("edge-01"), LeaseDurationSeconds: ptr.To[int32](40),
			RenewTime: ptr.To(metav1.NewMicroTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)))},
	})
}

func validEndpointSlice() *discoveryv1.EndpointSlice {
	return prepared(&discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-x7k2p", Namespace: "default", ResourceVersion: "1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{"10.42.0.7"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			NodeName:   ptr.To("edge-01"),
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-7d9c"},
			Hints:      &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: "zone-a"}}},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
	})
}

func validEndpoints() *corev1.Endpoints {
	return prepared(&corev1.Endpoints{
		ObjectMeta: objMeta("web"),
		Subsets: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{{IP: "10.42.0.7", NodeName: ptr.To("edge-01")}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.42.0.8", Hostname: "web-1"}},
			Ports:             []corev1.EndpointPort{{Name: "http", Port: 8080}, {Name: "metrics", Port: 9113}},
		}},
	})
}

func defaultsApply(obj runtime.Object) { defaults.Apply(obj) }
