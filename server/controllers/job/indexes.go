package job

import (
	"sort"
	"strconv"
	"strings"
)

// indexSet is a set of completion indexes, written in status as kube
// does: increasing, comma separated, three or more consecutive numbers
// compressed to "first-last" ("1,3-5,7").
type indexSet map[int]struct{}

// parseIndexes reads a status.completedIndexes or failedIndexes string,
// ignoring malformed parts and indexes not below limit.
func parseIndexes(s string, limit int) indexSet {
	out := indexSet{}
	if s == "" {
		return out
	}
	for _, part := range strings.Split(s, ",") {
		first, last, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(first)
		if err != nil || a < 0 {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(last); err != nil || b < a {
				continue
			}
		}
		for i := a; i <= b && i < limit; i++ {
			out[i] = struct{}{}
		}
	}
	return out
}

func (s indexSet) has(i int) bool {
	_, ok := s[i]
	return ok
}

func (s indexSet) add(i int) { s[i] = struct{}{} }

// String formats the set as kube writes it in status.
func (s indexSet) String() string {
	if len(s) == 0 {
		return ""
	}
	ix := make([]int, 0, len(s))
	for i := range s {
		ix = append(ix, i)
	}
	sort.Ints(ix)
	var b strings.Builder
	for k := 0; k < len(ix); {
		j := k
		for j+1 < len(ix) && ix[j+1] == ix[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(ix[k]))
		switch {
		case j-k >= 2:
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(ix[j]))
		case j-k == 1:
			b.WriteByte(',')
			b.WriteString(strconv.Itoa(ix[j]))
		}
		k = j + 1
	}
	return b.String()
}
