package satoken

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/skiff-io/skiff/server/apiserver"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/klog/v2"
)

// DefaultIssuer is kube-apiserver's usual --service-account-issuer; with
// no other audiences configured it is also the API's only audience.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// leeway is the clock skew tolerated on exp and nbf: go-jose's default,
// which kube-apiserver's validator uses.
const leeway = time.Minute

// Subject prefix and groups kube gives service accounts.
const (
	subjectPrefix        = "system:serviceaccount:"
	groupServiceAccounts = "system:serviceaccounts"
)

// claims are the JWT claims of a kube service account token.
type claims struct {
	jwt.RegisteredClaims
	Kubernetes private `json:"kubernetes.io"`
}

type private struct {
	Namespace      string `json:"namespace,omitempty"`
	ServiceAccount ref    `json:"serviceaccount"`
	Pod            *ref   `json:"pod,omitempty"`
	Secret         *ref   `json:"secret,omitempty"`
	Node           *ref   `json:"node,omitempty"`
}

type ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

type options struct {
	issuer    string
	audiences []string
	now       func() time.Time
}

// Option configures an Issuer or Authenticator.
type Option func(*options)

// WithIssuer sets the "iss" claim written and required (DefaultIssuer).
func WithIssuer(iss string) Option { return func(o *options) { o.issuer = iss } }

// WithAudiences sets the API's audiences: a token is accepted only if it
// names one of them, and a TokenRequest without audiences gets them all.
// The default is the issuer alone.
func WithAudiences(auds ...string) Option { return func(o *options) { o.audiences = auds } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

func newOptions(opts []Option) options {
	o := options{issuer: DefaultIssuer, now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	if len(o.audiences) == 0 {
		o.audiences = []string{o.issuer}
	}
	return o
}

func methodFor(pub crypto.PublicKey) (jwt.SigningMethod, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return jwt.SigningMethodES256, nil
	case *rsa.PublicKey:
		return jwt.SigningMethodRS256, nil
	}
	return nil, fmt.Errorf("service account key: %T keys are not supported", pub)
}

// Issuer signs service account tokens for the TokenRequest API.
type Issuer struct {
	key    crypto.Signer
	method jwt.SigningMethod
	kid    string
	o      options
}

// NewIssuer signs with key (from LoadOrCreateKey).
func NewIssuer(key crypto.Signer, opts ...Option) (*Issuer, error) {
	method, err := methodFor(key.Public())
	if err != nil {
		return nil, err
	}
	kid, err := keyID(key.Public())
	if err != nil {
		return nil, err
	}
	return &Issuer{key: key, method: method, kid: kid, o: newOptions(opts)}, nil
}

// Audiences are the API's own audiences, used when a request names none.
func (i *Issuer) Audiences() []string { return append([]string(nil), i.o.audiences...) }

// Issue returns a token for the ServiceAccount ns/saName (whose UID is
// saUID) valid for the audiences (the API's when empty) until exp. A token
// bound to a Pod, Secret or Node (bound.UID filled in) stops being
// accepted when that object is deleted.
func (i *Issuer) Issue(ns, saName string, saUID types.UID, audiences []string, expiration time.Duration, bound *authenticationv1.BoundObjectReference) (string, time.Time, error) {
	if ns == "" || saName == "" || saUID == "" {
		return "", time.Time{}, errors.New("service account namespace, name and uid are required")
	}
	if expiration <= 0 {
		return "", time.Time{}, errors.New("token expiration must be positive")
	}
	if len(audiences) == 0 {
		audiences = i.o.audiences
	}
	// Whole seconds, so that the returned expiry equals the token's exp.
	now := i.o.now().Truncate(time.Second)
	exp := now.Add(expiration)
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.o.issuer,
			Subject:   subjectPrefix + ns + ":" + saName,
			Audience:  jwt.ClaimStrings(audiences),
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ID:        string(uuid.NewUUID()),
		},
		Kubernetes: private{Namespace: ns, ServiceAccount: ref{Name: saName, UID: string(saUID)}},
	}
	if bound != nil {
		r := &ref{Name: bound.Name, UID: string(bound.UID)}
		switch bound.Kind {
		case "Pod":
			c.Kubernetes.Pod = r
		case "Secret":
			c.Kubernetes.Secret = r
		case "Node":
			c.Kubernetes.Node = r
		default:
			return "", time.Time{}, fmt.Errorf("cannot bind a token to a %s", bound.Kind)
		}
	}
	t := jwt.NewWithClaims(i.method, c)
	t.Header["kid"] = i.kid
	s, err := t.SignedString(i.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign service account token: %w", err)
	}
	return s, exp, nil
}

