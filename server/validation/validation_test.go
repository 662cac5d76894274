package validation

import (
	"sort"
	"strings"
	"testing"

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
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// want is one expected error: its type, its field path and, when set, a
// fragment of its message (detail or rendered value).
type want struct {
	typ    field.ErrorType
	field  string
	detail string
}

func required(f string, detail ...string) want {
	return want{field.ErrorTypeRequired, f, strings.Join(detail, "")}
}
func invalid(f string, detail ...string) want {
	return want{field.ErrorTypeInvalid, f, strings.Join(detail, "")}
}
func forbidden(f string, detail ...string) want {
	return want{field.ErrorTypeForbidden, f, strings.Join(detail, "")}
}
func notSupported(f string, detail ...string) want {
	return want{field.ErrorTypeNotSupported, f, strings.Join(detail, "")}
}
func duplicate(f string) want { return want{field.ErrorTypeDuplicate, f, ""} }
func notFound(f string) want  { return want{field.ErrorTypeNotFound, f, ""} }
func tooLong(f string) want   { return want{field.ErrorTypeTooLong, f, ""} }

// checkErrors requires errs to hold exactly the wanted (type, field) pairs,
// each with its message fragment, so unexpected extra errors fail too.
func checkErrors(t *testing.T, errs field.ErrorList, wants []want) {
	t.Helper()
	got := map[string][]*field.Error{}
	for _, e := range errs {
		k := string(e.Type) + " " + e.Field
		got[k] = append(got[k], e)
	}
	wanted := map[string]bool{}
	for _, w := range wants {
		k := string(w.typ) + " " + w.field
		wanted[k] = true
		es, ok := got[k]
		if !ok {
			t.Errorf("missing %s error on %q%s", w.typ, w.field, dump(errs))
			continue
		}
		if w.detail == "" {
			continue
		}
		found := false
		for _, e := range es {
			if strings.Contains(e.Error(), w.detail) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s on %q does not mention %q: %v", w.typ, w.field, w.detail, es)
		}
	}
	var extra []string
	for k, es := range got {
		if !wanted[k] {
			for _, e := range es {
				extra = append(extra, e.Error())
			}
		}
	}
	sort.Strings(extra)
	for _, e := range extra {
		t.Errorf("unexpected error: %s", e)
	}
}

func dump(errs field.ErrorList) string {
	if len(errs) == 0 {
		return " (no errors)"
	}
	var b strings.Builder
	b.WriteString(":")
	for _, e := range errs {
		b.WriteString("\n\t" + e.Error())
	}
	return b.String()
}

func TestCreateValid(t *testing.T) {
	tests := []struct {
		name string
		obj  runtime.Object
	}{
		{"deployment", validDeployment()},
		{"replicaset", validReplicaSet()},
		{"daemonset", validDaemonSet()},
		{"statefulset", validStatefulSet()},
		{"pod", validPod()},
		{"service", validService()},
		{"service with allocated IP", allocated(validService(), "10.43.0.10")},
		{"headless service", prepared(&corev1.Service{ObjectMeta: objMeta("db"), Spec: corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "db"}}})},
		{"headless service without selector", prepared(&corev1.Service{ObjectMeta: objMeta("ext-db"), Spec: corev1.ServiceSpec{ClusterIP: "None"}})},
		{"externalName service", prepared(&corev1.Service{ObjectMeta: objMeta("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com."}})},
		{"load balancer service", prepared(&corev1.Service{ObjectMeta: objMeta("lb"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, Ports: []corev1.ServicePort{{Port: 443, NodePort: 30443}}}})},
		{"configmap", validConfigMap()},
		{"secret", validSecret()},
		{"tls secret", validTLSSecret()},
		{"dockerconfigjson secret", prepared(&corev1.Secret{ObjectMeta: objMeta("pull"), Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{".dockerconfigjson": []byte(`{"auths":{"ghcr.io":{"auth":"eDp5"}}}`)}})},
		{"job", validJob()},
		{"indexed job", prepared(&batchv1.Job{ObjectMeta: objMeta("idx"), Spec: batchv1.JobSpec{
			CompletionMode: ptr.To(batchv1.IndexedCompletion), Completions: ptr.To[int32](5), Parallelism: ptr.To[int32](2),
			BackoffLimitPerIndex: ptr.To[int32](1), MaxFailedIndexes: ptr.To[int32](2),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "w", Image: "busybox"}}}}}})},
		{"cronjob", validCronJob()},
		{"cronjob with descriptor", func() runtime.Object { c := validCronJob(); c.Spec.Schedule = "@every 1h30m"; return c }()},
		{"ingress", validIngress()},
		{"ingress with default backend only", prepared(&networkingv1.Ingress{ObjectMeta: objMeta("catch-all"), Spec: networkingv1.IngressSpec{
			DefaultBackend: &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{APIGroup: ptr.To("k8s.example.com"), Kind: "StorageBucket", Name: "static"}}}})},
		{"namespace", validNamespace()},
		{"node", validNode()},
		{"core event", validCoreEvent()},
		{"events.k8s.io event", validEventsV1()},
		{"serviceaccount", validServiceAccount()},
		{"pvc", validPVC()},
		{"pv", validPV()},
		{"lease", validLease()},
		{"endpointslice", validEndpointSlice()},
		{"endpoints", validEndpoints()},
		{"pod template", prepared(&corev1.PodTemplate{ObjectMeta: objMeta("tmpl"), Template: webTemplate()})},
		{"replication controller", prepared(&corev1.ReplicationController{ObjectMeta: objMeta("rc"), Spec: corev1.ReplicationControllerSpec{
			Template: func() *corev1.PodTemplateSpec { t := webTemplate(); return &t }()}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, Create(tt.obj), nil)
		})
	}
}

// mutate returns a prepared copy of base with fn applied before defaulting,
// the way a user would write the broken manifest.
func mutate[T runtime.Object](base T, fn func(T)) runtime.Object {
	c := base.DeepCopyObject().(T)
	fn(c)
	return prepared(c)
}

// raw applies fn after defaulting, for values that defaulting would fix.
func raw[T runtime.Object](base T, fn func(T)) runtime.Object {
	c := base.DeepCopyObject().(T)
	fn(c)
	return c
}

