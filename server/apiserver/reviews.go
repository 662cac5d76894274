package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The review APIs, as kube-apiserver serves them: authentication.k8s.io
// TokenReviews and SelfSubjectReviews (kubectl auth whoami), and
// authorization.k8s.io access and rules reviews (kubectl auth can-i).
// Each is a create-only resource that stores nothing: the server answers
// the question the request object asks by filling in its status.

// reviewFunc answers a decoded review for the caller u (nil for nobody),
// filling in obj's status, or returns the error the request fails with.
type reviewFunc func(s *Server, ctx context.Context, u *User, ri requestInfo, obj runtime.Object) error

// reviewResources are the review resources, for discovery and dispatch.
func reviewResources() []*resource {
	authn, authz := authenticationv1.SchemeGroupVersion, authorizationv1.SchemeGroupVersion
	rs := []*resource{
		{gvk: authn.WithKind("TokenReview"), plural: "tokenreviews",
			newObj: func() runtime.Object { return &authenticationv1.TokenReview{} }, review: (*Server).reviewToken},
		{gvk: authn.WithKind("SelfSubjectReview"), plural: "selfsubjectreviews",
			newObj: func() runtime.Object { return &authenticationv1.SelfSubjectReview{} }, review: (*Server).reviewSelf},
		{gvk: authz.WithKind("LocalSubjectAccessReview"), plural: "localsubjectaccessreviews", namespaced: true,
			newObj: func() runtime.Object { return &authorizationv1.LocalSubjectAccessReview{} }, review: (*Server).reviewLocalAccess},
		{gvk: authz.WithKind("SelfSubjectAccessReview"), plural: "selfsubjectaccessreviews",
			newObj: func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} }, review: (*Server).reviewSelfAccess},
		{gvk: authz.WithKind("SelfSubjectRulesReview"), plural: "selfsubjectrulesreviews",
			newObj: func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} }, review: (*Server).reviewSelfRules},
		{gvk: authz.WithKind("SubjectAccessReview"), plural: "subjectaccessreviews",
			newObj: func() runtime.Object { return &authorizationv1.SubjectAccessReview{} }, review: (*Server).reviewAccess},
	}
	for _, r := range rs {
		r.singular = lower(r.gvk.Kind)
	}
	return rs
}

// selfReviews are the reviews every authenticated user may create: they
// only ask about the caller itself. kube-apiserver grants them to all
// through the system:basic-user role; skiff has no roles, so authorize
// grants them, and the node authorizer need not know them.
var selfReviews = []schema.GroupResource{
	{Group: authenticationv1.GroupName, Resource: "selfsubjectreviews"},
	{Group: authorizationv1.GroupName, Resource: "selfsubjectaccessreviews"},
	{Group: authorizationv1.GroupName, Resource: "selfsubjectrulesreviews"},
}

func isSelfReview(a Attributes) bool {
	return a.Verb == "create" && a.Subresource == "" && slices.Contains(selfReviews, a.Resource)
}

// serveReview answers POST on a review collection. Only the collection
// is served, and only with POST, as kube-apiserver routes them.
func (s *Server) serveReview(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	if ri.name != "" {
		writeStatus(w, pathNotFound())
		return
	}
	if ri.verb != "create" {
		writeStatus(w, &apierrors.NewGenericServerResponse(http.StatusMethodNotAllowed, "", schema.GroupResource{}, "", "", 0, false).ErrStatus)
		return
	}
	obj, _, warnings, err := s.readObject(r, res.gvk, res.newObj)
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	addWarnings(w, warnings)
	if err := res.review(s, r.Context(), userFrom(r.Context()), ri, obj); err != nil {
		writeError(w, err, gr, "")
		return
	}
	b, err := encodeObject(obj, res.gvk)
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	writeJSON(w, http.StatusCreated, b)
}

func noUser() error { return apierrors.NewBadRequest("no user present on request") }

// userInfo is u as the review APIs report a user. skiff's users carry no
// UID or extra attributes, so those are always empty.
func userInfo(u *User) authenticationv1.UserInfo {
	return authenticationv1.UserInfo{Username: u.Name, Groups: slices.Clone(u.Groups)}
}

