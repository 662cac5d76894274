package volumes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-io/skiff/agent/podspec"
)

// defaultFileMode is the API default for configMap, secret, downwardAPI
// and projected volumes when defaultMode is unset.
const defaultFileMode = 0o644

func fileMode(item, def *int32) os.FileMode {
	switch {
	case item != nil:
		return os.FileMode(*item) & os.ModePerm
	case def != nil:
		return os.FileMode(*def) & os.ModePerm
	}
	return defaultFileMode
}

func isTrue(b *bool) bool { return b != nil && *b }

// configMapPayload lays out a ConfigMap's keys as files: every key of data
// and binaryData when items is empty, otherwise only the listed keys at
// their paths (a missing key is an error unless optional).
func configMapPayload(cm *corev1.ConfigMap, items []corev1.KeyToPath, defaultMode *int32, optional bool) (map[string]file, error) {
	out := map[string]file{}
	if len(items) == 0 {
		for k, v := range cm.Data {
			out[k] = file{data: []byte(v), mode: fileMode(nil, defaultMode)}
		}
		for k, v := range cm.BinaryData {
			out[k] = file{data: v, mode: fileMode(nil, defaultMode)}
		}
		return out, nil
	}
	for _, it := range items {
		var data []byte
		if v, ok := cm.Data[it.Key]; ok {
			data = []byte(v)
		} else if v, ok := cm.BinaryData[it.Key]; ok {
			data = v
		} else {
			if optional {
				continue
			}
			return nil, fmt.Errorf("configmap references non-existent config key: %s", it.Key)
		}
		out[it.Path] = file{data: data, mode: fileMode(it.Mode, defaultMode)}
	}
	return out, nil
}

// secretPayload is configMapPayload for a Secret's data.
func secretPayload(s *corev1.Secret, items []corev1.KeyToPath, defaultMode *int32, optional bool) (map[string]file, error) {
	out := map[string]file{}
	if len(items) == 0 {
		for k, v := range s.Data {
			out[k] = file{data: v, mode: fileMode(nil, defaultMode)}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := s.Data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("references non-existent secret key: %s", it.Key)
		}
		out[it.Path] = file{data: v, mode: fileMode(it.Mode, defaultMode)}
	}
	return out, nil
}

// downwardPayload renders downward API items: fieldRef (pod metadata) and
// resourceFieldRef (with the node-allocatable fallback for unset limits).
func downwardPayload(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defaultMode *int32, node podspec.NodeInfo) (map[string]file, error) {
	out := map[string]file{}
	var errs []error
	for _, it := range items {
		var (
			v   string
			err error
		)
		switch {
		case it.FieldRef != nil:
			v, err = podspec.MetadataFieldValue(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			v, err = podspec.ResourceFieldValue(pod, nil, it.ResourceFieldRef, node)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[filepath.Clean(it.Path)] = file{data: []byte(v), mode: fileMode(it.Mode, defaultMode)}
	}
	return out, errors.Join(errs...)
}

// projectedPayload merges every source of a projected volume into one
// payload. Token files get mode 0600 when the pod has an fsGroup (the
// ownership change then grants the group read).
func projectedPayload(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource, src podspec.Sources, tokens TokenSource, node podspec.NodeInfo) (map[string]file, error) {
	out := map[string]file{}
	var errs []error
	merge := func(m map[string]file) {
		for k, v := range m {
			out[k] = v
		}
	}
	for _, s := range p.Sources {
		switch {
		case s.ConfigMap != nil:
			optional := isTrue(s.ConfigMap.Optional)
			cm, err := podspec.GetConfigMap(src, pod.Namespace, s.ConfigMap.Name)
			if err != nil {
				if !(podspec.IsNotFound(err) && optional) {
					errs = append(errs, err)
					continue
				}
				cm = &corev1.ConfigMap{}
			}
			m, err := configMapPayload(cm, s.ConfigMap.Items, p.DefaultMode, optional)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			merge(m)
		case s.Secret != nil:
			optional := isTrue(s.Secret.Optional)
			sec, err := podspec.GetSecret(src, pod.Namespace, s.Secret.Name)
			if err != nil {
				if !(podspec.IsNotFound(err) && optional) {
					errs = append(errs, err)
					continue
				}
				sec = &corev1.Secret{}
			}
			m, err := secretPayload(sec, s.Secret.Items, p.DefaultMode, optional)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			merge(m)
		case s.DownwardAPI != nil:
			m, err := downwardPayload(pod, s.DownwardAPI.Items, p.DefaultMode, node)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			merge(m)
		case s.ServiceAccountToken != nil:
			t := s.ServiceAccountToken
			if tokens == nil {
				errs = append(errs, fmt.Errorf("serviceAccountToken %q: no token source", t.Path))
				continue
			}
			exp := int64(3600)
			if t.ExpirationSeconds != nil {
				exp = *t.ExpirationSeconds
			}
			tok, err := tokens.Token(ctx, pod, t.Audience, exp)
			if err != nil {
				errs = append(errs, fmt.Errorf("fetching token for %q: %w", t.Path, err))
				continue
			}
			mode := fileMode(nil, p.DefaultMode)
			if fsGroup(pod) != nil {
				mode = 0o600
			}
			out[t.Path] = file{data: []byte(tok), mode: mode}
		case s.ClusterTrustBundle != nil:
			errs = append(errs, fmt.Errorf("clusterTrustBundle projections are not supported by skiff"))
		case s.PodCertificate != nil:
			errs = append(errs, fmt.Errorf("podCertificate projections are not supported by skiff"))
		}
	}
	return out, errors.Join(errs...)
}

func fsGroup(pod *corev1.Pod) *int64 {
	if pod.Spec.SecurityContext == nil {
		return nil
	}
	return pod.Spec.SecurityContext.FSGroup
}
