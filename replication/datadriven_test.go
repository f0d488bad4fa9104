package replication

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/datadriven"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// TestDataDriven runs the scenarios under testdata/replication: two
// physical clusters in one process, "primary" and "standby".
//
// Vocabulary (cluster= defaults to primary for writes and reads, standby
// for replication commands; vc= defaults to main):
//
//	create-clusters                   primary with VC main, and standby
//	write [cluster=] [vc=] [let=$t]   lines "put k v" / "del k", one txn
//	let $t [cluster=] [offset=]       name the cluster's current time (+offset)
//	read [cluster=] [vc=] [ts=$t]     visible rows
//	show-vcs [cluster=]               VC records
//	start-replication [src=] [dst=] [readonly] [retention=]
//	wait-until-replicated-time [vc=] [ts=$t]   (default: the primary's now)
//	status [cluster=] [vc=]
//	pause | resume [vc=] [nowait]     then waits for the status to settle
//	wait-status status=replication_paused (underscores for spaces)
//	complete-replication ts=latest|$t [nowait]   names $failover, $retained
//	wait-failover [vc=]
//	compare-fingerprints [from=$t] [to=$t] [vc=] [src-vc=] [src=] [dst=]
//	failback [cluster=primary] [vc=] [src-vc=] [from=standby]
//	stop-service | start-service [cluster=] [vc=]
//	bytes-ingested [cluster=] [vc=]
//	producer-jobs [cluster=]
//	expire-producer-jobs [cluster=] advance=   move the wall clock, run the janitor
//	drop [cluster=standby] [vc=]       cancel the consumer job, drop the record
//	protected-timestamps [cluster=]
//	set-retention retention= | set-expiration-window [cluster=primary] window=
//	metrics [cluster=standby]
//	reader-time [cluster=standby] vc=x-readonly [at-least=$t]
//	cut-stream | refuse-dial [on=false] | restart cluster= [max-framing=] | crash cluster=
//	set-version [cluster=primary] [vc=] version=   a VC's cluster version (vc=system)
//	framing [cluster=standby] [vc=]   the framing of the last frame received
//	wait-framing [cluster=standby] [vc=] v=   until the last frame has framing v
//	producer-versions [cluster=primary]   the consumer versions producer jobs know
func TestDataDriven(t *testing.T) {
	defer leaktest.AfterTest(t)()
	datadriven.Walk(t, "../testdata/replication", func(t *testing.T, path string) {
		d := &ddRunner{t: t, names: map[string]kv.Timestamp{}, jobs: map[string]int64{}}
		d.env = newTestEnv(t, defaultEnvOptions())
		datadriven.RunTest(t, path, d.run)
	})
}

type ddRunner struct {
	t     *testing.T
	env   *testEnv
	names map[string]kv.Timestamp
	// jobs remembers each VC's consumer job across its failover.
	jobs map[string]int64
}

func pgErrString(err error) string {
	return fmt.Sprintf("%s: %s", pgerror.GetPGCode(err), err.Error())
}

func (d *ddRunner) arg(td *datadriven.TestData, key, def string) string {
	if td.HasArg(key) {
		var v string
		td.ScanArgs(d.t, key, &v)
		return v
	}
	return def
}

func (d *ddRunner) ts(td *datadriven.TestData, s string) kv.Timestamp {
	ts, ok := d.names[s]
	if !ok {
		td.Fatalf(d.t, "unknown timestamp %q", s)
	}
	return ts
}

