package job

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
)

// matchSuccessPolicy finds the first rule of an Indexed Job's
// successPolicy that its completed indexes meet, and returns kube's
// message for the SuccessCriteriaMet condition. A rule with
// succeededIndexes is met when all of them completed, or (with
// succeededCount too) when that many of them did; a rule with
// succeededCount alone when that many indexes completed. A rule whose
// succeededIndexes name no index below completions is never met.
func matchSuccessPolicy(p *batchv1.SuccessPolicy, completions int, completed indexSet) (string, bool) {
	if p == nil || len(completed) == 0 {
		return "", false
	}
	for i, rule := range p.Rules {
		met := false
		if rule.SucceededIndexes != nil {
			want := parseIndexes(*rule.SucceededIndexes, completions)
			if len(want) == 0 {
				continue
			}
			done := 0
			for ix := range want {
				if completed.has(ix) {
					done++
				}
			}
			met = done == len(want) || (rule.SucceededCount != nil && done >= int(*rule.SucceededCount))
		} else if rule.SucceededCount != nil {
			met = len(completed) >= int(*rule.SucceededCount)
		}
		if met {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}