func TestCreateInvalid(t *testing.T) {
	const selectorMismatch = "`selector` does not match template `labels`"
	tests := []struct {
		name  string
		obj   runtime.Object
		wants []want
	}{
		// metadata
		{"missing name", mutate(validConfigMap(), func(c *corev1.ConfigMap) { c.Name = "" }),
			[]want{required("metadata.name", "name or generateName is required")}},
		{"bad name", mutate(validConfigMap(), func(c *corev1.ConfigMap) { c.Name = "Web_Config" }),
			[]want{invalid("metadata.name", "a lowercase RFC 1123 subdomain")}},
		{"missing namespace", mutate(validConfigMap(), func(c *corev1.ConfigMap) { c.Namespace = "" }),
			[]want{required("metadata.namespace")}},
		{"bad label", mutate(validConfigMap(), func(c *corev1.ConfigMap) { c.Labels = map[string]string{"app": "has space"} }),
			[]want{invalid("metadata.labels", "a valid label must be")}},
		{"bad finalizer", mutate(validConfigMap(), func(c *corev1.ConfigMap) { c.Finalizers = []string{"cleanup"} }),
			[]want{invalid("metadata.finalizers[0]", "neither a standard finalizer name nor is it fully qualified")}},

		// pods
		{"pod without containers", mutate(validPod(), func(p *corev1.Pod) { p.Spec.Containers = nil }),
			[]want{required("spec.containers")}},
		{"container without name and image", mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.Containers[0].Name = ""
			p.Spec.Containers[0].Image = ""
		}), []want{required("spec.containers[0].name"), required("spec.containers[0].image")}},
		{"container name not a DNS label", mutate(validPod(), func(p *corev1.Pod) { p.Spec.Containers[0].Name = "App_1" }),
			[]want{invalid("spec.containers[0].name", "a lowercase RFC 1123 label")}},
		{"duplicate container names", mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "app", Image: "busybox"})
		}), []want{duplicate("spec.containers[1].name")}},
		{"init container name clashes with container", mutate(validPod(), func(p *corev1.Pod) { p.Spec.InitContainers[0].Name = "app" }),
			[]want{duplicate("spec.initContainers[0].name")}},
		{"container port out of range", mutate(validPod(), func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 }),
			[]want{invalid("spec.containers[0].ports[0].containerPort", "must be between 1 and 65535, inclusive")}},
		{"container port missing", mutate(validPod(), func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 }),
			[]want{required("spec.containers[0].ports[0].containerPort")}},
		{"port protocol", mutate(validPod(), func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "HTTP" }),
			[]want{notSupported("spec.containers[0].ports[0].protocol", `supported values: "SCTP", "TCP", "UDP"`)}},
		{"duplicate port names", mutate(validPod(), func(p *corev1.Pod) { p.Spec.Containers[0].Ports[1].Name = "http" }),
			[]want{duplicate("spec.containers[0].ports[1].name")}},
		{"duplicate volume names", mutate(validPod(), func(p *corev1.Pod) { p.Spec.Volumes[1].Name = "logs" }),
			// the second "logs" is dropped, so the "tls" mount no longer resolves.
			[]want{duplicate("spec.volumes[1].name"), notFound("spec.containers[0].volumeMounts[1].name")}},
		{"mount of missing volume", mutate(validPod(), func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].Name = "nope" }),
			[]want{notFound("spec.containers[0].volumeMounts[0].name")}},
		{"duplicate mount path", mutate(validPod(), func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[1].MountPath = "/var/log/app" }),
			[]want{invalid("spec.containers[0].volumeMounts[1].mountPath", "must be unique")}},
		{"volume with two sources", mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.Volumes[0].ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}
		}), []want{forbidden("spec.volumes[0].configMap", "may not specify more than 1 volume type"),
			notFound("spec.containers[0].volumeMounts[0].name"), notFound("spec.initContainers[1].volumeMounts[0].name")}},
		{"secret volume without name and bad mode", mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.Volumes[1].Secret.SecretName = ""
			p.Spec.Volumes[1].Secret.DefaultMode = ptr.To[int32](01000)
		}), []want{required("spec.volumes[1].secret.secretName"), invalid("spec.volumes[1].secret.defaultMode", "must be a number between 0 and 0777"),
			notFound("spec.containers[0].volumeMounts[1].name")}},
		{"restart policy", mutate(validPod(), func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }),
			[]want{notSupported("spec.restartPolicy", `supported values: "Always", "OnFailure", "Never"`)}},
		{"env names", mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: ""}, {Name: "A=B"}}
		}), []want{required("spec.containers[0].env[0].name"), invalid("spec.containers[0].env[1].name", "other than '='")}},
		{"env value and valueFrom", mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", Value: "1", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
		}), []want{invalid("spec.containers[0].env[0].valueFrom", "may not be specified when `value` is not empty")}},
		{"env fieldRef path", mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.containers"}}}}
		}), []want{invalid("spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", "field label not supported")}},
		{"env fieldRef path not allowed here", mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}
		}), []want{notSupported("spec.containers[0].env[0].valueFrom.fieldRef.fieldPath")}},
		{"image with whitespace", mutate(validPod(), func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx " }),
			[]want{invalid("spec.containers[0].image", "must not have leading or trailing whitespace")}},
		{"liveness successThreshold", raw(validDeployment(), func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].LivenessProbe.SuccessThreshold = 2
		}), []want{invalid("spec.template.spec.containers[0].livenessProbe.successThreshold", "must be 1")}},
		{"probe without handler", mutate(validPod(), func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{} }),
			[]want{required("spec.containers[0].readinessProbe", "must specify a handler type")}},
		{"probe on plain init container", mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.InitContainers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		}), []want{forbidden("spec.initContainers[0].readinessProbe", "may not be set for init containers without restartPolicy=Always")}},
		{"request above limit", mutate(validDeployment(), func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("2")
		}), []want{invalid("spec.template.spec.containers[0].resources.requests", "must be less than or equal to cpu limit of 500m")}},
		{"unknown resource", mutate(validDeployment(), func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Resources.Limits["gpu"] = resource.MustParse("1")
		}), []want{invalid("spec.template.spec.containers[0].resources.limits[gpu]", "must be a standard resource type or fully qualified")}},
		{"toleration value with Exists", mutate(validPod(), func(p *corev1.Pod) { p.Spec.Tolerations[0].Value = "x" }),
			[]want{invalid("spec.tolerations[0].operator", "value must be empty when `operator` is 'Exists'")}},
		{"host network port mismatch", mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports[0].HostPort = 9090
		}), []want{invalid("spec.containers[0].ports[0].hostPort", "must match `containerPort` when `hostNetwork` is true")}},
		{"dnsPolicy None needs dnsConfig", mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.DNSPolicy = corev1.DNSNone
			p.Spec.DNSConfig = nil
		}), []want{required("spec.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None")}},
		{"activeDeadlineSeconds zero", mutate(validPod(), func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](0) }),
			[]want{invalid("spec.activeDeadlineSeconds", "must be between 1 and 2147483647, inclusive")}},
		{"ephemeral containers on create", mutate(validPod(), func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg", Image: "busybox"}}}
		}), []want{forbidden("spec.ephemeralContainers", "cannot be set on create")}},
		{"missing grace period", raw(validPod(), func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = nil }),
			[]want{required("spec.terminationGracePeriodSeconds")}},

		// workloads
		{"deployment without selector", mutate(validDeployment(), func(d *appsv1.Deployment) { d.Spec.Selector = nil }),
			[]want{required("spec.selector"), invalid("spec.template.metadata.labels", selectorMismatch)}},
		{"deployment with empty selector", mutate(validDeployment(), func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }),
			[]want{invalid("spec.selector", "empty selector is invalid for deployment")}},
		{"deployment selector mismatch", mutate(validDeployment(), func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} }),
			[]want{invalid("spec.template.metadata.labels", selectorMismatch)}},
		{"deployment restart policy", mutate(validDeployment(), func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }),
			[]want{notSupported("spec.template.spec.restartPolicy", `supported values: "Always"`)}},
		{"deployment negative replicas", mutate(validDeployment(), func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](-1) }),
			[]want{invalid("spec.replicas", "must be greater than or equal to 0")}},
		{"deployment rolling update zero/zero", mutate(validDeployment(), func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("0%"))
		}), []want{invalid("spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0")}},
		{"deployment bad percent", mutate(validDeployment(), func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("150%"))
		}), []want{invalid("spec.strategy.rollingUpdate.maxUnavailable", "must not be greater than 100%")}},
		{"deployment strategy type", mutate(validDeployment(), func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: "BlueGreen"}
		}), []want{notSupported("spec.strategy", `supported values: "Recreate", "RollingUpdate"`)}},
		{"deployment container without image", mutate(validDeployment(), func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" }),
			[]want{required("spec.template.spec.containers[0].image")}},
		{"deployment progress deadline", mutate(validDeployment(), func(d *appsv1.Deployment) { d.Spec.ProgressDeadlineSeconds = ptr.To[int32](5) }),
			[]want{invalid("spec.progressDeadlineSeconds", "must be greater than minReadySeconds")}},
		{"replicaset empty selector", mutate(validReplicaSet(), func(r *appsv1.ReplicaSet) { r.Spec.Selector = &metav1.LabelSelector{} }),
			[]want{invalid("spec.selector", "empty selector is invalid for deployment")}},
		{"daemonset selector mismatch", mutate(validDaemonSet(), func(d *appsv1.DaemonSet) {
			d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}
		}), []want{invalid("spec.template.metadata.labels", selectorMismatch)}},
		{"daemonset without selector", mutate(validDaemonSet(), func(d *appsv1.DaemonSet) { d.Spec.Selector = nil }),
			[]want{invalid("spec.template.metadata.labels", selectorMismatch)}},
		{"daemonset surge and unavailable", mutate(validDaemonSet(), func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxSurge: ptr.To(intstr.FromInt32(1))}
		}), []want{invalid("spec.updateStrategy.rollingUpdate.maxSurge", "may not be set when maxUnavailable is non-zero")}},
		{"replicaset restart policy and selector", mutate(validReplicaSet(), func(r *appsv1.ReplicaSet) {
			r.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			r.Spec.Template.Labels = map[string]string{"app": "other"}
		}), []want{notSupported("spec.template.spec.restartPolicy", `supported values: "Always"`), invalid("spec.template.metadata.labels", selectorMismatch)}},
		{"daemonset restart policy", mutate(validDaemonSet(), func(d *appsv1.DaemonSet) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }),
			[]want{notSupported("spec.template.spec.restartPolicy", `supported values: "Always"`)}},
		{"statefulset restart policy and replicas", mutate(validStatefulSet(), func(s *appsv1.StatefulSet) {
			s.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
			s.Spec.Replicas = ptr.To[int32](-2)
		}), []want{notSupported("spec.template.spec.restartPolicy", `supported values: "Always"`), invalid("spec.replicas", "must be greater than or equal to 0")}},
		{"statefulset without selector", mutate(validStatefulSet(), func(s *appsv1.StatefulSet) { s.Spec.Selector = nil }),
			[]want{required("spec.selector"), invalid("spec.template.metadata.labels", selectorMismatch)}},
		{"statefulset pod management policy", mutate(validStatefulSet(), func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" }),
			[]want{invalid("spec.podManagementPolicy", "must be 'OrderedReady' or 'Parallel'")}},
		{"statefulset selector mismatch", mutate(validStatefulSet(), func(s *appsv1.StatefulSet) { s.Spec.Template.Labels = nil }),
			[]want{invalid("spec.template.metadata.labels", selectorMismatch)}},
		{"statefulset claim template without storage", mutate(validStatefulSet(), func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates[0].Spec.Resources = corev1.VolumeResourceRequirements{}
		}), []want{required("spec.volumeClaimTemplates[0].spec.resources[storage]")}},
		{"statefulset mount of unknown volume", mutate(validStatefulSet(), func(s *appsv1.StatefulSet) {
			s.Spec.Template.Spec.Containers[0].VolumeMounts[0].Name = "datum"
		}), []want{notFound("spec.template.spec.containers[0].volumeMounts[0].name")}},

		// jobs
		{"job restart policy left to default", mutate(validJob(), func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" }),
			[]want{required("spec.template.spec.restartPolicy", `valid values: "OnFailure", "Never"`)}},
		{"job negative parallelism", mutate(validJob(), func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](-1) }),
			[]want{invalid("spec.parallelism")}},
		{"job completion mode", mutate(validJob(), func(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To[batchv1.CompletionMode]("Ordered") }),
			[]want{notSupported("spec.completionMode")}},
		{"job without generated selector", raw(validJob(), func(j *batchv1.Job) {
			j.Spec.Selector = nil
			j.Spec.Template.Labels = nil
		}), []want{required("spec.selector"), invalid("spec.template.metadata.labels", selectorMismatch)}},
		{"job label conflicts with generated one", raw(validJob(), func(j *batchv1.Job) {
			j.Spec.Template.Labels["batch.kubernetes.io/job-name"] = "other"
		}), []want{invalid("spec.template.metadata.labels[batch.kubernetes.io/job-name]", "must be 'pi'")}},
		{"job manual selector mismatch", mutate(validJob(), func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr.To(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		}), []want{invalid("spec.template.metadata.labels", selectorMismatch)}},
		{"indexed job without completions", mutate(validJob(), func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Parallelism = ptr.To[int32](2)
			j.Spec.Completions = nil
		}), []want{required("spec.completions", "when completion mode is Indexed")}},
		{"cronjob without schedule", mutate(validCronJob(), func(c *batchv1.CronJob) { c.Spec.Schedule = "" }),
			[]want{required("spec.schedule")}},
		{"cronjob schedule fields", mutate(validCronJob(), func(c *batchv1.CronJob) { c.Spec.Schedule = "* * *" }),
			[]want{invalid("spec.schedule", "expected exactly 5 fields, found 3: [* * *]")}},
		{"cronjob schedule range", mutate(validCronJob(), func(c *batchv1.CronJob) { c.Spec.Schedule = "61 * * * *" }),
			[]want{invalid("spec.schedule", "end of range (61) above maximum (59): 61")}},
		{"cronjob descriptor", mutate(validCronJob(), func(c *batchv1.CronJob) { c.Spec.Schedule = "@fortnightly" }),
			[]want{invalid("spec.schedule", "unrecognized descriptor: @fortnightly")}},
		{"cronjob TZ in schedule", mutate(validCronJob(), func(c *batchv1.CronJob) { c.Spec.Schedule = "CRON_TZ=UTC 0 * * * *" }),
			[]want{invalid("spec.schedule", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")}},
		{"cronjob local time zone", mutate(validCronJob(), func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Local") }),
			[]want{invalid("spec.timeZone", "must be an explicit time zone")}},
		{"cronjob name too long", mutate(validCronJob(), func(c *batchv1.CronJob) { c.Name = strings.Repeat("a", 53) }),
			[]want{invalid("metadata.name", "must be no more than 52 characters")}},
		{"cronjob concurrency policy", mutate(validCronJob(), func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "Queue" }),
			[]want{notSupported("spec.concurrencyPolicy", `supported values: "Allow", "Forbid", "Replace"`)}},
		{"cronjob with selector", mutate(validCronJob(), func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}), []want{invalid("spec.jobTemplate.spec.selector", "`selector` will be auto-generated")}},
		{"cronjob restart policy", mutate(validCronJob(), func(c *batchv1.CronJob) { c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = "" }),
			[]want{required("spec.jobTemplate.spec.template.spec.restartPolicy")}},

		// services
		{"service without ports", mutate(validService(), func(s *corev1.Service) { s.Spec.Ports = nil }),
			[]want{required("spec.ports")}},
		{"service name not a DNS label", mutate(validService(), func(s *corev1.Service) { s.Name = "Web" }),
			[]want{invalid("metadata.name", "a lowercase RFC 1123 label must consist of")}},
		{"service name with a leading digit, as kube allows", mutate(validService(), func(s *corev1.Service) { s.Name = "1web" }), nil},
		{"service unnamed ports", mutate(validService(), func(s *corev1.Service) { s.Spec.Ports[0].Name = ""; s.Spec.Ports[1].Name = "" }),
			[]want{required("spec.ports[0].name"), required("spec.ports[1].name")}},
		{"service duplicate port names", mutate(validService(), func(s *corev1.Service) { s.Spec.Ports[1].Name = "http" }),
			[]want{duplicate("spec.ports[1].name")}},
		{"service port range", mutate(validService(), func(s *corev1.Service) {
			s.Spec.Ports[0].Port = 0
			s.Spec.Ports[1].TargetPort = intstr.FromInt32(70000)
		}), []want{invalid("spec.ports[0].port"), invalid("spec.ports[1].targetPort", "must be between 1 and 65535")}},
		{"service duplicate port", mutate(validService(), func(s *corev1.Service) { s.Spec.Ports[1].Port = 80 }),
			[]want{duplicate("spec.ports[1]")}},
		{"service protocol", mutate(validService(), func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "ICMP" }),
			[]want{notSupported("spec.ports[0].protocol")}},
		{"service type", mutate(validService(), func(s *corev1.Service) { s.Spec.Type = "Magic" }),
			[]want{notSupported("spec.type", `supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`)}},
		{"service bad cluster IP", mutate(validService(), func(s *corev1.Service) { s.Spec.ClusterIP = "10.0.0.999" }),
			[]want{invalid("spec.clusterIPs[0]", "must be a valid IP address")}},
		{"externalName without name", prepared(&corev1.Service{ObjectMeta: objMeta("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName}}),
			[]want{required("spec.externalName")}},
		{"externalName with cluster IP", prepared(&corev1.Service{ObjectMeta: objMeta("ext"), Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeExternalName, ExternalName: "example.com", ClusterIP: "10.43.0.5"}}),
			[]want{forbidden("spec.clusterIPs", "may not be set for ExternalName services")}},
		{"nodePort on ClusterIP", mutate(validService(), func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }),
			[]want{forbidden("spec.ports[0].nodePort", "may not be used when `type` is 'ClusterIP'")}},
		{"session affinity", mutate(validService(), func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" }),
			[]want{notSupported("spec.sessionAffinity")}},
		{"headless load balancer", mutate(validService(), func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ClusterIP = "None"
		}), []want{invalid("spec.clusterIPs[0]", "may not be set to 'None' for LoadBalancer services")}},
		{"endpoints without addresses", mutate(validEndpoints(), func(e *corev1.Endpoints) {
			e.Subsets[0].Addresses, e.Subsets[0].NotReadyAddresses = nil, nil
		}), []want{required("subsets[0]", "must specify `addresses` or `notReadyAddresses`")}},
		{"endpoints loopback and bad IP", mutate(validEndpoints(), func(e *corev1.Endpoints) {
			e.Subsets[0].Addresses[0].IP = "127.0.0.1"
			e.Subsets[0].NotReadyAddresses[0].IP = "10.0.0"
		}), []want{invalid("subsets[0].addresses[0].ip", "may not be in the loopback range"),
			invalid("subsets[0].notReadyAddresses[0].ip", "must be a valid IP address")}},

		// config
		{"configmap key", mutate(validConfigMap(), func(c *corev1.ConfigMap) { c.Data["a b"] = "x" }),
			[]want{invalid("data[a b]", "a valid config key must consist of")}},
		{"configmap key in both", mutate(validConfigMap(), func(c *corev1.ConfigMap) { c.Data["favicon.ico"] = "x" }),
			[]want{invalid("data[favicon.ico]", "duplicate of key present in binaryData")}},
		{"configmap too large", mutate(validConfigMap(), func(c *corev1.ConfigMap) { c.Data["big"] = strings.Repeat("x", 1<<20) }),
			// kube reports the whole object, which renders as "[]".
			[]want{tooLong("[]")}},
		{"secret key", mutate(validSecret(), func(s *corev1.Secret) { s.Data["../etc"] = nil }),
			[]want{invalid("data[../etc]")}},
		{"secret too large", mutate(validSecret(), func(s *corev1.Secret) { s.Data["big"] = make([]byte, 1<<20) }),
			[]want{tooLong("data")}},
		{"tls secret without keys", mutate(validTLSSecret(), func(s *corev1.Secret) { s.Data = nil }),
			[]want{required("data[tls.crt]"), required("data[tls.key]")}},
		{"dockerconfigjson without key", prepared(&corev1.Secret{ObjectMeta: objMeta("pull"), Type: corev1.SecretTypeDockerConfigJson}),
			[]want{required("data[.dockerconfigjson]")}},
		{"dockerconfigjson bad json", prepared(&corev1.Secret{ObjectMeta: objMeta("pull"), Type: corev1.SecretTypeDockerConfigJson,
			StringData: map[string]string{".dockerconfigjson": "{"}}),
			[]want{invalid("data[.dockerconfigjson]", "<secret contents redacted>")}},
		{"service account token secret", prepared(&corev1.Secret{ObjectMeta: objMeta("tok"), Type: corev1.SecretTypeServiceAccountToken}),
			[]want{required("metadata.annotations[kubernetes.io/service-account.name]")}},
		{"basic auth secret", prepared(&corev1.Secret{ObjectMeta: objMeta("auth"), Type: corev1.SecretTypeBasicAuth}),
			[]want{required("data[username]"), required("data[password]")}},

		// cluster objects
		{"namespace name with dots", mutate(validNamespace(), func(n *corev1.Namespace) { n.Name = "team.a" }),
			[]want{invalid("metadata.name", "must not contain dots")}},
		{"namespace with namespace", mutate(validNamespace(), func(n *corev1.Namespace) { n.Namespace = "default" }),
			[]want{forbidden("metadata.namespace", "not allowed on this type")}},
		{"namespace finalizer", mutate(validNamespace(), func(n *corev1.Namespace) { n.Spec.Finalizers = []corev1.FinalizerName{"mine"} }),
			[]want{invalid("spec.finalizers", "neither a standard finalizer name nor is it fully qualified")}},
		{"node name", mutate(validNode(), func(n *corev1.Node) { n.Name = "Edge_01" }),
			[]want{invalid("metadata.name")}},
		{"node taints", mutate(validNode(), func(n *corev1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "node-role.kubernetes.io/edge", Effect: corev1.TaintEffectNoSchedule},
				corev1.Taint{Key: "x", Effect: "Evict"})
		}), []want{duplicate("metadata.taints[1]"), notSupported("metadata.taints[2].effect")}},
		{"node pod CIDR", mutate(validNode(), func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.42.0.0/33", []string{"10.42.0.0/33"} }),
			[]want{invalid("spec.podCIDRs[0]")}},
		{"core event namespace mismatch", mutate(validCoreEvent(), func(e *corev1.Event) { e.InvolvedObject.Namespace = "other" }),
			[]want{invalid("involvedObject.namespace", "does not match event.namespace")}},
		{"events.k8s.io event without reporting fields", mutate(validEventsV1(), func(e *eventsv1.Event) {
			e.ReportingController, e.ReportingInstance, e.Action = "", "", ""
			e.Type = "Info"
		}), []want{required("reportingController"), invalid("reportingController"), required("reportingInstance"), required("action"),
			invalid("type", "has invalid value: Info")}},
		{"events.k8s.io event without time", mutate(validEventsV1(), func(e *eventsv1.Event) {
			e.EventTime = metav1.MicroTime{}
			e.DeprecatedCount = 3
		}), []want{required("eventTime"), invalid("count", "needs to be unset")}},
		{"serviceaccount name", mutate(validServiceAccount(), func(s *corev1.ServiceAccount) { s.Name = "web/x" }),
			[]want{invalid("metadata.name")}},
		{"pvc without access modes and storage", mutate(validPVC(), func(c *corev1.PersistentVolumeClaim) {
			c.Spec.AccessModes = nil
			c.Spec.Resources = corev1.VolumeResourceRequirements{}
		}), []want{required("spec.accessModes", "at least 1 access mode is required"), required("spec.resources[storage]")}},
		{"pvc access modes", mutate(validPVC(), func(c *corev1.PersistentVolumeClaim) {
			c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{"ReadWriteSometimes"}
		}), []want{notSupported("spec.accessModes")}},
		{"pvc RWOP mixed", mutate(validPVC(), func(c *corev1.PersistentVolumeClaim) {
			c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod, corev1.ReadWriteOnce}
		}), []want{forbidden("spec.accessModes", "may not use ReadWriteOncePod with other access modes")}},
		{"pvc zero storage", mutate(validPVC(), func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("0")
		}), []want{invalid("spec.resources[storage]", "must be greater than zero")}},
		{"pv without capacity", mutate(validPV(), func(p *corev1.PersistentVolume) { p.Spec.Capacity = nil }),
			[]want{required("spec.capacity"), notSupported("spec.capacity", `supported values: "storage"`)}},
		{"pv without source", mutate(validPV(), func(p *corev1.PersistentVolume) { p.Spec.HostPath = nil }),
			[]want{required("spec", "must specify a volume type")}},
		{"pv with two sources", mutate(validPV(), func(p *corev1.PersistentVolume) {
			p.Spec.NFS = &corev1.NFSVolumeSource{Server: "nas", Path: "/export"}
		}), []want{forbidden("spec.nfs", "may not specify more than 1 volume type")}},
		{"local pv without node affinity", mutate(validPV(), func(p *corev1.PersistentVolume) {
			p.Spec.HostPath = nil
			p.Spec.Local = &corev1.LocalVolumeSource{Path: "/mnt/disk1"}
		}), []want{required("spec.nodeAffinity", "Local volume requires node affinity")}},
		{"lease durations", mutate(validLease(), func(l *coordinationv1.Lease) {
			l.Spec.LeaseDurationSeconds = ptr.To[int32](0)
			l.Spec.LeaseTransitions = ptr.To[int32](-1)
			l.Spec.PreferredHolder = ptr.To("edge-02")
		}), []want{invalid("spec.leaseDurationSeconds", "must be greater than 0"), invalid("spec.leaseTransitions"),
			forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined")}},
		{"endpointslice address type", mutate(validEndpointSlice(), func(s *discoveryv1.EndpointSlice) { s.AddressType = "" }),
			[]want{required("addressType")}},
		{"endpointslice unknown address type", mutate(validEndpointSlice(), func(s *discoveryv1.EndpointSlice) { s.AddressType = "IPX" }),
			[]want{notSupported("addressType", `supported values: "FQDN", "IPv4", "IPv6"`)}},
		{"endpointslice endpoints", mutate(validEndpointSlice(), func(s *discoveryv1.EndpointSlice) {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{}, discoveryv1.Endpoint{Addresses: []string{"fd00::1"}})
		}), []want{required("endpoints[1].addresses", "must contain at least 1 address"), invalid("endpoints[2].addresses", "must be an IPv4 address")}},
		{"endpointslice ports", mutate(validEndpointSlice(), func(s *discoveryv1.EndpointSlice) {
			s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr.To("http"), Protocol: ptr.To[corev1.Protocol]("QUIC")})
		}), []want{duplicate("ports[1].name"), notSupported("ports[1].protocol")}},

		// ingress
		{"ingress without rules or backend", mutate(validIngress(), func(i *networkingv1.Ingress) { i.Spec.Rules = nil }),
			[]want{invalid("spec", "either `defaultBackend` or `rules` must be specified")}},
		{"ingress without pathType", mutate(validIngress(), func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].PathType = nil }),
			[]want{required("spec.rules[0].http.paths[0].pathType", "pathType must be specified")}},
		{"ingress pathType", mutate(validIngress(), func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].PathType = ptr.To[networkingv1.PathType]("Regex")
		}), []want{notSupported("spec.rules[0].http.paths[0].pathType", `supported values: "Exact", "ImplementationSpecific", "Prefix"`)}},
		{"ingress relative path", mutate(validIngress(), func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Path = "api" }),
			[]want{invalid("spec.rules[0].http.paths[0].path", "must be an absolute path")}},
		{"ingress backend service", mutate(validIngress(), func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = ""
			i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port = networkingv1.ServiceBackendPort{}
		}), []want{required("spec.rules[0].http.paths[0].backend.service.name"), required("spec.rules[0].http.paths[0].backend", "port name or number is required")}},
		{"ingress backend port", mutate(validIngress(), func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[1].Backend.Service.Port.Number = 0
			i.Spec.Rules[0].HTTP.Paths[1].Backend.Service.Port.Name = "Metrics_Port"
		}), []want{invalid("spec.rules[0].http.paths[1].backend.service.port.name")}},
		{"ingress IP host", mutate(validIngress(), func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "192.168.1.1" }),
			[]want{invalid("spec.rules[0].host", "must be a DNS name, not an IP address")}},
		{"ingress without backend", mutate(validIngress(), func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Backend = networkingv1.IngressBackend{} }),
			[]want{invalid("spec.rules[0].http.paths[0].backend", "resource or service backend is required")}},
		{"ingress class annotation mismatch", mutate(validIngress(), func(i *networkingv1.Ingress) {
			i.Annotations["kubernetes.io/ingress.class"] = "nginx"
		}), []want{invalid("annotations.kubernetes.io/ingress.class", "must match `ingressClassName` when both are specified")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, Create(tt.obj), tt.wants)
		})
	}
}

