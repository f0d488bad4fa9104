package cli

import (
	"bytes"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/urfave/cli/v2"
	"github.com/vcdb/vcdb/workload"
)

// deadURL points at a port nothing listens on (port 1 is reserved and not
// served on loopback), so commands that get past their flags fail to
// connect.
const deadURL = "postgresql://root@127.0.0.1:1/defaultdb?sslmode=disable&connect_timeout=2"

func runVCDB(args ...string) (string, error) {
	var out bytes.Buffer
	app := newApp(&out, &out)
	err := app.Run(reorderArgs(app, append([]string{"vcdb"}, args...)))
	return out.String(), err
}

func isConnectError(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// TestWorkloadFlagsAfterURL checks that flags written after the URL, as
// users copy them from CockroachDB's docs, are taken: the command gets as
// far as connecting.
func TestWorkloadFlagsAfterURL(t *testing.T) {
	for _, args := range [][]string{
		{"workload", "run", "kv", deadURL, "--duration=1s", "--read-percent", "50", "--sequential"},
		{"workload", "run", "bank", deadURL, "--duration", "1s", "--rows=10", "--tolerate-errors=false"},
		{"workload", "init", "kv", deadURL, "--insert-count=10", "--drop"},
		{"workload", "init", "bank", deadURL, "--rows=10", "--payload-bytes=3"},
		{"workload", "check", "bank", deadURL, "--as-of=-1s"},
	} {
		if _, err := runVCDB(args...); !isConnectError(err) {
			t.Errorf("%q: want a connection error, got %v", args, err)
		}
	}
}

// TestWorkloadRejectsBadFlags checks that invalid settings fail before any
// connection is attempted, and that no flag is silently ignored.
func TestWorkloadRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"workload", "run", "kv", deadURL, "--read-percent=150"},
		{"workload", "run", "kv", deadURL, "--read-percent=60", "--span-percent=50"},
		{"workload", "run", "kv", deadURL, "--sequential", "--zipfian"},
		{"workload", "run", "kv", deadURL, "--min-block-bytes=10", "--max-block-bytes=5"},
		{"workload", "run", "kv", deadURL, "--batch=0"},
		{"workload", "run", "kv", deadURL, "--method=telepathy"},
		{"workload", "run", "kv", deadURL, "--no-such-flag"},
		{"workload", "run", "bank", deadURL, "--insert-count=5"},
		{"workload", "init", "bank", deadURL, "--rows=1"},
		{"workload", "check", "bank", deadURL, deadURL},
		{"workload", "run", "tpcc", deadURL},
	} {
		_, err := runVCDB(args...)
		if err == nil || isConnectError(err) {
			t.Errorf("%q: want a usage error before connecting, got %v", args, err)
		}
	}
}

// TestKVFlags checks how kv's flags map onto the workload's settings.
func TestKVFlags(t *testing.T) {
	var got *workload.KV
	app := &cli.App{
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{{
			Name:  "kv",
			Flags: kvFlags(),
			Action: func(c *cli.Context) error {
				var err error
				got, err = kvFromFlags(c)
				return err
			},
		}},
	}
	if err := app.Run([]string{"x", "kv"}); err != nil {
		t.Fatal(err)
	}
	def := workload.DefaultKV()
	if got.ReadPercent != 95 || got.Batch != 1 || got.CycleLength != def.CycleLength || got.Distribution != workload.Uniform || got.InsertOnly {
		t.Fatalf("defaults: %+v", got)
	}
	if err := app.Run([]string{"x", "kv", "--read-percent=0", "--span-percent=10", "--span-limit=7",
		"--min-block-bytes=64", "--max-block-bytes=128", "--sequential", "--cycle-length=50",
		"--write-seq=9", "--batch=4", "--insert-only"}); err != nil {
		t.Fatal(err)
	}
	if got.ReadPercent != 0 || got.SpanPercent != 10 || got.SpanLimit != 7 || got.MinBlockBytes != 64 ||
		got.MaxBlockBytes != 128 || got.Distribution != workload.Sequential || got.CycleLength != 50 ||
		got.WriteSeq != 9 || got.Batch != 4 || !got.InsertOnly {
		t.Fatalf("flags: %+v", got)
	}
	if err := app.Run([]string{"x", "kv", "--zipfian"}); err != nil || got.Distribution != workload.Zipfian {
		t.Fatalf("--zipfian: %v, %+v", err, got)
	}
}