// UIDGetter reads the UID of an object (resource is the plural, ns empty
// for cluster-scoped ones). found is false when it does not exist.
type UIDGetter interface {
	UID(ctx context.Context, resource, ns, name string) (uid types.UID, found bool, err error)
}

// Authenticator accepts the tokens an Issuer with the same key made. It
// implements apiserver.TokenAuthenticator.
type Authenticator struct {
	pub     crypto.PublicKey
	objects UIDGetter
	parser  *jwt.Parser
	o       options
}

var _ apiserver.TokenAuthenticator = (*Authenticator)(nil)

// NewAuthenticator verifies with pub (the Issuer key's public half) and
// checks through objects that the ServiceAccount, and the object a token
// is bound to, still exist with the UIDs the token names.
func NewAuthenticator(pub crypto.PublicKey, objects UIDGetter, opts ...Option) (*Authenticator, error) {
	method, err := methodFor(pub)
	if err != nil {
		return nil, err
	}
	o := newOptions(opts)
	return &Authenticator{
		pub: pub, objects: objects, o: o,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{method.Alg()}),
			jwt.WithIssuer(o.issuer),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(o.now),
		),
	}, nil
}

// AuthenticateToken returns the service account user of a valid token.
// ok is false for anything else: not a JWT, another issuer, a bad
// signature, expired, another audience, or a deleted ServiceAccount. err
// is set only when the check itself failed (datastore unreachable).
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*apiserver.User, bool, error) {
	if strings.Count(token, ".") != 2 {
		return nil, false, nil
	}
	var c claims
	if _, err := a.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return a.pub, nil }); err != nil {
		klog.V(4).InfoS("service account token rejected", "err", err)
		return nil, false, nil
	}
	if !intersects(c.Audience, a.o.audiences) {
		klog.V(4).InfoS("service account token rejected: audience", "aud", []string(c.Audience))
		return nil, false, nil
	}
	k := c.Kubernetes
	if k.Namespace == "" || k.ServiceAccount.Name == "" || k.ServiceAccount.UID == "" ||
		c.Subject != subjectPrefix+k.Namespace+":"+k.ServiceAccount.Name {
		return nil, false, nil
	}
	checks := []struct {
		resource, ns string
		r            *ref
	}{
		{"serviceaccounts", k.Namespace, &k.ServiceAccount},
		{"pods", k.Namespace, k.Pod},
		{"secrets", k.Namespace, k.Secret},
		{"nodes", "", k.Node},
	}
	for _, ch := range checks {
		if ch.r == nil {
			continue
		}
		uid, found, err := a.objects.UID(ctx, ch.resource, ch.ns, ch.r.Name)
		if err != nil {
			return nil, false, fmt.Errorf("service account token: look up %s %s: %w", ch.resource, ch.r.Name, err)
		}
		if !found || string(uid) != ch.r.UID {
			klog.V(4).InfoS("service account token rejected: object gone", "resource", ch.resource, "namespace", ch.ns, "name", ch.r.Name)
			return nil, false, nil
		}
	}
	return &apiserver.User{
		Name:   c.Subject,
		Groups: []string{groupServiceAccounts, groupServiceAccounts + ":" + k.Namespace},
	}, true, nil
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}
