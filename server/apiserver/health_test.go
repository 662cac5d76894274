package apiserver

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A failed readyz names the failed check to everyone, and the datastore's
// error text only to administrators.
func TestReadyzWithholdsReasonFromNonAdmins(t *testing.T) {
	s, err := New(Config{Ready: func(context.Context) error { return errors.New("dial tcp 10.0.0.5:2379: connection refused") }})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who    *User
		reason bool
	}{
		{nil, false},
		{&User{Name: "system:serviceaccount:default:x", Groups: []string{"system:serviceaccounts", "system:authenticated"}}, false},
		{&User{Name: "system:admin", Groups: []string{"system:masters", "system:authenticated"}}, true},
	} {
		r := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		if c.who != nil {
			r = r.WithContext(context.WithValue(r.Context(), userKey{}, c.who))
		}
		w := httptest.NewRecorder()
		s.serveHealth(w, r)
		body := w.Body.String()
		if w.Code != http.StatusInternalServerError || !strings.Contains(body, "[-]etcd failed") {
			t.Errorf("%v: %d %q, want 500 naming the etcd check", c.who, w.Code, body)
		}
		if got := strings.Contains(body, "10.0.0.5"); got != c.reason {
			t.Errorf("%v: reason shown=%v, want %v: %q", c.who, got, c.reason, body)
		}
	}
}
