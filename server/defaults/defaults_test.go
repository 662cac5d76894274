package defaults

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// diff compares API objects the way the API server does: quantities by
// value, not by their cached string form.
func diff(want, got interface{}) string {
	return cmp.Diff(want, got, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 }))
}

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default"}
}

// defaultedContainer is what a bare {name, image} container becomes.
func defaultedContainer(name, image string, policy corev1.PullPolicy) corev1.Container {
	return corev1.Container{
		Name:                     name,
		Image:                    image,
		ImagePullPolicy:          policy,
		TerminationMessagePath:   "/dev/termination-log",
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
}

// defaultedPodSpec is what a PodSpec with the given containers becomes in a
// template (Pods additionally get enableServiceLinks).
func defaultedPodSpec(cs ...corev1.Container) corev1.PodSpec {
	return corev1.PodSpec{
		Containers:                    cs,
		RestartPolicy:                 corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: ptr.To[int64](30),
		DNSPolicy:                     corev1.DNSClusterFirst,
		SecurityContext:               &corev1.PodSecurityContext{},
		SchedulerName:                 "default-scheduler",
	}
}

func bareTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
	}
}

func defaultedTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       defaultedPodSpec(defaultedContainer("web", "nginx:1.27", corev1.PullIfNotPresent)),
	}
}

