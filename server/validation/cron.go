package validation

import (
	"fmt"
	"strings"

	"github.com/robfig/cron/v3"
)

// parseSchedule accepts what kube's CronJob validation accepts: robfig/cron
// v3's standard parser (five fields, or a descriptor such as @hourly or
// @every 1h30m), the parser the CronJob controller runs schedules with.
// Its error texts are the parser's, as kube returns them verbatim. A
// TZ=/CRON_TZ= prefix is skipped here: validation refuses it separately,
// and checking the zone itself would need the host's zone database.
func parseSchedule(spec string) error {
	if spec == "" {
		return fmt.Errorf("empty spec string")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		i := strings.Index(spec, " ")
		if i < 0 {
			return fmt.Errorf("expected exactly 5 fields, found 0: []")
		}
		spec = strings.TrimSpace(spec[i:])
	}
	_, err := cron.ParseStandard(spec)
	return err
}
