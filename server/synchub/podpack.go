package synchub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The index keeps every bound pod, and at fleet scale pods are most of
// its memory: a decoded corev1.Pod takes 4–5 KiB of heap (at 10,000 pods
// the index held ~50 MiB), its JSON 2–3 KiB. So the index keeps each
// pod's stored JSON compressed, with a preset dictionary that already holds
// what every pod repeats (field names, defaults, the service account
// volume, managedFields' shapes), and decodes a pod only when a document
// or a status update needs it. A pod then takes ~300–500 bytes.

// podDict is the compression dictionary: the JSON of a pod as the API server
// stores one (defaults applied, bound, running, with managedFields),
// built from a typed object so that its field order is the order
// json.Marshal writes.
var podDict = func() []byte {
	b, err := json.Marshal(dictPod())
	if err != nil {
		panic(err)
	}
	return b
}()

func dictPod() *corev1.Pod {
	ts := metav1.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctrl := true
	fields := func(s string) *metav1.FieldsV1 { return &metav1.FieldsV1{Raw: []byte(s)} }
	containerFields := `{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}},"f:resources":{".":{},"f:limits":{".":{},"f:cpu":{},"f:memory":{}},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{},"f:volumeMounts":{".":{},"k:{\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\"}":{".":{},"f:mountPath":{},"f:name":{},"f:readOnly":{}}}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:preemptionPolicy":{},"f:priority":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:serviceAccount":{},"f:serviceAccountName":{},"f:terminationGracePeriodSeconds":{},"f:tolerations":{},"f:volumes":{".":{},"k:{\"name\":\"kube-api-access-abcde\"}":{".":{},"f:name":{},"f:projected":{".":{},"f:defaultMode":{},"f:sources":{}}}}},"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"00000000-0000-0000-0000-000000000000\"}":{}}}}`
	statusFields := `{"f:status":{"f:conditions":{".":{},"k:{\"type\":\"PodScheduled\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:message":{},"f:reason":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"ContainersReady\"}":{},"k:{\"type\":\"Initialized\"}":{},"k:{\"type\":\"PodReadyToStartContainers\"}":{}},"f:containerStatuses":{},"f:hostIP":{},"f:hostIPs":{},"f:phase":{},"f:podIP":{},"f:podIPs":{".":{},"k:{\"ip\":\"10.42.0.1\"}":{".":{},"f:ip":{}}},"f:startTime":{}}}`
	requests := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "app-5dd8cd7b9c-abcde", GenerateName: "app-5dd8cd7b9c-", Namespace: "default",
			UID: "00000000-0000-0000-0000-000000000000", ResourceVersion: "1000", Generation: 1,
			CreationTimestamp: ts, Labels: map[string]string{"app": "app", "pod-template-hash": "5dd8cd7b9c"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "app-5dd8cd7b9c",
				UID: "00000000-0000-0000-0000-000000000000", Controller: &ctrl, BlockOwnerDeletion: &ctrl}},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "skiff-controllers", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &ts,
					FieldsType: "FieldsV1", FieldsV1: fields(containerFields)},
				{Manager: "skiff-agent", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &ts,
					FieldsType: "FieldsV1", FieldsV1: fields(statusFields), Subresource: "status"},
			},
		},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{{Name: "kube-api-access-abcde", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				DefaultMode: ptr.To[int32](420),
				Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](3607), Path: "token"}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
						Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
						FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
				}}}}},
			Containers: []corev1.Container{{
				Name: "app", Image: "docker.io/library/busybox:latest",
				Ports:                    []corev1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
				Env:                      []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}}},
				Resources:                corev1.ResourceRequirements{Limits: requests, Requests: requests},
				VolumeMounts:             []corev1.VolumeMount{{Name: "kube-api-access-abcde", ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}},
				TerminationMessagePath:   corev1.TerminationMessagePathDefault,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				ImagePullPolicy:          corev1.PullIfNotPresent,
			}},
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			DNSPolicy:                     corev1.DNSClusterFirst,
			NodeSelector:                  map[string]string{"kubernetes.io/os": "linux"},
			ServiceAccountName:            "default",
			DeprecatedServiceAccount:      "default",
			NodeName:                      "node-0001",
			SecurityContext:               &corev1.PodSecurityContext{},
			SchedulerName:                 corev1.DefaultSchedulerName,
			Tolerations: []corev1.Toleration{
				{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
				{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
			},
			Priority:           ptr.To[int32](0),
			EnableServiceLinks: ptr.To(true),
			PreemptionPolicy:   ptr.To(corev1.PreemptLowerPriority),
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue, LastTransitionTime: ts},
				{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: ts},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ts},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: ts},
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: ts},
				{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, LastTransitionTime: ts, Reason: corev1.PodReasonUnschedulable,
					Message: "0/3 nodes are available: 3 Insufficient cpu."},
			},
			HostIP: "192.168.1.10", HostIPs: []corev1.HostIP{{IP: "192.168.1.10"}},
			PodIP: "10.42.0.10", PodIPs: []corev1.PodIP{{IP: "10.42.0.10"}},
			StartTime: &ts,
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", Ready: true, RestartCount: 0, Image: "docker.io/library/busybox:latest",
				ImageID:     "docker.io/library/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000",
				ContainerID: "containerd://0000000000000000000000000000000000000000000000000000000000000000",
				Started:     ptr.To(true),
				State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ts}},
			}},
			QOSClass: corev1.PodQOSBurstable,
		},
	}
}

// The pods are packed with zstd at its fastest level, with podDict as a
// raw dictionary. Deflate (compress/flate) packed them as small, but each
// pod paid for a writer reset (its hash tables, ~640 KiB cleared) and the
// dictionary hashed again: ~85 µs per pod against zstd's ~15 µs, whose
// encoder keeps the dictionary's table and restores only the parts a pod
// touched; unpacking takes ~2.5 µs rather than ~35. The encoder is used
// by the hub's goroutine (events are applied on one), the decoder by
// documents and status updates on many; both are safe for that.
//
// The encoder's window is podWindow: a pod's JSON and the dictionary fit
// in it many times over, and the encoder keeps a history buffer of the
// window plus a block (~190 KiB) instead of the default window's 4 MiB,
// which the server held for as long as it ran. A pod larger than the
// window still packs, in several blocks.
const podWindow = 64 << 10

var (
	podEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderDictRaw(podDictID, podDict),
			zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false), zstd.WithSingleSegment(true), zstd.WithLowerEncoderMem(true),
			zstd.WithWindowSize(podWindow))
		if err != nil {
			panic(err) // only for bad options
		}
		return e
	})
	podDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderDictRaw(podDictID, podDict), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderConcurrency(0), zstd.IgnoreChecksum(true))
		if err != nil {
			panic(err) // only for bad options
		}
		return d
	})
)

// podDictID names podDict in the frames; nothing else reads them.
const podDictID = 1

// packPod returns raw compressed with podDict.
func packPod(raw []byte) []byte {
	// The frame is small (~150–400 bytes): a buffer of a fifth of the
	// JSON rarely grows, and the result is cut to size for keeping.
	z := podEncoder().EncodeAll(raw, make([]byte, 0, len(raw)/5))
	return bytes.Clone(z)
}

// unpackPod decompresses what packPod returned.
func unpackPod(z []byte) ([]byte, error) {
	raw, err := podDecoder().DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("unpacking a pod: %w", err)
	}
	return raw, nil
}