func TestApply(t *testing.T) {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	tests := []struct {
		name string
		in   runtime.Object
		want runtime.Object
	}{
		{
			name: "pod",
			in: &corev1.Pod{ObjectMeta: meta("p"), Spec: corev1.PodSpec{
				Containers: []corev1.Container{{
					Name: "app", Image: "nginx",
					Ports: []corev1.ContainerPort{{ContainerPort: 80}},
					Env: []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{
						FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("500m")}},
					LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
						HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
						GRPC: &corev1.GRPCAction{Port: 9000}}},
				}},
				InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1.36"}},
				Volumes: []corev1.Volume{
					{Name: "scratch"},
					{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
					{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec"}}},
					{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}},
					{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
						Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
				},
				DeprecatedServiceAccount: "builder",
			}},
			want: &corev1.Pod{ObjectMeta: meta("p"), Spec: func() corev1.PodSpec {
				app := defaultedContainer("app", "nginx", corev1.PullAlways)
				app.Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
				app.Env = []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}}}
				app.Resources = corev1.ResourceRequirements{
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
				}
				app.LivenessProbe = &corev1.Probe{
					ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(80), Scheme: corev1.URISchemeHTTP}},
					TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
				}
				app.ReadinessProbe = &corev1.Probe{
					ProbeHandler:   corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000, Service: ptr.To("")}},
					TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
				}
				s := defaultedPodSpec(app)
				s.InitContainers = []corev1.Container{defaultedContainer("init", "busybox:1.36", corev1.PullIfNotPresent)}
				s.Volumes = []corev1.Volume{
					{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, DefaultMode: ptr.To[int32](420)}}},
					{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec", DefaultMode: ptr.To[int32](420)}}},
					{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log", Type: ptr.To(corev1.HostPathUnset)}}},
					{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
						DefaultMode: ptr.To[int32](420),
						Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
							Path: "token", ExpirationSeconds: ptr.To[int64](3600)}}}}}},
				}
				s.EnableServiceLinks = ptr.To(true)
				s.ServiceAccountName = "builder"
				s.DeprecatedServiceAccount = "builder"
				return s
			}()},
		},
		{
			name: "pod on host network gets host ports",
			in: &corev1.Pod{ObjectMeta: meta("p"), Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{
				Name: "app", Image: "nginx:1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}},
			want: &corev1.Pod{ObjectMeta: meta("p"), Spec: func() corev1.PodSpec {
				c := defaultedContainer("app", "nginx:1", corev1.PullIfNotPresent)
				c.Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 8080, Protocol: corev1.ProtocolTCP}}
				s := defaultedPodSpec(c)
				s.HostNetwork = true
				s.EnableServiceLinks = ptr.To(true)
				return s
			}()},
		},
		{
			name: "pod template gets no requests from limits",
			in: &corev1.PodTemplate{ObjectMeta: meta("t"), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: "nginx:1", Resources: corev1.ResourceRequirements{
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}}},
			want: &corev1.PodTemplate{ObjectMeta: meta("t"), Template: corev1.PodTemplateSpec{Spec: func() corev1.PodSpec {
				c := defaultedContainer("app", "nginx:1", corev1.PullIfNotPresent)
				c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
				return defaultedPodSpec(c)
			}()}},
		},
		{
			name: "deployment",
			in:   &appsv1.Deployment{ObjectMeta: meta("d"), Spec: appsv1.DeploymentSpec{Selector: sel, Template: bareTemplate()}},
			want: &appsv1.Deployment{ObjectMeta: meta("d"), Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: sel,
				Template: defaultedTemplate(),
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%"))}},
				RevisionHistoryLimit:    ptr.To[int32](10),
				ProgressDeadlineSeconds: ptr.To[int32](600),
			}},
		},
		{
			name: "deployment with recreate strategy gets no rollingUpdate",
			in: &appsv1.Deployment{ObjectMeta: meta("d"), Spec: appsv1.DeploymentSpec{Selector: sel, Template: bareTemplate(),
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}},
			want: &appsv1.Deployment{ObjectMeta: meta("d"), Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1), Selector: sel, Template: defaultedTemplate(),
				Strategy:             appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
				RevisionHistoryLimit: ptr.To[int32](10), ProgressDeadlineSeconds: ptr.To[int32](600),
			}},
		},
		{
			name: "replicaset",
			in:   &appsv1.ReplicaSet{ObjectMeta: meta("rs"), Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: bareTemplate()}},
			want: &appsv1.ReplicaSet{ObjectMeta: meta("rs"), Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: sel, Template: defaultedTemplate()}},
		},
		{
			name: "daemonset",
			in:   &appsv1.DaemonSet{ObjectMeta: meta("ds"), Spec: appsv1.DaemonSetSpec{Selector: sel, Template: bareTemplate()}},
			want: &appsv1.DaemonSet{ObjectMeta: meta("ds"), Spec: appsv1.DaemonSetSpec{
				Selector: sel, Template: defaultedTemplate(),
				UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{
					MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(0))}},
				RevisionHistoryLimit: ptr.To[int32](10),
			}},
		},
		{
			name: "statefulset",
			in: &appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{Selector: sel, Template: bareTemplate(),
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}}},
			want: &appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{
				Replicas: ptr.To[int32](1), Selector: sel, Template: defaultedTemplate(),
				PodManagementPolicy: appsv1.OrderedReadyPodManagement,
				UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
					RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0), MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
				RevisionHistoryLimit: ptr.To[int32](10),
				PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
					WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType},
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
					ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
						AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
						VolumeMode:  ptr.To(corev1.PersistentVolumeFilesystem)},
					Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}},
			}},
		},
		{
			name: "job",
			in:   &batchv1.Job{ObjectMeta: meta("j"), Spec: batchv1.JobSpec{Template: bareTemplate()}},
			want: &batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "default", Labels: map[string]string{"app": "web"}},
				Spec: batchv1.JobSpec{
					Parallelism: ptr.To[int32](1), Completions: ptr.To[int32](1), BackoffLimit: ptr.To[int32](6),
					CompletionMode: ptr.To(batchv1.NonIndexedCompletion), Suspend: ptr.To(false),
					PodReplacementPolicy: ptr.To(batchv1.TerminatingOrFailed), ManualSelector: ptr.To(false),
					Template: defaultedTemplate(),
				},
			},
		},
		{
			name: "job with parallelism only and a pod failure policy",
			in: &batchv1.Job{ObjectMeta: meta("j"), Spec: batchv1.JobSpec{Parallelism: ptr.To[int32](3), Template: bareTemplate(),
				PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
					Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}}}}}},
			want: &batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "default", Labels: map[string]string{"app": "web"}},
				Spec: batchv1.JobSpec{
					Parallelism: ptr.To[int32](3), BackoffLimit: ptr.To[int32](6),
					CompletionMode: ptr.To(batchv1.NonIndexedCompletion), Suspend: ptr.To(false),
					PodReplacementPolicy: ptr.To(batchv1.Failed), ManualSelector: ptr.To(false),
					PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
						Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{
							Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}}}},
					Template: defaultedTemplate(),
				},
			},
		},
		{
			name: "cronjob defaults only its own fields and the pod template",
			in: &batchv1.CronJob{ObjectMeta: meta("cj"), Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *",
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: bareTemplate()}}}},
			want: &batchv1.CronJob{ObjectMeta: meta("cj"), Spec: batchv1.CronJobSpec{
				Schedule: "*/5 * * * *", ConcurrencyPolicy: batchv1.AllowConcurrent, Suspend: ptr.To(false),
				SuccessfulJobsHistoryLimit: ptr.To[int32](3), FailedJobsHistoryLimit: ptr.To[int32](1),
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: defaultedTemplate()}},
			}},
		},
		{
			name: "replication controller adopts template labels",
			in: &corev1.ReplicationController{ObjectMeta: meta("rc"), Spec: corev1.ReplicationControllerSpec{
				Template: func() *corev1.PodTemplateSpec { t := bareTemplate(); return &t }()}},
			want: &corev1.ReplicationController{
				ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "default", Labels: map[string]string{"app": "web"}},
				Spec: corev1.ReplicationControllerSpec{Replicas: ptr.To[int32](1), Selector: map[string]string{"app": "web"},
					Template: func() *corev1.PodTemplateSpec { t := defaultedTemplate(); return &t }()},
			},
		},
		{
			name: "clusterIP service",
			in: &corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}, {Name: "metrics", Port: 9090, TargetPort: intstr.FromString("metrics")}}}},
			want: &corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "web"},
				Ports: []corev1.ServicePort{
					{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)},
					{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("metrics")},
				},
				Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
				InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyCluster),
				IPFamilyPolicy:        ptr.To(corev1.IPFamilyPolicySingleStack),
				IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
			}},
		},
		{
			name: "load balancer service",
			in: &corev1.Service{ObjectMeta: meta("lb"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
				SessionAffinity: corev1.ServiceAffinityClientIP, Ports: []corev1.ServicePort{{Port: 443, Protocol: corev1.ProtocolTCP}}}},
			want: &corev1.Service{ObjectMeta: meta("lb"), Spec: corev1.ServiceSpec{
				Type:                          corev1.ServiceTypeLoadBalancer,
				Ports:                         []corev1.ServicePort{{Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(443)}},
				SessionAffinity:               corev1.ServiceAffinityClientIP,
				SessionAffinityConfig:         &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](10800)}},
				ExternalTrafficPolicy:         corev1.ServiceExternalTrafficPolicyCluster,
				InternalTrafficPolicy:         ptr.To(corev1.ServiceInternalTrafficPolicyCluster),
				AllocateLoadBalancerNodePorts: ptr.To(true),
				IPFamilyPolicy:                ptr.To(corev1.IPFamilyPolicySingleStack),
				IPFamilies:                    []corev1.IPFamily{corev1.IPv4Protocol},
			}},
		},
		{
			name: "headless service without selector is dual-stack",
			in:   &corev1.Service{ObjectMeta: meta("h"), Spec: corev1.ServiceSpec{ClusterIP: "None"}},
			want: &corev1.Service{ObjectMeta: meta("h"), Spec: corev1.ServiceSpec{
				ClusterIP: "None", ClusterIPs: []string{"None"},
				Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
				InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyCluster),
				IPFamilyPolicy:        ptr.To(corev1.IPFamilyPolicyRequireDualStack),
				IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol},
			}},
		},
		{
			name: "headless service with selector is single-stack",
			in:   &corev1.Service{ObjectMeta: meta("h"), Spec: corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "db"}}},
			want: &corev1.Service{ObjectMeta: meta("h"), Spec: corev1.ServiceSpec{
				ClusterIP: "None", ClusterIPs: []string{"None"}, Selector: map[string]string{"app": "db"},
				Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
				InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyCluster),
				IPFamilyPolicy:        ptr.To(corev1.IPFamilyPolicySingleStack),
				IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
			}},
		},
		{
			name: "externalName service gets no IP families",
			in:   &corev1.Service{ObjectMeta: meta("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}},
			want: &corev1.Service{ObjectMeta: meta("ext"), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeExternalName, ExternalName: "example.com", SessionAffinity: corev1.ServiceAffinityNone}},
		},
		{
			name: "nodePort service with explicit IPv6 clusterIP",
			in: &corev1.Service{ObjectMeta: meta("np"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "fd00::10",
				Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}}},
			want: &corev1.Service{ObjectMeta: meta("np"), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeNodePort, ClusterIP: "fd00::10", ClusterIPs: []string{"fd00::10"},
				Ports:           []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)}},
				SessionAffinity: corev1.ServiceAffinityNone, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
				InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyCluster),
				IPFamilyPolicy:        ptr.To(corev1.IPFamilyPolicySingleStack),
				IPFamilies:            []corev1.IPFamily{corev1.IPv6Protocol},
			}},
		},
		{
			name: "secret folds stringData into data",
			in: &corev1.Secret{ObjectMeta: meta("s"), Data: map[string][]byte{"a": []byte("1"), "b": []byte("old")},
				StringData: map[string]string{"b": "new"}},
			want: &corev1.Secret{ObjectMeta: meta("s"), Type: corev1.SecretTypeOpaque,
				Data: map[string][]byte{"a": []byte("1"), "b": []byte("new")}},
		},
		{
			name: "namespace gets its name label",
			in:   &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"env": "dev"}}},
			want: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a",
				Labels: map[string]string{"env": "dev", "kubernetes.io/metadata.name": "team-a"}},
				Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		},
		{
			name: "namespace without a name yet gets no label",
			in:   &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ns-"}},
			want: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ns-"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		},
		{
			name: "node podCIDR wins over a different podCIDRs, as in kube's conversion",
			in: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"},
				Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24", PodCIDRs: []string{"10.42.1.0/24", "fd00::/64"}}},
			want: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"},
				Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24", PodCIDRs: []string{"10.42.0.0/24"}}},
		},
		{
			name: "node podCIDR follows podCIDRs",
			in:   &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{PodCIDRs: []string{"10.42.1.0/24", "fd00::/64"}}},
			want: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"},
				Spec: corev1.NodeSpec{PodCIDR: "10.42.1.0/24", PodCIDRs: []string{"10.42.1.0/24", "fd00::/64"}}},
		},
		{
			name: "pvc",
			in: &corev1.PersistentVolumeClaim{ObjectMeta: meta("c"), Spec: corev1.PersistentVolumeClaimSpec{
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}},
			want: &corev1.PersistentVolumeClaim{ObjectMeta: meta("c"), Spec: corev1.PersistentVolumeClaimSpec{
				Resources:  corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				VolumeMode: ptr.To(corev1.PersistentVolumeFilesystem)},
				Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}},
		},
		{
			name: "pv",
			in: &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv"}, Spec: corev1.PersistentVolumeSpec{
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}}}},
			want: &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv"}, Spec: corev1.PersistentVolumeSpec{
				PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data", Type: ptr.To(corev1.HostPathUnset)}},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				VolumeMode:                    ptr.To(corev1.PersistentVolumeFilesystem)},
				Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumePending}},
		},
		{
			name: "node allocatable defaults to capacity",
			in: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{
				Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}}},
			want: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{
				Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")},
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}}},
		},
		{
			name: "endpoints ports",
			in: &corev1.Endpoints{ObjectMeta: meta("web"), Subsets: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{{IP: "10.1.0.5"}}, Ports: []corev1.EndpointPort{{Port: 80}}}}},
			want: &corev1.Endpoints{ObjectMeta: meta("web"), Subsets: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{{IP: "10.1.0.5"}}, Ports: []corev1.EndpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}},
		},
		{
			name: "endpointslice ports",
			in: &discoveryv1.EndpointSlice{ObjectMeta: meta("web-abc"), AddressType: discoveryv1.AddressTypeIPv4,
				Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}}},
			want: &discoveryv1.EndpointSlice{ObjectMeta: meta("web-abc"), AddressType: discoveryv1.AddressTypeIPv4,
				Ports: []discoveryv1.EndpointPort{{Name: ptr.To(""), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](80)}}},
		},
		{
			name: "ingress has no defaults",
			in: &networkingv1.Ingress{ObjectMeta: meta("i"), Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/"}}}}}}}},
			want: &networkingv1.Ingress{ObjectMeta: meta("i"), Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/"}}}}}}}},
		},
		{
			name: "unknown types are left alone",
			in:   &coordinationv1.Lease{ObjectMeta: meta("l")},
			want: &coordinationv1.Lease{ObjectMeta: meta("l")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.DeepCopyObject()
			Apply(got)
			if d := diff(tt.want, got); d != "" {
				t.Fatalf("Apply() mismatch (-want +got):\n%s", d)
			}
			again := got.DeepCopyObject()
			Apply(again)
			if d := diff(got, again); d != "" {
				t.Fatalf("Apply() is not idempotent (-first +second):\n%s", d)
			}
		})
	}
}

