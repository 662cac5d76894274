package groupcommit

import (
	"fmt"

	"github.com/k3s-io/kine/pkg/drivers/generic"
	"github.com/k3s-io/kine/pkg/query"
)

// pagedListSQL reads the newest row of each key in [?, ?) — at or below
// a revision when %[2]s bounds it — in key order, the rows that are
// deletions left out unless the last ? is true, with the current and
// compact revisions in front of every row, and one row of NULLs after
// them when no key matched (so that the caller still learns the
// revisions). It answers what kine's own range SQL answers, in the same
// columns, but a page costs what the page holds.
//
// kine's SQL groups the whole range by key and sorts it before its LIMIT
// applies, so SQLite copies every matching row, values included, into a
// temporary table for every page: paging through n keys costs O(n²/page).
// A restarted server's informers, sync hub and metadata feed each page
// through every pod that way; with 21,000 pods the three lists kept the
// scheduler from its first binding for 23 s (hack/bench/scheduler,
// "server start → first"). Here SQLite walks the key index in order,
// keeps a row only when it is its key's newest (an index lookup), and
// stops at the LIMIT.
//
// %[1]s: the value column (", kv.value") or nothing (keys only);
// %[2]s: the revision bound of the newest row ("AND m.id <= ?") or
// nothing. The LIMIT goes where query.LimitToken stands, inside the
// page's subquery.
const pagedListSQL = `
SELECT c.current_rev, c.compact_rev, kv.id, kv.name, kv.created, kv.deleted, kv.create_revision, kv.prev_revision, kv.lease %[1]s
FROM (SELECT
	(SELECT MAX(id) FROM kine) AS current_rev,
	(SELECT MAX(prev_revision) FROM kine WHERE name = 'compact_rev_key') AS compact_rev) AS c
LEFT JOIN (
	SELECT kv.id, kv.name, kv.created, kv.deleted, kv.create_revision, kv.prev_revision, kv.lease %[1]s
	FROM kine AS kv
	WHERE kv.name >= ? AND kv.name < ?
		AND kv.id = (SELECT MAX(m.id) FROM kine AS m WHERE m.name = kv.name %[2]s)
		AND (kv.deleted = 0 OR ?)
	ORDER BY kv.name ` + query.LimitToken + `
) AS kv
ORDER BY kv.name`

// usePagedLists makes d's range reads (kine's ListCurrent and
// GetRevisionAfter, with and without values) use pagedListSQL. The
// arguments kine binds stay the same: start, end, [revision,]
// includeDeleted.
func usePagedLists(d *generic.Generic) {
	q := func(val, rev, name string) *query.Named {
		return query.New(fmt.Sprintf(pagedListSQL, val, rev), "?", false, name)
	}
	d.ListCurrentSQL = q("", "", "ListCurrentPaged")
	d.ListCurrentValSQL = q(", kv.value", "", "ListCurrentValPaged")
	d.GetRevisionAfterSQL = q("", "AND m.id <= ?", "GetRevisionAfterPaged")
	d.GetRevisionAfterValSQL = q(", kv.value", "AND m.id <= ?", "GetRevisionAfterValPaged")
}
