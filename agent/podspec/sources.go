package podspec

import (
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Sources gives the ConfigMaps and Secrets a pod references. A missing
// object is reported as (nil, nil) or as an error for which
// apierrors.IsNotFound is true; any other error is passed on to the caller.
type Sources interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// NodeInfo holds the facts about the node a pod's environment and files
// depend on.
type NodeInfo struct {
	// Allocatable is the node's allocatable resources; resourceFieldRef
	// falls back to it when a container sets no limit.
	Allocatable corev1.ResourceList
	// HostIPs are the node's addresses, primary first (status.hostIP(s)).
	HostIPs []string
}

// StaticSources is a Sources over fixed objects, keyed by namespace/name.
// The agent can build one from its desired-state document.
type StaticSources struct {
	ConfigMaps map[string]*corev1.ConfigMap
	Secrets    map[string]*corev1.Secret
}

// NewStaticSources indexes the given objects by namespace and name.
func NewStaticSources(cms []*corev1.ConfigMap, secrets []*corev1.Secret) *StaticSources {
	s := &StaticSources{ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{}}
	for _, cm := range cms {
		s.ConfigMaps[cm.Namespace+"/"+cm.Name] = cm
	}
	for _, sec := range secrets {
		s.Secrets[sec.Namespace+"/"+sec.Name] = sec
	}
	return s
}

// ConfigMap implements Sources.
func (s *StaticSources) ConfigMap(namespace, name string) (*corev1.ConfigMap, error) {
	return s.ConfigMaps[namespace+"/"+name], nil
}

// Secret implements Sources.
func (s *StaticSources) Secret(namespace, name string) (*corev1.Secret, error) {
	return s.Secrets[namespace+"/"+name], nil
}

// The kubelet's object caches report a missing object with the singular
// resource name ("configmap \"x\" not found"); users see that text in
// CreateContainerConfigError, so skiff reports it the same way.
var (
	configMapResource = schema.GroupResource{Resource: "configmap"}
	secretResource    = schema.GroupResource{Resource: "secret"}
)

// GetConfigMap looks a ConfigMap up through src. A missing object yields an
// error for which apierrors.IsNotFound is true and whose text is the
// kubelet's (`configmap "x" not found`).
func GetConfigMap(src Sources, namespace, name string) (*corev1.ConfigMap, error) {
	if src == nil {
		return nil, apierrors.NewNotFound(configMapResource, name)
	}
	cm, err := src.ConfigMap(namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(configMapResource, name)
		}
		return nil, err
	}
	if cm == nil {
		return nil, apierrors.NewNotFound(configMapResource, name)
	}
	return cm, nil
}

// GetSecret is GetConfigMap for Secrets (`secret "x" not found`).
func GetSecret(src Sources, namespace, name string) (*corev1.Secret, error) {
	if src == nil {
		return nil, apierrors.NewNotFound(secretResource, name)
	}
	s, err := src.Secret(namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(secretResource, name)
		}
		return nil, err
	}
	if s == nil {
		return nil, apierrors.NewNotFound(secretResource, name)
	}
	return s, nil
}

// IsNotFound reports whether err says a ConfigMap or Secret does not exist.
func IsNotFound(err error) bool {
	return apierrors.IsNotFound(err)
}