// TestApplyKeepsExplicitValues checks that objects whose defaultable fields
// are all set, to non-default values, come out unchanged.
func TestApplyKeepsExplicitValues(t *testing.T) {
	container := corev1.Container{
		Name: "app", Image: "nginx:latest", ImagePullPolicy: corev1.PullNever,
		TerminationMessagePath: "/tmp/msg", TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		Ports: []corev1.ContainerPort{{ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
		Env: []corev1.EnvVar{{Name: "NS", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}},
		Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}},
		StartupProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: "/healthz", Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTPS}},
			TimeoutSeconds: 5, PeriodSeconds: 2, SuccessThreshold: 1, FailureThreshold: 30},
	}
	spec := corev1.PodSpec{
		Containers:                    []corev1.Container{container},
		RestartPolicy:                 corev1.RestartPolicyNever,
		TerminationGracePeriodSeconds: ptr.To[int64](5),
		DNSPolicy:                     corev1.DNSDefault,
		SecurityContext:               &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000)},
		SchedulerName:                 "custom",
		ServiceAccountName:            "runner",
		DeprecatedServiceAccount:      "runner",
		EnableServiceLinks:            ptr.To(false),
		Volumes: []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, DefaultMode: ptr.To[int32](0400)}}}},
	}
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}, Spec: spec}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	objs := []runtime.Object{
		&corev1.Pod{ObjectMeta: meta("p"), Spec: spec},
		&appsv1.Deployment{ObjectMeta: meta("d"), Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3), Selector: sel, Template: template,
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1))}},
			RevisionHistoryLimit: ptr.To[int32](2), ProgressDeadlineSeconds: ptr.To[int32](120)}},
		&appsv1.StatefulSet{ObjectMeta: meta("s"), Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](0), Selector: sel, Template: template, PodManagementPolicy: appsv1.ParallelPodManagement,
			UpdateStrategy:       appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
			RevisionHistoryLimit: ptr.To[int32](1),
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.DeletePersistentVolumeClaimRetentionPolicyType}}},
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "default", Labels: map[string]string{"own": "label"}}, Spec: batchv1.JobSpec{
			Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](4), BackoffLimit: ptr.To[int32](0),
			CompletionMode: ptr.To(batchv1.IndexedCompletion), Suspend: ptr.To(true),
			PodReplacementPolicy: ptr.To(batchv1.Failed), ManualSelector: ptr.To(true), Selector: sel, Template: template}},
		&batchv1.CronJob{ObjectMeta: meta("c"), Spec: batchv1.CronJobSpec{Schedule: "@hourly",
			ConcurrencyPolicy: batchv1.ForbidConcurrent, Suspend: ptr.To(true),
			SuccessfulJobsHistoryLimit: ptr.To[int32](0), FailedJobsHistoryLimit: ptr.To[int32](5),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template}}}},
		&corev1.Service{ObjectMeta: meta("svc"), Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: "10.0.0.10", ClusterIPs: []string{"10.0.0.10"},
			Ports:           []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(5353), NodePort: 30053}},
			SessionAffinity: corev1.ServiceAffinityNone, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyLocal),
			IPFamilyPolicy:        ptr.To(corev1.IPFamilyPolicyPreferDualStack), IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}}},
		&corev1.Secret{ObjectMeta: meta("tls"), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv"}, Spec: corev1.PersistentVolumeSpec{
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete, VolumeMode: ptr.To(corev1.PersistentVolumeBlock),
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "d", VolumeHandle: "h"}}},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}},
	}
	for _, obj := range objs {
		t.Run(fmtType(obj), func(t *testing.T) {
			got := obj.DeepCopyObject()
			Apply(got)
			if d := diff(obj, got); d != "" {
				t.Fatalf("Apply() changed an explicit value (-want +got):\n%s", d)
			}
		})
	}
}