// update pairs a stored object with a user's modified copy of it.
func update[T runtime.Object](old T, fn func(T)) (runtime.Object, runtime.Object) {
	n := old.DeepCopyObject().(T)
	fn(n)
	defaultsApply(n)
	return n, old
}

func TestUpdate(t *testing.T) {
	type tc struct {
		name     string
		obj, old runtime.Object
		wants    []want
	}
	svc := allocated(validService(), "10.43.0.10")
	boundPVC := validPVC()
	boundPVC.Status.Phase = corev1.ClaimBound
	boundPVC.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")}
	boundPVC.Spec.VolumeName = "pv-data-01"
	suspendedJob := validJob()
	suspendedJob.Spec.Suspend = ptr.To(true)
	immutableCM := validConfigMap()
	immutableCM.Immutable = ptr.To(true)
	immutableSecret := validSecret()
	immutableSecret.Immutable = ptr.To(true)

	var tests []tc
	add := func(name string, obj, old runtime.Object, wants ...want) {
		tests = append(tests, tc{name, obj, old, wants})
	}
	o, p := update(validDeployment(), func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](5) })
	add("deployment scale", o, p)
	o, p = update(validDeployment(), func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28" })
	add("deployment rollout", o, p)
	o, p = update(validDeployment(), func(d *appsv1.Deployment) {
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	})
	add("deployment selector", o, p, invalid("spec.selector", "field is immutable"))
	o, p = update(validDeployment(), func(d *appsv1.Deployment) { d.ResourceVersion = "" })
	add("update without resourceVersion", o, p, invalid("metadata.resourceVersion", "must be specified for an update"))
	o, p = update(validDeployment(), func(d *appsv1.Deployment) { d.Name = "web2" })
	add("rename", o, p, invalid("metadata.name", "field is immutable"))
	o, p = update(validReplicaSet(), func(r *appsv1.ReplicaSet) { r.Spec.Selector.MatchLabels["tier"] = "frontend" })
	add("replicaset selector", o, p, invalid("spec.selector", "field is immutable"))
	o, p = update(validDaemonSet(), func(d *appsv1.DaemonSet) { d.Spec.Selector.MatchLabels["tier"] = "frontend" })
	add("daemonset selector", o, p, invalid("spec.selector", "field is immutable"))
	o, p = update(validStatefulSet(), func(s *appsv1.StatefulSet) {
		s.Spec.Replicas = ptr.To[int32](5)
		s.Spec.Template.Spec.Containers[0].Image = "postgres:17"
	})
	add("statefulset scale and image", o, p)
	o, p = update(validStatefulSet(), func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "pg" })
	add("statefulset service name", o, p, invalid("spec.serviceName", "field is immutable"))
	o, p = update(validStatefulSet(), func(s *appsv1.StatefulSet) {
		s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("20Gi")
	})
	add("statefulset claim template", o, p, invalid("spec.volumeClaimTemplates", "field is immutable"))
	o, p = update(validStatefulSet(), func(s *appsv1.StatefulSet) {
		s.Spec.MinReadySeconds = 10
		s.Spec.RevisionHistoryLimit = ptr.To[int32](3)
	})
	add("statefulset minReadySeconds and history", o, p)

	o, p = update(validPod(), func(pod *corev1.Pod) { pod.Spec.Containers[0].Image = "ghcr.io/example/app:2.0" })
	add("pod image", o, p)
	o, p = update(validPod(), func(pod *corev1.Pod) {
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists})
		pod.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
		pod.Labels["extra"] = "yes"
	})
	add("pod tolerations, deadline and labels", o, p)
	o, p = update(validPod(), func(pod *corev1.Pod) { pod.Spec.Containers[0].Ports[0].ContainerPort = 9090 })
	add("pod port", o, p, forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`"))
	o, p = update(validPod(), func(pod *corev1.Pod) {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "extra", Image: "busybox"})
	})
	add("pod add container", o, p, forbidden("spec.containers", "pod updates may not add or remove containers"))
	o, p = update(validPod(), func(pod *corev1.Pod) { pod.Spec.ActiveDeadlineSeconds = ptr.To[int64](7200) })
	add("pod raise deadline", o, p, invalid("spec.activeDeadlineSeconds", "must be less than or equal to previous value"))
	o, p = update(validPod(), func(pod *corev1.Pod) { pod.Spec.ActiveDeadlineSeconds = nil })
	add("pod unset deadline", o, p, invalid("spec.activeDeadlineSeconds", "must not update from a positive integer to nil value"))
	o, p = update(validPod(), func(pod *corev1.Pod) { pod.Spec.Tolerations = nil })
	add("pod drop toleration", o, p, forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"))
	o, p = update(validPod(), func(pod *corev1.Pod) { pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](10) })
	add("pod grace period", o, p, forbidden("spec", "pod updates may not change fields other than"))

	o, p = update(svc, func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30080
	})
	add("service to NodePort", o, p)
	o, p = update(svc, func(s *corev1.Service) {
		s.Spec.ClusterIP = "10.43.0.11"
		s.Spec.ClusterIPs = []string{"10.43.0.11"}
	})
	add("service cluster IP", o, p, invalid("spec.clusterIPs[0]", "may not change once set"))
	o, p = update(svc, func(s *corev1.Service) {
		s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "web.example.com"}
	})
	add("service to ExternalName", o, p)

	ext := prepared(&corev1.Service{ObjectMeta: objMeta("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}})
	o, p = update(ext, func(s *corev1.Service) {
		s.Spec = corev1.ServiceSpec{ClusterIP: "10.43.0.20", Ports: []corev1.ServicePort{{Port: 5432}}}
	})
	add("service from ExternalName", o, p)
	o, p = update(svc, func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} })
	add("service IP family", o, p, invalid("spec.ipFamilies[0]", "may not change once set"),
		invalid("spec.clusterIPs[0]", "expected an IPv6 value as indicated by `ipFamilies[0]`"))
	o, p = update(validConfigMap(), func(c *corev1.ConfigMap) { c.Data["LOG_FORMAT"] = "text" })
	add("configmap data", o, p)
	o, p = update(immutableCM, func(c *corev1.ConfigMap) { c.Data["LOG_FORMAT"] = "text"; c.BinaryData = nil })
	add("immutable configmap data", o, p, forbidden("data", "field is immutable when `immutable` is set"),
		forbidden("binaryData", "field is immutable when `immutable` is set"))
	o, p = update(immutableCM, func(c *corev1.ConfigMap) { c.Immutable = nil })
	add("configmap immutable unset", o, p, forbidden("immutable", "field is immutable when `immutable` is set"))
	o, p = update(immutableCM, func(c *corev1.ConfigMap) { c.Labels = map[string]string{"a": "b"} })
	add("immutable configmap labels", o, p)
	o, p = update(validSecret(), func(s *corev1.Secret) { s.Type = corev1.SecretTypeBasicAuth })
	add("secret type", o, p, invalid("type", "field is immutable"))
	o, p = update(immutableSecret, func(s *corev1.Secret) { s.Data["password"] = []byte("new") })
	add("immutable secret data", o, p, forbidden("data", "field is immutable when `immutable` is set"))

	o, p = update(validJob(), func(j *batchv1.Job) {
		j.Spec.Parallelism = ptr.To[int32](3)
		j.Spec.ActiveDeadlineSeconds = ptr.To[int64](600)
	})
	add("job parallelism", o, p)
	o, p = update(validJob(), func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5.40" })
	add("job template", o, p, invalid("spec.template", "field is immutable"))
	o, p = update(validJob(), func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](5) })
	add("job completions", o, p, invalid("spec.completions", "field is immutable"))
	o, p = update(validJob(), func(j *batchv1.Job) { j.Spec.Selector.MatchLabels["x"] = "y"; j.Spec.Template.Labels["x"] = "y" })
	add("job selector", o, p, invalid("spec.selector", "field is immutable"), invalid("spec.template", "field is immutable"))
	o, p = update(suspendedJob, func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "b"} })
	add("suspended job scheduling", o, p)
	o, p = update(validCronJob(), func(c *batchv1.CronJob) { c.Spec.Schedule = "0 3 * * *"; c.Spec.TimeZone = nil })
	add("cronjob schedule", o, p)
	o, p = update(validCronJob(), func(c *batchv1.CronJob) { c.Spec.Schedule = "0 25 * * *" })
	add("cronjob bad schedule", o, p, invalid("spec.schedule", "end of range (25) above maximum (23): 25"))

	o, p = update(validNamespace(), func(n *corev1.Namespace) { n.Labels["env"] = "prod" })
	add("namespace labels", o, p)
	o, p = update(validNode(), func(n *corev1.Node) { n.Spec.Unschedulable = true; n.Spec.Taints = nil })
	add("node cordon", o, p)
	o, p = update(validNode(), func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.42.1.0/24", []string{"10.42.1.0/24"} })
	add("node pod CIDR", o, p, forbidden("spec.podCIDRs", "node updates may not change podCIDR except from \"\" to valid"))
	o, p = update(validPVC(), func(c *corev1.PersistentVolumeClaim) { c.Spec.StorageClassName = ptr.To("fast") })
	add("pvc storage class", o, p, forbidden("spec", "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	o, p = update(boundPVC, func(c *corev1.PersistentVolumeClaim) {
		c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("10Gi")
	})
	add("bound pvc expansion", o, p)
	o, p = update(boundPVC, func(c *corev1.PersistentVolumeClaim) {
		c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("1Gi")
	})
	add("bound pvc shrink", o, p, forbidden("spec.resources.requests.storage", "field can not be less than status.capacity"))
	o, p = update(validPV(), func(v *corev1.PersistentVolume) { v.Spec.HostPath.Path = "/srv/other" })
	add("pv source", o, p, forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation"))
	o, p = update(validPV(), func(v *corev1.PersistentVolume) {
		v.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimDelete
	})
	add("pv reclaim policy", o, p)
	o, p = update(validEndpointSlice(), func(s *discoveryv1.EndpointSlice) { s.AddressType = discoveryv1.AddressTypeFQDN; s.Endpoints = nil })
	add("endpointslice address type", o, p, invalid("addressType", "field is immutable"))
	o, p = update(validLease(), func(l *coordinationv1.Lease) {
		l.Spec.HolderIdentity = ptr.To("edge-02")
		l.Spec.LeaseTransitions = ptr.To[int32](1)
	})
	add("lease renew", o, p)
	o, p = update(validIngress(), func(i *networkingv1.Ingress) { i.Spec.Rules = i.Spec.Rules[:1] })
	add("ingress rules", o, p)
	o, p = update(validEventsV1(), func(e *eventsv1.Event) { e.Note = "changed" })
	add("event note", o, p, invalid("message", "field is immutable"))
	o, p = update(validCoreEvent(), func(e *corev1.Event) { e.Count = 2; e.Message = "again" })
	add("core event count", o, p)
	add("type mismatch", validConfigMap(), validSecret(), want{field.ErrorTypeInternal, "[]", "cannot update"})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, Update(tt.obj, tt.old), tt.wants)
		})
	}
}

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		spec string
		err  string
	}{
		{"* * * * *", ""},
		{"0 0 1 1 *", ""},
		{"*/5 0-23/2 1,15 * 1-5", ""},
		{"0 12 * jan,jul SUN", ""},
		{"? * * * ?", ""},
		{"5/15 * * * *", ""},
		{"@yearly", ""},
		{"@annually", ""},
		{"@monthly", ""},
		{"@weekly", ""},
		{"@daily", ""},
		{"@midnight", ""},
		{"@hourly", ""},
		{"@every 90s", ""},
		{"", "empty spec string"},
		{"* * * *", "expected exactly 5 fields, found 4: [* * * *]"},
		{"* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"},
		{"60 * * * *", "end of range (60) above maximum (59): 60"},
		{"* 24 * * *", "end of range (24) above maximum (23): 24"},
		{"* * 0 * *", "beginning of range (0) below minimum (1): 0"},
		{"* * * 13 *", "end of range (13) above maximum (12): 13"},
		{"* * * * 7", "end of range (7) above maximum (6): 7"},
		{"5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"},
		{"*/0 * * * *", "step of range should be a positive number: */0"},
		{"1-2-3 * * * *", "too many hyphens: 1-2-3"},
		{"*/2/3 * * * *", "too many slashes: */2/3"},
		{"x * * * *", "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"},
		{"* * * foo *", "failed to parse int from foo"},
		{"@every 1x", "failed to parse duration @every 1x"},
		{"@reboot", "unrecognized descriptor: @reboot"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			err := parseSchedule(tt.spec)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("parseSchedule(%q) = %v, want nil", tt.spec, err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("parseSchedule(%q) = %v, want error containing %q", tt.spec, err, tt.err)
			}
		})
	}
}

func TestUnknownTypeGetsMetadataChecks(t *testing.T) {
	obj := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "a/b", Namespace: "default"}}
	checkErrors(t, Create(obj), []want{invalid("metadata.name", `may not contain '/'`)})
}

func TestCmpDiffShowsChangedLines(t *testing.T) {
	type spec struct {
		Name  string   `json:"name"`
		Size  int      `json:"size"`
		Modes []string `json:"modes"`
	}
	got := cmpDiff(spec{Name: "a", Size: 1, Modes: []string{"rw"}}, spec{Name: "a", Size: 2, Modes: []string{"rw"}})
	want := "    \"name\": \"a\",\n-   \"size\": 1,\n+   \"size\": 2,\n    \"modes\": [\n"
	if got != want {
		t.Errorf("cmpDiff =\n%s\nwant\n%s", got, want)
	}
}

func TestEventNamespaceTolerances(t *testing.T) {
	for _, tc := range []struct {
		ns, involved string
		eventTime    bool
		ok           bool
	}{
		{"default", "", false, true},      // old client, cluster-scoped object
		{"", "", false, true},             // old client, no namespace at all
		{"kube-system", "", false, false}, // old clients only get "default"
		{"a", "a", false, true},
		{"a", "b", false, false},
		{"kube-system", "", true, true}, // new clients: default or kube-system
		{"default", "", true, true},
		{"a", "", true, false},
		{"a", "b", true, true}, // with eventTime only the cluster-scoped case is checked
	} {
		errs := eventNamespaceMatches(tc.ns, tc.involved, tc.eventTime)
		if (len(errs) == 0) != tc.ok {
			t.Errorf("ns %q, involved %q, eventTime %v: errors %v, want ok=%v", tc.ns, tc.involved, tc.eventTime, errs, tc.ok)
		}
	}
}

func TestUnion(t *testing.T) {
	u := union{fldPath: field.NewPath("spec"), kind: "volume type"}
	checked := ""
	u.member(false, "emptyDir", func(p *field.Path) field.ErrorList { t.Fatal("unset member checked"); return nil })
	u.member(true, "hostPath", func(p *field.Path) field.ErrorList {
		checked = p.String()
		return field.ErrorList{field.Required(p.Child("path"), "")}
	})
	u.member(true, "nfs", func(p *field.Path) field.ErrorList { t.Fatal("second member checked"); return nil })
	errs := u.done()
	if checked != "spec.hostPath" || len(errs) != 2 || errs[0].Field != "spec.hostPath.path" ||
		errs[1].Type != field.ErrorTypeForbidden || errs[1].Field != "spec.nfs" || errs[1].Detail != "may not specify more than 1 volume type" {
		t.Fatalf("checked %q, errors %v", checked, errs)
	}
	none := union{fldPath: field.NewPath("probe"), kind: "handler type"}
	if errs := none.done(); len(errs) != 1 || errs[0].Type != field.ErrorTypeRequired || errs[0].Detail != "must specify a handler type" {
		t.Fatalf("no member: %v", errs)
	}
}

func TestProjectedSecretAndConfigMapSources(t *testing.T) {
	p := &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{Secret: &corev1.SecretProjection{Items: []corev1.KeyToPath{{Key: "a", Path: "same"}}}},
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"},
			Items: []corev1.KeyToPath{{Key: "", Path: "same"}}}},
	}}
	var got []string
	for _, e := range projected(p, field.NewPath("projected")) {
		got = append(got, string(e.Type)+" "+e.Field)
	}
	want := []string{
		"FieldValueRequired projected.sources[0].secret.name",
		"FieldValueRequired projected.sources[1].configMap.items[0].key",
		"FieldValueInvalid projected",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