// name prints a timestamp by its name, if it has one.
func (d *ddRunner) name(ts kv.Timestamp) string {
	if ts.IsEmpty() {
		return "NULL"
	}
	var names []string
	for n, v := range d.names {
		if v == ts {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "<unnamed>"
	}
	sort.Strings(names)
	return strings.Join(names, "=")
}

const ddWait = 30 * time.Second

func (d *ddRunner) run(t *testing.T, td *datadriven.TestData) string {
	ctx := context.Background()
	env := d.env
	clusterArg := func(def string) *testCluster { return env.cluster(d.arg(td, "cluster", def)) }
	vcName := d.arg(td, "vc", "main")
	switch td.Cmd {
	case "create-clusters":
		p := env.addCluster("primary")
		p.createVC("main")
		env.addCluster("standby")
		return "ok"

	case "write":
		c := clusterArg("primary")
		var kvs [][2]string
		for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 3 && f[0] == "put":
				kvs = append(kvs, [2]string{f[1], f[2]})
			case len(f) == 2 && f[0] == "del":
				kvs = append(kvs, [2]string{f[1], ""})
			default:
				td.Fatalf(t, "bad write line %q", line)
			}
		}
		ts, err := c.write(c.vc(vcName).ID, kvs)
		if err != nil {
			return d.fmtErr(err)
		}
		if td.HasArg("let") {
			d.names[d.arg(td, "let", "")] = ts
		}
		return "ok"

	case "let":
		c := clusterArg("primary")
		now := c.eng.Now()
		if td.HasArg("offset") {
			off, err := time.ParseDuration(d.arg(td, "offset", ""))
			if err != nil {
				td.Fatalf(t, "%v", err)
			}
			now = kv.Timestamp{WallTime: now.WallTime + int64(off)}
		}
		d.names[td.CmdArgs[0].Key] = now
		return ""

	case "read":
		c := clusterArg("primary")
		at := c.eng.Now()
		if td.HasArg("ts") {
			at = d.ts(td, d.arg(td, "ts", ""))
		}
		rec := c.vc(vcName)
		res, err := c.eng.Scan(ctx, tenantSpan(rec.ID), at, kv.ScanOptions{})
		if err != nil {
			return d.fmtErr(err)
		}
		var b strings.Builder
		prefix := len(tenant.Prefix(rec.ID))
		for _, r := range res.KVs {
			fmt.Fprintf(&b, "%s=%s\n", r.Key[prefix:], r.Value)
		}
		if b.Len() == 0 {
			return "(empty)"
		}
		return b.String()

	case "show-vcs":
		c := clusterArg("standby")
		recs, err := c.records.List(ctx, nil)
		if err != nil {
			return d.fmtErr(err)
		}
		var b strings.Builder
		for _, r := range recs {
			if !r.Visible() {
				continue
			}
			state := string(r.DataState)
			if r.ConsumerJobID != 0 {
				if st, err := c.consumer.Status(ctx, r.ID); err == nil && st != nil {
					state = string(st.Status)
				}
			}
			fmt.Fprintf(&b, "%d %s %s %s", r.ID, r.Name, state, r.ServiceMode)
			if r.ReadFrom != 0 {
				fmt.Fprintf(&b, " read_from=%d", r.ReadFrom)
			}
			if r.Prior != nil {
				ts, _ := kv.ParseTimestamp(r.Prior.ActivationTime)
				fmt.Fprintf(&b, " prior=%s@%s", r.Prior.SourceID(), d.name(ts))
			}
			b.WriteString("\n")
		}
		return b.String()

	case "start-replication":
		c := clusterArg("standby")
		from := d.arg(td, "from", "primary")
		var retention time.Duration
		if td.HasArg("retention") {
			var err error
			if retention, err = time.ParseDuration(d.arg(td, "retention", "")); err != nil {
				td.Fatalf(t, "%v", err)
			}
		}
		_, err := c.consumer.Create(ctx, CreateRequest{
			TenantName: d.arg(td, "dst", "main"), SourceTenantName: d.arg(td, "src", "main"),
			SourceURI: "inproc://" + from, Retention: retention, ReadOnly: td.HasArg("readonly"),
		})
		if err != nil {
			return d.fmtErr(err)
		}
		return "ok"

	case "wait-until-replicated-time":
		c := clusterArg("standby")
		var target kv.Timestamp
		if td.HasArg("ts") {
			target = d.ts(td, d.arg(td, "ts", ""))
		} else {
			target = env.cluster(d.arg(td, "from", "primary")).eng.Now()
		}
		c.waitReplicated(vcName, target, ddWait)
		return "ok"

	case "status":
		c := clusterArg("standby")
		st, err := c.consumer.Status(ctx, c.vc(vcName).ID)
		if err != nil {
			return d.fmtErr(err)
		}
		if st == nil {
			return "no replication"
		}
		out := fmt.Sprintf("status: %s\nsource: %s %s\nfailover_time: %s",
			st.Status, st.SourceTenantName, st.SourceURI, d.name(st.FailoverTime))
		if st.LastError != "" {
			out += "\nlast error: " + st.LastError
		}
		return out

	case "pause", "resume":
		c := clusterArg("standby")
		var err error
		want := StatusPaused
		if td.Cmd == "pause" {
			err = c.consumer.Pause(ctx, vcName)
		} else {
			err = c.consumer.Resume(ctx, vcName)
			want = StatusReplicating
		}
		if err != nil {
			return d.fmtErr(err)
		}
		if !td.HasArg("nowait") {
			d.waitStatus(c, vcName, want)
		}
		return "ok"

	case "wait-status":
		c := clusterArg("standby")
		d.waitStatus(c, vcName, Status(strings.ReplaceAll(d.arg(td, "status", ""), "_", " ")))
		return "ok"

	case "complete-replication":
		c := clusterArg("standby")
		target := FailoverTarget{Latest: d.arg(td, "ts", "") == "latest"}
		if !target.Latest {
			target.Time = d.ts(td, d.arg(td, "ts", ""))
		}
		st, err := c.consumer.Status(ctx, c.vc(vcName).ID)
		if err != nil {
			return d.fmtErr(err)
		}
		if st == nil {
			st = &ReplicationStatus{}
		}
		d.names["$retained"] = st.RetainedTime
		d.jobs[vcName] = c.jobOf(vcName)
		ft, err := c.consumer.Complete(ctx, vcName, target)
		if err != nil {
			return d.fmtErr(err)
		}
		d.names["$failover"] = ft
		out := fmt.Sprintf("failover_time = %s", d.name(ft))
		if td.HasArg("nowait") {
			return out
		}
		return out + "\n" + d.waitFailover(c, vcName)

	case "wait-failover":
		return d.waitFailover(clusterArg("standby"), vcName)

	case "compare-fingerprints":
		src := env.cluster(d.arg(td, "src", "primary"))
		dst := env.cluster(d.arg(td, "dst", "standby"))
		var from kv.Timestamp
		if td.HasArg("from") {
			from = d.ts(td, d.arg(td, "from", ""))
		}
		to := d.ts(td, d.arg(td, "to", "$failover"))
		srcVC := d.arg(td, "src-vc", vcName)
		a := src.fingerprint(srcVC, from, to)
		b := dst.fingerprint(vcName, from, to)
		n := countVersions(t, src, srcVC, from, to)
		if a != b {
			return fmt.Sprintf("MISMATCH: %s %x != %s %x (%d source versions)", src.name, a, dst.name, b, n)
		}
		return fmt.Sprintf("equal (%d versions)", n)

	case "failback":
		c := clusterArg("primary")
		_, err := c.consumer.StartFailback(ctx, FailbackRequest{
			TenantName: vcName, SourceTenantName: d.arg(td, "src-vc", vcName),
			SourceURI: "inproc://" + d.arg(td, "from", "standby"),
		})
		if err != nil {
			return d.fmtErr(err)
		}
		return "ok"

	case "stop-service", "start-service":
		c := clusterArg("primary")
		mode := tenant.ServiceModeNone
		if td.Cmd == "start-service" {
			mode = tenant.ServiceModeShared
		}
		if err := c.records.Update(ctx, c.vc(vcName).ID, func(r *tenant.Record) error {
			r.ServiceMode = mode
			return nil
		}); err != nil {
			return d.fmtErr(err)
		}
		return "ok"

	case "bytes-ingested":
		c := clusterArg("standby")
		st, err := c.consumer.Status(ctx, c.vc(vcName).ID)
		if err != nil {
			return d.fmtErr(err)
		}
		if st == nil {
			return "no replication"
		}
		return fmt.Sprintf("logical bytes: %d, versions: %d", st.LogicalBytes, st.Events)

	case "producer-jobs":
		c := clusterArg("primary")
		jobs, err := c.producer.Jobs(ctx)
		if err != nil {
			return d.fmtErr(err)
		}
		var b strings.Builder
		for _, j := range jobs {
			fmt.Fprintf(&b, "%d %s %s %s\n", j.ID, j.Kind, j.TenantName, j.Status)
		}
		return b.String()

	case "expire-producer-jobs":
		c := clusterArg("primary")
		adv, err := time.ParseDuration(d.arg(td, "advance", "0s"))
		if err != nil {
			td.Fatalf(t, "%v", err)
		}
		c.wallOffset.Add(int64(adv))
		ended, err := c.producer.ExpireJobs(ctx)
		if err != nil {
			return d.fmtErr(err)
		}
		return fmt.Sprintf("expired %v", ended)

	case "refuse-dial":
		env.refuseDial.Store(d.arg(td, "on", "true") == "true")
		if env.refuseDial.Load() {
			env.cutStreams()
		}
		return "ok"

	case "drop":
		// DROP VIRTUAL CLUSTER as the SQL layer will do it: cancel the
		// consumer job, then drop the record.
		c := clusterArg("standby")
		rec := c.vc(vcName)
		if err := c.consumer.Cancel(ctx, rec.ID); err != nil {
			return d.fmtErr(err)
		}
		if err := c.records.Update(ctx, rec.ID, func(r *tenant.Record) error {
			r.DroppedName, r.Name, r.DataState = r.Name, "", tenant.DataStateDropped
			return nil
		}); err != nil {
			return d.fmtErr(err)
		}
		return "ok"

	case "protected-timestamps":
		c := clusterArg("primary")
		var b strings.Builder
		for _, pts := range c.eng.ProtectedTimestamps() {
			fmt.Fprintf(&b, "%s at %s\n", pts.ID, d.name(pts.Timestamp))
		}
		if b.Len() == 0 {
			return "(none)"
		}
		return b.String()

	case "set-retention":
		c := clusterArg("standby")
		dur, err := time.ParseDuration(d.arg(td, "retention", ""))
		if err != nil {
			td.Fatalf(t, "%v", err)
		}
		if err := c.consumer.SetRetention(ctx, vcName, dur); err != nil {
			return d.fmtErr(err)
		}
		return "ok"

	case "set-expiration-window":
		c := clusterArg("primary")
		dur, err := time.ParseDuration(d.arg(td, "window", ""))
		if err != nil {
			td.Fatalf(t, "%v", err)
		}
		if err := c.producer.SetExpirationWindow(ctx, vcName, dur); err != nil {
			return d.fmtErr(err)
		}
		jobs, err := c.producer.Jobs(ctx)
		if err != nil {
			return d.fmtErr(err)
		}
		var b strings.Builder
		for _, j := range jobs {
			fmt.Fprintf(&b, "%d %s window=%s\n", j.ID, j.Status, j.ExpirationWindow)
		}
		return b.String()

	case "metrics":
		c := clusterArg("standby")
		var b strings.Builder
		for _, m := range c.consumer.Metrics() {
			fmt.Fprintf(&b, "%s: running=%d replicated_time_set=%t events>0=%t flushes>0=%t\n", m.TenantName, m.Running,
				m.ReplicatedTimeSeconds > 0, m.EventsIngested > 0, m.Flushes > 0)
		}
		if b.Len() == 0 {
			return "(none)"
		}
		return b.String()

	case "reader-time":
		c := clusterArg("standby")
		ts, ok, err := c.consumer.ReaderTimestamp(ctx, c.vc(vcName))
		if err != nil {
			return d.fmtErr(err)
		}
		if !ok {
			return "nothing to read yet"
		}
		if td.HasArg("at-least") {
			if ts.Less(d.ts(td, d.arg(td, "at-least", ""))) {
				return fmt.Sprintf("reader time %s is below %s", ts, d.arg(td, "at-least", ""))
			}
			return "ok"
		}
		return d.name(ts)

	case "cut-stream":
		if env.cutStreams() == 0 {
			return "no stream to cut"
		}
		return "cut"

	case "restart":
		c := clusterArg("standby")
		if td.HasArg("max-framing") {
			var f int
			td.ScanArgs(t, "max-framing", &f)
			c.verMu.Lock()
			c.maxFraming = byte(f)
			c.verMu.Unlock()
		}
		c.restart()
		return "ok"

	case "set-version":
		c := clusterArg("primary")
		id := tenant.SystemID
		if vcName != "system" {
			id = c.vc(vcName).ID
		}
		v, err := tenant.ParseVersion(d.arg(td, "version", ""))
		if err != nil {
			td.Fatalf(t, "%v", err)
		}
		c.setVersion(id, v)
		return "ok"

	case "framing":
		c := clusterArg("standby")
		for _, m := range c.consumer.Metrics() {
			if m.TenantName == vcName {
				return fmt.Sprintf("framing v%d, checksummed frames: %t", m.FramingVersion, m.ChecksummedFrames > 0)
			}
		}
		return "no running job"

	case "wait-framing":
		c := clusterArg("standby")
		var want int64
		td.ScanArgs(t, "v", &want)
		succeedsSoon(t, ddWait, func() error {
			for _, m := range c.consumer.Metrics() {
				if m.TenantName == vcName && m.FramingVersion == want {
					return nil
				}
			}
			return fmt.Errorf("framing not v%d yet", want)
		})
		return "ok"

	case "producer-versions":
		c := clusterArg("primary")
		jobs, err := c.producer.Jobs(ctx)
		if err != nil {
			return d.fmtErr(err)
		}
		var b strings.Builder
		for _, j := range jobs {
			fmt.Fprintf(&b, "%d %s consumer_version=%s max_framing=%d\n", j.ID, j.Status, j.ConsumerVersion, j.ConsumerMaxFraming)
		}
		return b.String()

	case "crash":
		clusterArg("standby").crash()
		return "ok"
	}
	td.Fatalf(t, "unknown command %q", td.Cmd)
	return ""
}