func fmtType(obj runtime.Object) string {
	switch obj.(type) {
	case *corev1.Pod:
		return "Pod"
	case *appsv1.Deployment:
		return "Deployment"
	case *appsv1.StatefulSet:
		return "StatefulSet"
	case *batchv1.Job:
		return "Job"
	case *batchv1.CronJob:
		return "CronJob"
	case *corev1.Service:
		return "Service"
	case *corev1.Secret:
		return "Secret"
	case *corev1.PersistentVolume:
		return "PersistentVolume"
	}
	return "Object"
}

func TestPullPolicy(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		image string
		want  corev1.PullPolicy
	}{
		{"nginx", corev1.PullAlways},
		{"nginx:latest", corev1.PullAlways},
		{"nginx:1.27", corev1.PullIfNotPresent},
		{"library/nginx:1.27-alpine", corev1.PullIfNotPresent},
		{"ghcr.io/org/app:v1.2.3", corev1.PullIfNotPresent},
		{"ghcr.io/org/app", corev1.PullAlways},
		{"localhost:5000/app", corev1.PullAlways},
		{"localhost:5000/app:dev", corev1.PullIfNotPresent},
		{"registry.example.com:8443/team/app", corev1.PullAlways},
		{"nginx@" + digest, corev1.PullIfNotPresent},
		{"nginx:latest@" + digest, corev1.PullAlways},
		{"nginx:1.27@" + digest, corev1.PullIfNotPresent},
		{"", corev1.PullIfNotPresent},
		{"Nginx", corev1.PullIfNotPresent},         // upper case is not a valid repository
		{"nginx:bad tag", corev1.PullIfNotPresent}, // unparsable
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", corev1.PullIfNotPresent},
		{"Registry.Example.com/app", corev1.PullAlways}, // upper case is fine in a registry host
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			if got := pullPolicy(tt.image); got != tt.want {
				t.Fatalf("pullPolicy(%q) = %s, want %s", tt.image, got, tt.want)
			}
		})
	}
}

