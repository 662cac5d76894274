package defaults

import (
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The grammar of a container image reference, as the distribution reference
// library that kube uses (via ParseNormalizedNamed) defines it. We only need
// it to tell whether a reference carries a tag, a digest or neither; a
// reference that does not parse gets IfNotPresent, exactly as in kube.
var (
	domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domainPart      = `(?:` + domainComponent + `(?:\.` + domainComponent + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
	pathComponent   = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
	namePart        = `(?:` + domainPart + `/)?` + pathComponent + `(?:/` + pathComponent + `)*`
	tagPart         = `[\w][\w.-]{0,127}`
	digestPart      = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`

	referenceRegexp  = regexp.MustCompile(`^(` + namePart + `)(?::(` + tagPart + `))?(?:@(` + digestPart + `))?$`)
	identifierRegexp = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// maxNameLength is the limit distribution puts on the repository name.
const maxNameLength = 255

// pullPolicy is Always for an image tagged :latest or not tagged at all and
// IfNotPresent otherwise (including digest-only and unparsable references).
func pullPolicy(image string) corev1.PullPolicy {
	if tag := imageTag(image); tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// imageTag returns the tag of image, "latest" when the reference has neither
// tag nor digest, and "" when it has only a digest or does not parse.
func imageTag(image string) string {
	if identifierRegexp.MatchString(image) {
		// A bare 64-hex string is an image ID, never a repository name.
		return ""
	}
	m := referenceRegexp.FindStringSubmatch(normalize(image))
	if m == nil || len(m[1]) > maxNameLength {
		return ""
	}
	tag, digest := m[2], m[3]
	if tag == "" && digest == "" {
		return "latest"
	}
	return tag
}

// normalize mirrors the docker.io normalisation: a first path element that
// does not look like a registry host (no '.', no ':', not localhost, and all
// lower case) belongs to docker.io. Only the shape matters to the regexp, so
// the library/ prefix for single-element names is not needed.
func normalize(image string) string {
	i := strings.IndexRune(image, '/')
	if i == -1 {
		return image
	}
	first := image[:i]
	if !strings.ContainsAny(first, ".:") && first != "localhost" && strings.ToLower(first) == first {
		return "docker.io/" + image
	}
	return image
}
