package defaults

import (
	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
)

// pullPolicy is Always for an image tagged :latest or not tagged at all and
// IfNotPresent otherwise (including digest-only and unparsable references),
// as kube-apiserver defaults it.
func pullPolicy(image string) corev1.PullPolicy {
	if tag := imageTag(image); tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// imageTag returns the tag of image, "latest" when the reference has neither
// tag nor digest, and "" when it has only a digest or does not parse. It
// parses with the distribution library kube uses (ParseNormalizedNamed),
// which the agent's container runtime links anyway.
func imageTag(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return ""
	}
	if t, ok := named.(reference.Tagged); ok {
		return t.Tag()
	}
	if _, ok := named.(reference.Digested); ok {
		return ""
	}
	return "latest"
}