func TestJobSelector(t *testing.T) {
	tests := []struct {
		name       string
		job        batchv1.Job
		wantLabels map[string]string
		wantTmpl   map[string]string
		wantSel    *metav1.LabelSelector
	}{
		{
			name: "generated",
			job: batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: "u-1"},
				Spec: batchv1.JobSpec{ManualSelector: ptr.To(false)}},
			wantLabels: map[string]string{"job-name": "pi", "controller-uid": "u-1",
				"batch.kubernetes.io/job-name": "pi", "batch.kubernetes.io/controller-uid": "u-1"},
			wantTmpl: map[string]string{"job-name": "pi", "controller-uid": "u-1",
				"batch.kubernetes.io/job-name": "pi", "batch.kubernetes.io/controller-uid": "u-1"},
			wantSel: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "u-1"}},
		},
		{
			name: "user labels are kept, job labels too",
			job: batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: "u-1", Labels: map[string]string{"team": "a"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{
					Labels: map[string]string{"app": "pi", "job-name": "custom"}}}}},
			wantLabels: map[string]string{"team": "a"},
			wantTmpl: map[string]string{"app": "pi", "job-name": "custom", "controller-uid": "u-1",
				"batch.kubernetes.io/job-name": "pi", "batch.kubernetes.io/controller-uid": "u-1"},
			wantSel: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "u-1"}},
		},
		{
			name: "manual selector is left alone",
			job: batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: "u-1"},
				Spec: batchv1.JobSpec{ManualSelector: ptr.To(true), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}}}}},
			wantTmpl: map[string]string{"a": "b"},
			wantSel:  &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := tt.job.DeepCopy()
			JobSelector(j)
			if d := cmp.Diff(tt.wantLabels, j.Labels); d != "" {
				t.Errorf("labels (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantTmpl, j.Spec.Template.Labels); d != "" {
				t.Errorf("template labels (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantSel, j.Spec.Selector); d != "" {
				t.Errorf("selector (-want +got):\n%s", d)
			}
			again := j.DeepCopy()
			JobSelector(again)
			if d := cmp.Diff(j, again); d != "" {
				t.Errorf("JobSelector is not idempotent (-first +second):\n%s", d)
			}
		})
	}
}