// reviewSelf tells the caller who the server took it for: its name and
// groups as authentication left them, system:authenticated included.
func (s *Server) reviewSelf(_ context.Context, u *User, _ requestInfo, obj runtime.Object) error {
	if u == nil {
		return noUser()
	}
	review := obj.(*authenticationv1.SelfSubjectReview)
	review.CreationTimestamp = metav1.Now()
	review.Status.UserInfo = userInfo(u)
	return nil
}

// reviewToken authenticates spec.token with the server's own token
// authenticator, as if it came in a request's Authorization header.
//
// That authenticator accepts only tokens for the API's own audiences
// (TokenIssuer.Audiences). A review for other audiences therefore never
// authenticates here, though a token issued for them would be valid
// elsewhere; and status.audiences names the requested audiences that are
// the API's, which a token it accepts was issued for at least one of.
func (s *Server) reviewToken(ctx context.Context, _ *User, _ requestInfo, obj runtime.Object) error {
	review := obj.(*authenticationv1.TokenReview)
	if review.Spec.Token == "" {
		return apierrors.NewBadRequest("token is required for TokenReview in authentication")
	}
	if s.cfg.Tokens == nil {
		return nil // nothing authenticates tokens: unauthenticated
	}
	auds := review.Spec.Audiences
	if s.cfg.TokenIssuer != nil {
		api := s.cfg.TokenIssuer.Audiences()
		if len(auds) == 0 {
			auds = api
		} else {
			auds = slices.DeleteFunc(slices.Clone(auds), func(a string) bool { return !slices.Contains(api, a) })
			if len(auds) == 0 {
				return nil
			}
		}
	}
	u, ok, err := s.cfg.Tokens.AuthenticateToken(ctx, review.Spec.Token)
	if err != nil {
		review.Status.Error = err.Error()
		return nil
	}
	if !ok || u == nil {
		return nil
	}
	review.Status.Authenticated = true
	// The groups a request with this token would have (authenticate).
	review.Status.User = userInfo(&User{Name: u.Name, Groups: append(slices.Clone(u.Groups), "system:authenticated")})
	review.Status.Audiences = auds
	return nil
}

// reviewSelfAccess: may the caller do what spec describes?
func (s *Server) reviewSelfAccess(_ context.Context, u *User, _ requestInfo, obj runtime.Object) error {
	if u == nil {
		return noUser()
	}
	review := obj.(*authorizationv1.SelfSubjectAccessReview)
	errs := validateAccess(review.Spec.ResourceAttributes, review.Spec.NonResourceAttributes, field.NewPath("spec"))
	errs = append(errs, metadataEmpty(review.ObjectMeta, false)...)
	if len(errs) > 0 {
		return apierrors.NewInvalid(review.GroupVersionKind().GroupKind(), "", errs)
	}
	review.Status = s.decide(u, review.Spec.ResourceAttributes, review.Spec.NonResourceAttributes)
	return nil
}

// reviewAccess: may the user spec names do what spec describes? Only
// callers allowed to create subjectaccessreviews get here (dispatch).
func (s *Server) reviewAccess(_ context.Context, _ *User, _ requestInfo, obj runtime.Object) error {
	review := obj.(*authorizationv1.SubjectAccessReview)
	errs := validateSubjectAccess(review.Spec, field.NewPath("spec"))
	errs = append(errs, metadataEmpty(review.ObjectMeta, false)...)
	if len(errs) > 0 {
		return apierrors.NewInvalid(review.GroupVersionKind().GroupKind(), "", errs)
	}
	review.Status = s.decide(subject(review.Spec), review.Spec.ResourceAttributes, review.Spec.NonResourceAttributes)
	return nil
}

