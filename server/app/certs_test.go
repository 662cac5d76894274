package app

import (
	"testing"
	"time"
)

func TestCertLifetimes(t *testing.T) {
	tests := []struct {
		env                   string
		validity, renewBefore time.Duration
		wantErr               bool
	}{
		{env: "", validity: 0, renewBefore: 0},
		{env: "20s", validity: 20 * time.Second, renewBefore: 10 * time.Second},
		{env: "20s,5s", validity: 20 * time.Second, renewBefore: 5 * time.Second},
		{env: "20s,20s", wantErr: true},
		{env: "soon", wantErr: true},
		{env: "-1s", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv(TestCertLifetimeEnv, tt.env)
			v, r, err := CertLifetimes()
			if (err != nil) != tt.wantErr || v != tt.validity || r != tt.renewBefore {
				t.Errorf("got %s, %s, %v; want %s, %s, error %v", v, r, err, tt.validity, tt.renewBefore, tt.wantErr)
			}
		})
	}
}