func TestResourceRounding(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "a:1",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100u")}}}}}}
	Apply(p)
	got := p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
	if got.String() != "1m" {
		t.Fatalf("cpu request = %s, want 1m (kube rounds up to milli units)", got.String())
	}
}

func TestKeepServiceAllocations(t *testing.T) {
	stored := &corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.43.0.10", ClusterIPs: []string{"10.43.0.10"},
		IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicyPreferDualStack), IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
		ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, HealthCheckNodePort: 31999,
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30080}, {Name: "https", Port: 443, NodePort: 30443}},
	}}
	tests := []struct {
		name string
		in   corev1.ServiceSpec
		want corev1.ServiceSpec
	}{
		{
			name: "manifest without allocations keeps them",
			in: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
				Ports: []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "https", Port: 8443}}},
			want: func() corev1.ServiceSpec {
				s := *stored.Spec.DeepCopy()
				s.Ports[1].Port = 8443
				return s
			}(),
		},
		{
			name: "explicit values win",
			in: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.43.0.99",
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, HealthCheckNodePort: 32000,
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30443}, {Name: "https", Port: 443}}},
			want: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.43.0.99", ClusterIPs: []string{"10.43.0.10"},
				IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicyPreferDualStack), IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, HealthCheckNodePort: 32000,
				// 30443 is taken by "http" now, so "https" is left for the allocator.
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30443}, {Name: "https", Port: 443}}},
		},
		{
			name: "switch to ExternalName drops nothing in",
			in:   corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"},
			want: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"},
		},
		{
			name: "switch to ClusterIP keeps the IP but not node ports",
			in:   corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
			want: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.43.0.10", ClusterIPs: []string{"10.43.0.10"},
				IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicyPreferDualStack), IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &corev1.Service{ObjectMeta: meta("web"), Spec: tt.in}
			KeepServiceAllocations(svc, stored.DeepCopy())
			if d := cmp.Diff(tt.want, svc.Spec); d != "" {
				t.Fatalf("spec mismatch (-want +got):\n%s", d)
			}
		})
	}
}