// reviewLocalAccess is reviewAccess limited to the namespace of the
// request, which the review's resource attributes must name.
func (s *Server) reviewLocalAccess(_ context.Context, _ *User, ri requestInfo, obj runtime.Object) error {
	review := obj.(*authorizationv1.LocalSubjectAccessReview)
	switch review.Namespace {
	case "":
		review.Namespace = ri.namespace
	case ri.namespace:
	default:
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	errs := validateSubjectAccess(review.Spec, field.NewPath("spec"))
	errs = append(errs, metadataEmpty(review.ObjectMeta, true)...)
	if ra := review.Spec.ResourceAttributes; ra != nil && ra.Namespace != review.Namespace {
		errs = append(errs, field.Invalid(field.NewPath("spec", "resourceAttributes", "namespace"), ra.Namespace, "must match metadata.namespace"))
	}
	if nra := review.Spec.NonResourceAttributes; nra != nil {
		errs = append(errs, field.Invalid(field.NewPath("spec", "nonResourceAttributes"), nra, "disallowed on this kind of request"))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(review.GroupVersionKind().GroupKind(), "", errs)
	}
	review.Status = s.decide(subject(review.Spec), review.Spec.ResourceAttributes, nil)
	return nil
}

// subject is the user a SubjectAccessReview asks about, with exactly the
// groups it names (no system:authenticated is added).
func subject(spec authorizationv1.SubjectAccessReviewSpec) *User {
	return &User{Name: spec.User, Groups: slices.Clone(spec.Groups)}
}

// validateAccess checks that a review asks exactly one question.
func validateAccess(ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ra != nil && nra != nil {
		errs = append(errs, field.Invalid(p.Child("nonResourceAttributes"), nra, "cannot be specified in combination with resourceAttributes"))
	}
	if ra == nil && nra == nil {
		errs = append(errs, field.Invalid(p.Child("resourceAttributes"), nra, "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
	}
	return errs
}

func validateSubjectAccess(spec authorizationv1.SubjectAccessReviewSpec, p *field.Path) field.ErrorList {
	errs := validateAccess(spec.ResourceAttributes, spec.NonResourceAttributes, p)
	if spec.User == "" && len(spec.Groups) == 0 {
		errs = append(errs, field.Invalid(p.Child("user"), spec.User, "at least one of user or group must be specified"))
	}
	return errs
}

// metadataEmpty: a review is not an object with an identity, so its
// metadata must be empty (but for managed fields, and the namespace of a
// local review).
func metadataEmpty(m metav1.ObjectMeta, keepNamespace bool) field.ErrorList {
	c := m
	c.ManagedFields = nil
	msg := "must be empty"
	if keepNamespace {
		c.Namespace = ""
		msg = "must be empty except for namespace"
	}
	if apiequality.Semantic.DeepEqual(metav1.ObjectMeta{}, c) {
		return nil
	}
	return field.ErrorList{field.Invalid(field.NewPath("metadata"), m, msg)}
}

// decide answers an access question for u through the server's own
// decision: authorize for resources, the same call a real request of u
// is checked with, so a node's credential gets the answer its request
// would; nonResourceAllowed for other paths. skiff's authorizers allow or
// have no opinion; they never deny outright, so status.denied stays false.
func (s *Server) decide(u *User, ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) authorizationv1.SubjectAccessReviewStatus {
	if ra == nil {
		return authorizationv1.SubjectAccessReviewStatus{Allowed: nonResourceAllowed(u, nra.Verb, nra.Path)}
	}
	ok, reason := s.authorize(reviewAttributes(u, ra))
	return authorizationv1.SubjectAccessReviewStatus{Allowed: ok, Reason: reason}
}

// reviewAttributes are the Attributes of the request ra describes, as
// dispatch would have made them: a create names no object in its URL, so
// the name asked about is the new object's (NewName).
func reviewAttributes(u *User, ra *authorizationv1.ResourceAttributes) Attributes {
	a := Attributes{
		User: u, Verb: ra.Verb, Resource: schema.GroupResource{Group: ra.Group, Resource: ra.Resource},
		Namespace: ra.Namespace, Name: ra.Name, Subresource: ra.Subresource,
		FieldSelector: reviewFieldSelector(ra.FieldSelector),
		LabelSelector: reviewLabelSelector(ra.LabelSelector),
	}
	if a.Verb == "create" && a.Subresource == "" {
		a.Name, a.NewName = "", ra.Name
	}
	return a
}

// reviewFieldSelector is the field selector a review names. A raw
// selector that does not parse selects Nothing, as in a request. A
// requirement a fields.Selector cannot express (In or NotIn with other
// than one value, Exists, DoesNotExist) is left out: the attributes then
// describe a broader request, which no authorizer allows more readily.
func reviewFieldSelector(fs *authorizationv1.FieldSelectorAttributes) fields.Selector {
	if fs == nil {
		return fields.Everything()
	}
	var sels []fields.Selector
	if fs.RawSelector != "" {
		sel, err := fields.ParseSelector(fs.RawSelector)
		if err != nil {
			return fields.Nothing()
		}
		sels = append(sels, sel)
	}
	for _, req := range fs.Requirements {
		if len(req.Values) != 1 {
			continue
		}
		switch req.Operator {
		case metav1.FieldSelectorOpIn:
			sels = append(sels, fields.OneTermEqualSelector(req.Key, req.Values[0]))
		case metav1.FieldSelectorOpNotIn:
			sels = append(sels, fields.OneTermNotEqualSelector(req.Key, req.Values[0]))
		}
	}
	if len(sels) == 0 {
		return fields.Everything()
	}
	return fields.AndSelectors(sels...)
}

// reviewLabelSelector is the raw labelSelector of the request a review
// describes.
func reviewLabelSelector(ls *authorizationv1.LabelSelectorAttributes) string {
	if ls == nil {
		return ""
	}
	parts := []string{}
	if ls.RawSelector != "" {
		parts = append(parts, ls.RawSelector)
	}
	if len(ls.Requirements) > 0 {
		if sel, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchExpressions: ls.Requirements}); err == nil {
			parts = append(parts, sel.String())
		}
	}
	return strings.Join(parts, ",")
}

// everyoneURLs are the paths besides the resources that skiff serves to
// every authenticated user (ServeHTTP checks no permission for them):
// discovery, OpenAPI, version and health. Other paths are either resource
// requests, which authorize decides, or /debug/pprof, for system:masters
// only. A trailing "*" matches any rest of the path.
var everyoneURLs = []string{
	"/", "/api", "/api/*", "/apis", "/apis/*", "/openapi/v2", "/openapi/v3", "/openapi/v3/*", "/version", "/version/",
	"/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*",
}

// nonResourceAllowed says whether u may use path with verb (an HTTP
// method in lower case) outside the resource API: system:masters may do
// anything; everyone else may get the paths in everyoneURLs.
func nonResourceAllowed(u *User, verb, path string) bool {
	if u == nil {
		return false
	}
	if isMaster(u) {
		return true
	}
	if verb != "get" {
		return false
	}
	for _, p := range everyoneURLs {
		if prefix, ok := strings.CutSuffix(p, "*"); (ok && strings.HasPrefix(path, prefix)) || p == path {
			return true
		}
	}
	return false
}

// reviewSelfRules lists what the caller may do in spec.namespace
// (kubectl auth can-i --list). For system:masters that is everything.
// For other users the rules skiff grants every authenticated user are
// known, but the Authorizer can only answer one request at a time, not
// list its rules: the answer is then marked incomplete, as kube-apiserver
// marks it for authorizers that cannot list rules (the node authorizer).
func (s *Server) reviewSelfRules(_ context.Context, u *User, _ requestInfo, obj runtime.Object) error {
	if u == nil {
		return noUser()
	}
	review := obj.(*authorizationv1.SelfSubjectRulesReview)
	if review.Spec.Namespace == "" {
		return apierrors.NewBadRequest("no namespace on request")
	}
	if isMaster(u) {
		review.Status = authorizationv1.SubjectRulesReviewStatus{
			ResourceRules:    []authorizationv1.ResourceRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}},
			NonResourceRules: []authorizationv1.NonResourceRule{{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}},
		}
		return nil
	}
	st := authorizationv1.SubjectRulesReviewStatus{
		ResourceRules:    []authorizationv1.ResourceRule{},
		NonResourceRules: []authorizationv1.NonResourceRule{{Verbs: []string{"get"}, NonResourceURLs: slices.Clone(everyoneURLs)}},
	}
	for _, gr := range selfReviews {
		st.ResourceRules = append(st.ResourceRules, authorizationv1.ResourceRule{
			Verbs: []string{"create"}, APIGroups: []string{gr.Group}, Resources: []string{gr.Resource},
		})
	}
	if s.cfg.Authorizer != nil {
		st.Incomplete = true
		st.EvaluationError = fmt.Sprintf("the authorizer of user %q cannot list its rules; ask about one request at a time (kubectl auth can-i VERB RESOURCE)", u.Name)
	}
	review.Status = st
	return nil
}
