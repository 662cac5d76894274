package satoken

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/types"
)

// objects is an in-memory UIDGetter: "resource/ns/name" → uid.
type objects map[string]types.UID

func (o objects) UID(_ context.Context, resource, ns, name string) (types.UID, bool, error) {
	if uid, ok := o[resource+"/"+ns+"/"+name]; ok {
		if uid == "error" {
			return "", false, errors.New("datastore down")
		}
		return uid, true, nil
	}
	return "", false, nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(t *testing.T, opts ...Option) (*Issuer, *Authenticator, *clock, objects) {
	t.Helper()
	key, err := LoadOrCreateKey(filepath.Join(t.TempDir(), KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)}
	opts = append(opts, WithClock(clk.now))
	iss, err := NewIssuer(key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	objs := objects{"serviceaccounts/y/default": "sa-uid", "pods/y/p": "pod-uid", "nodes//n1": "node-uid"}
	auth, err := NewAuthenticator(key.Public(), objs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return iss, auth, clk, objs
}

func payload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssueClaims(t *testing.T) {
	iss, _, clk, _ := setup(t)
	tok, exp, err := iss.Issue("y", "default", "sa-uid", nil, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := clk.t.Truncate(time.Second)
	if !exp.Equal(now.Add(time.Hour)) {
		t.Errorf("exp = %v, want %v", exp, now.Add(time.Hour))
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var h map[string]any
	_ = json.Unmarshal(hdr, &h)
	if h["alg"] != "ES256" || h["kid"] == "" || h["kid"] == nil {
		t.Errorf("header = %v, want alg ES256 and a kid", h)
	}
	p := payload(t, tok)
	want := map[string]any{
		"iss": DefaultIssuer,
		"sub": "system:serviceaccount:y:default",
		"exp": float64(now.Add(time.Hour).Unix()),
		"iat": float64(now.Unix()),
		"nbf": float64(now.Unix()),
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("claim %s = %v, want %v", k, p[k], v)
		}
	}
	if aud, _ := p["aud"].([]any); len(aud) != 1 || aud[0] != DefaultIssuer {
		t.Errorf("aud = %v, want [%s] (an array, as kube writes it)", p["aud"], DefaultIssuer)
	}
	if s, _ := p["jti"].(string); s == "" {
		t.Errorf("no jti claim: %v", p)
	}
	k8s, _ := p["kubernetes.io"].(map[string]any)
	sa, _ := k8s["serviceaccount"].(map[string]any)
	if k8s["namespace"] != "y" || sa["name"] != "default" || sa["uid"] != "sa-uid" || k8s["pod"] != nil {
		t.Errorf("kubernetes.io claims = %v", k8s)
	}

	tok, _, err = iss.Issue("y", "default", "sa-uid", []string{"a", "b"}, time.Hour,
		&authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "p", UID: "pod-uid"})
	if err != nil {
		t.Fatal(err)
	}
	p = payload(t, tok)
	if aud, _ := p["aud"].([]any); len(aud) != 2 || aud[0] != "a" || aud[1] != "b" {
		t.Errorf("aud = %v, want [a b]", p["aud"])
	}
	pod, _ := p["kubernetes.io"].(map[string]any)["pod"].(map[string]any)
	if pod["name"] != "p" || pod["uid"] != "pod-uid" {
		t.Errorf("pod claim = %v", pod)
	}

	for _, bad := range []struct {
		ns, name string
		uid      types.UID
		exp      time.Duration
		bound    *authenticationv1.BoundObjectReference
	}{
		{"", "default", "u", time.Hour, nil},
		{"y", "", "u", time.Hour, nil},
		{"y", "default", "", time.Hour, nil},
		{"y", "default", "u", 0, nil},
		{"y", "default", "u", time.Hour, &authenticationv1.BoundObjectReference{Kind: "ConfigMap", Name: "x", UID: "u"}},
	} {
		if _, _, err := iss.Issue(bad.ns, bad.name, bad.uid, nil, bad.exp, bad.bound); err == nil {
			t.Errorf("Issue(%q, %q, %q, %v, %v) succeeded", bad.ns, bad.name, bad.uid, bad.exp, bad.bound)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	iss, auth, clk, objs := setup(t)
	ctx := context.Background()
	tok, _, err := iss.Issue("y", "default", "sa-uid", nil, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, ok, err := auth.AuthenticateToken(ctx, tok)
	if err != nil || !ok {
		t.Fatalf("valid token: ok=%v err=%v", ok, err)
	}
	if u.Name != "system:serviceaccount:y:default" || strings.Join(u.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:y" {
		t.Errorf("user = %+v", u)
	}

	reject := func(what, tok string) {
		t.Helper()
		if u, ok, err := auth.AuthenticateToken(ctx, tok); ok || err != nil {
			t.Errorf("%s: accepted as %+v (err %v)", what, u, err)
		}
	}
	// Tampering: any change to header, payload or signature.
	parts := strings.Split(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(p), `"name":"default"`, `"name":"admin"`, 1)
	forged = strings.Replace(forged, "system:serviceaccount:y:default", "system:serviceaccount:y:admin", 1)
	reject("forged payload", parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(forged))+"."+parts[2])
	sig := []byte(parts[2])
	sig[5] ^= 1
	if sig[5] == '.' {
		sig[5] = 'A'
	}
	reject("flipped signature", parts[0]+"."+parts[1]+"."+string(sig))
	reject("no signature", parts[0]+"."+parts[1]+".")
	noneHdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	reject("alg none", noneHdr+"."+parts[1]+".")
	reject("garbage", "not-a-token")
	reject("three garbage parts", "a.b.c")

	// Another key: a token from another cluster.
	other, _, _, _ := setup(t)
	otherTok, _, _ := other.Issue("y", "default", "sa-uid", nil, time.Hour, nil)
	reject("other key", otherTok)

	// Expiry, with kube's one minute of leeway.
	clk.t = clk.t.Add(time.Hour + 30*time.Second)
	if _, ok, _ := auth.AuthenticateToken(ctx, tok); !ok {
		t.Errorf("token rejected within the leeway after exp")
	}
	clk.t = clk.t.Add(time.Minute)
	reject("expired", tok)
	clk.t = clk.t.Add(-time.Hour - 90*time.Second)

	// Not yet valid (issued in the future beyond the leeway).
	clk.t = clk.t.Add(-2 * time.Minute)
	reject("not before", tok)
	clk.t = clk.t.Add(2 * time.Minute)

	// Audience.
	audTok, _, _ := iss.Issue("y", "default", "sa-uid", []string{"vault"}, time.Hour, nil)
	reject("foreign audience", audTok)
	mixed, _, _ := iss.Issue("y", "default", "sa-uid", []string{"vault", DefaultIssuer}, time.Hour, nil)
	if _, ok, _ := auth.AuthenticateToken(ctx, mixed); !ok {
		t.Errorf("token naming the API audience among others was rejected")
	}

	// The ServiceAccount is deleted, or deleted and recreated.
	objs["serviceaccounts/y/default"] = "new-uid"
	reject("recreated service account", tok)
	delete(objs, "serviceaccounts/y/default")
	reject("deleted service account", tok)
	objs["serviceaccounts/y/default"] = "sa-uid"

	// A token bound to a pod ends with the pod.
	bound, _, _ := iss.Issue("y", "default", "sa-uid", nil, time.Hour, &authenticationv1.BoundObjectReference{Kind: "Pod", Name: "p", UID: "pod-uid"})
	if _, ok, _ := auth.AuthenticateToken(ctx, bound); !ok {
		t.Errorf("pod-bound token rejected while the pod exists")
	}
	delete(objs, "pods/y/p")
	reject("bound pod deleted", bound)
	nodeTok, _, _ := iss.Issue("y", "default", "sa-uid", nil, time.Hour, &authenticationv1.BoundObjectReference{Kind: "Node", Name: "n1", UID: "node-uid"})
	if _, ok, _ := auth.AuthenticateToken(ctx, nodeTok); !ok {
		t.Errorf("node-bound token rejected while the node exists")
	}

	// A failed lookup is an error, not a verdict.
	objs["serviceaccounts/y/default"] = "error"
	if _, ok, err := auth.AuthenticateToken(ctx, tok); ok || err == nil {
		t.Errorf("lookup failure: ok=%v err=%v, want an error", ok, err)
	}
}

func TestIssuerAndAudiencesOptions(t *testing.T) {
	iss, auth, _, _ := setup(t, WithIssuer("https://skiff.example"), WithAudiences("https://skiff.example", "skiff"))
	if got := iss.Audiences(); len(got) != 2 || got[1] != "skiff" {
		t.Errorf("Audiences() = %v", got)
	}
	tok, _, _ := iss.Issue("y", "default", "sa-uid", []string{"skiff"}, time.Hour, nil)
	if p := payload(t, tok); p["iss"] != "https://skiff.example" {
		t.Errorf("iss = %v", p["iss"])
	}
	if _, ok, _ := auth.AuthenticateToken(context.Background(), tok); !ok {
		t.Errorf("token for a configured audience rejected")
	}
	// The same key with the default issuer does not take it.
	plain, err := NewAuthenticator(iss.key.Public(), objects{"serviceaccounts/y/default": "sa-uid"}, WithAudiences("skiff"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := plain.AuthenticateToken(context.Background(), tok); ok {
		t.Errorf("token of another issuer accepted")
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tls", KeyFile)
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %v, want 0600", st.Mode().Perm())
	}
	// A restart reuses the key, so tokens stay valid; a loose mode is fixed.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Public().(*ecdsa.PublicKey).Equal(k2.Public()) {
		t.Errorf("second start made a new key")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("key mode after restart = %v, want 0600", st.Mode().Perm())
	}
	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Errorf("junk key accepted")
	}
}
