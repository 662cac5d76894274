package groupcommit

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/k3s-io/kine/pkg/drivers"
)

// TestListPagePlan asks SQLite how it runs a page of each range read:
// the key index walked in key order, no sort below the page's LIMIT (one
// there would read the whole range for every page, as kine's own SQL
// does), and only the page itself sorted.
func TestListPagePlan(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	path := filepath.Join(t.TempDir(), "state.db")
	b, err := New(ctx, &wg, &drivers.Config{DataSourceName: path + "?_journal_mode=WAL&_txlock=immediate"})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		name string
		sql  string
		args []any
	}{
		{"ListCurrent", b.d.ListCurrentSQL.WithLimit(501).Query, []any{"/a/", "/a0", false}},
		{"ListCurrentVal", b.d.ListCurrentValSQL.WithLimit(501).Query, []any{"/a/", "/a0", false}},
		{"GetRevisionAfter", b.d.GetRevisionAfterSQL.WithLimit(501).Query, []any{"/a/", "/a0", 9, false}},
		{"GetRevisionAfterVal", b.d.GetRevisionAfterValSQL.WithLimit(501).Query, []any{"/a/", "/a0", 9, false}},
	} {
		plan := explain(t, b.d.DB, q.sql, q.args...)
		var sorts, walks int
		for _, step := range plan {
			if strings.Contains(step.detail, "TEMP B-TREE") {
				sorts++
				if step.parent != 0 {
					t.Errorf("%s sorts below the top of the query (%s):\n%s", q.name, step.detail, showPlan(plan))
				}
			}
			if strings.HasPrefix(step.detail, "SEARCH kv USING ") && strings.Contains(step.detail, "(name>? AND name<?)") {
				walks++
			}
		}
		if sorts != 1 || walks != 1 {
			t.Errorf("%s: want one walk of the key index, in key order, and only the page sorted, got %d walks and %d sorts:\n%s", q.name, walks, sorts, showPlan(plan))
		}
	}
}

type planStep struct {
	id, parent int
	detail     string
}

func explain(t *testing.T, db *sql.DB, query string, args ...any) []planStep {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []planStep
	for rows.Next() {
		var s planStep
		var notused int
		if err := rows.Scan(&s.id, &s.parent, &notused, &s.detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

func showPlan(plan []planStep) string {
	var b strings.Builder
	for _, s := range plan {
		fmt.Fprintf(&b, "%d (in %d) %s\n", s.id, s.parent, s.detail)
	}
	return b.String()
}
