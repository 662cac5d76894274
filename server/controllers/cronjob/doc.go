// Package cronjob is the CronJob controller (the role of
// kube-controller-manager's cronjob controller, v2): at each time a
// CronJob's schedule names — standard cron syntax with @hourly and the
// other descriptors, in spec.timeZone or a TZ=/CRON_TZ= prefix — it creates
// a Job from the jobTemplate, named <cronjob>-<minutes since the epoch of
// the scheduled time> and annotated with
// batch.kubernetes.io/cronjob-scheduled-timestamp, honouring
// concurrencyPolicy (Allow, Forbid, Replace), startingDeadlineSeconds and
// suspend. It keeps status.active, lastScheduleTime and
// lastSuccessfulTime, and deletes finished Jobs beyond
// successfulJobsHistoryLimit and failedJobsHistoryLimit.
//
// Schedules are parsed with github.com/robfig/cron/v3, the parser
// Kubernetes uses. Decide is the pure decision (the CronJob, its Jobs, the
// parsed schedule and the time in; the Job to create, the Jobs to delete
// and the new status out); the Controller parses schedules, loads time
// zones and writes through the server's HTTP API (server/kubeclient),
// requeueing each CronJob for its next scheduled time.
//
// Time zones come from the host's tz database (or $ZONEINFO); the binary
// does not embed one (time/tzdata would add about 450 kB).
//
// It must not import storage, the apiserver or anything under agent/.
package cronjob