// hlcRE matches a decimal HLC timestamp in a message.
var hlcRE = regexp.MustCompile(`\d{19}\.\d{10}`)

// fmtErr prints an error with its SQLSTATE, timestamps replaced by their
// names (or <ts>) so that the output is deterministic.
func (d *ddRunner) fmtErr(err error) string {
	msg := pgErrString(err)
	return "error: " + hlcRE.ReplaceAllStringFunc(msg, func(s string) string {
		ts, perr := kv.ParseTimestamp(s)
		if perr != nil {
			return s
		}
		if n := d.name(ts); n != "<unnamed>" {
			return n
		}
		return "<ts>"
	})
}

func (d *ddRunner) waitStatus(c *testCluster, vc string, want Status) {
	succeedsSoon(d.t, ddWait, func() error {
		st, err := c.consumer.Status(context.Background(), c.vc(vc).ID)
		if err != nil {
			return err
		}
		if st == nil || st.Status != want {
			return fmt.Errorf("status %+v, want %s", st, want)
		}
		return nil
	})
}

func (d *ddRunner) waitFailover(c *testCluster, vc string) string {
	ctx, cancel := context.WithTimeout(context.Background(), ddWait)
	defer cancel()
	rec, err := c.consumer.WaitForJob(ctx, d.jobs[vc])
	if err != nil {
		return d.fmtErr(err)
	}
	r := c.vc(vc)
	return fmt.Sprintf("job %s; %s %s %s", rec.Machine.Status, r.Name, r.DataState, r.ServiceMode)
}

func countVersions(t testing.TB, c *testCluster, vc string, from, to kv.Timestamp) int {
	n := 0
	err := c.eng.Export(context.Background(), tenantSpan(c.vc(vc).ID), from, to, func(kv.Version) error {
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
