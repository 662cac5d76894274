package tests

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestKillDuringWrites: kill -9 the server during a stream of writes from
// 64 concurrent clients, three times over; after each restart every write
// that was acknowledged is there, intact, and the store still serves reads
// and writes. The datastore commits concurrent writes in groups, so the
// kills land in the middle of batches (kine-config/groupcommit's own test
// checks that no batch is left in part).
func TestKillDuringWrites(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	cms := c.CoreV1().ConfigMaps("default")

	var (
		mu    sync.Mutex
		acked = map[string]string{}
	)
	for round := range 3 {
		var n atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := 0; w < 64; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					name := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					val := fmt.Sprintf("value-%d-%d-%d", round, w, i)
					rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
					_, err := cms.Create(rctx, cmWith(name, val), metav1.CreateOptions{})
					rcancel()
					if err == nil {
						mu.Lock()
						acked[name] = val
						mu.Unlock()
						n.Add(1)
					}
				}
			}(w)
		}
		eventually(t, 30*time.Second, "writes to flow", func() bool { return n.Load() > 300 })
		s.kill()
		cancel()
		wg.Wait()
		t.Logf("round %d: %d writes acknowledged in all before kill -9", round, len(acked))

		s.start()
		list, err := cms.List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, cm := range list.Items {
			got[cm.Name] = cm.Data["v"]
		}
		var missing []string
		for name, val := range acked {
			if got[name] != val {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			t.Fatalf("round %d: %d acknowledged writes lost or changed after kill -9, e.g. %v", round, len(missing), missing[:min(5, len(missing))])
		}
	}
	// Still writable and consistent.
	if _, err := cms.Create(context.Background(), cmWith("after-crash", "ok"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.kubectl("get", "cm", "after-crash"); err != nil {
		t.Fatal(errors.New("store not usable after restart"))
	}
}
