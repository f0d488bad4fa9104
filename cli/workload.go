package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/urfave/cli/v2"
	"github.com/vcdb/vcdb/workload"
)

// `vcdb workload init|run kv|bank URL...` and `vcdb workload check bank URL`
// (contract §1). The flags are CockroachDB's `cockroach workload` flags of
// the same names; the work is done by package workload.

func init() { register(workloadCommand) }

func workloadCommand() *cli.Command {
	return &cli.Command{
		Name:  "workload",
		Usage: "generate load (kv, bank) against vcdb or PostgreSQL and report throughput and latency",
		Subcommands: []*cli.Command{
			{
				Name:  "init",
				Usage: "create a workload's tables and initial rows",
				Subcommands: []*cli.Command{
					{
						Name:      "kv",
						Usage:     "create kv.kv and load --insert-count rows",
						ArgsUsage: "[URL...]",
						Flags:     append(append(initFlags(), kvFlags()...), &cli.Int64Flag{Name: "insert-count", Usage: "rows (keys 1..N) to load"}),
						Action: func(c *cli.Context) error {
							kv, err := kvFromFlags(c)
							if err != nil {
								return err
							}
							kv.InsertCount = c.Int64("insert-count")
							return runInit(c, kv)
						},
					},
					{
						Name:      "bank",
						Usage:     "create bank.bank with --rows accounts",
						ArgsUsage: "[URL...]",
						Flags:     append(initFlags(), bankFlags()...),
						Action: func(c *cli.Context) error {
							return runInit(c, bankFromFlags(c))
						},
					},
				},
			},
			{
				Name:  "run",
				Usage: "run a workload, printing one line per interval and a final summary",
				Subcommands: []*cli.Command{
					{
						Name:      "kv",
						Usage:     "point reads, upserts and spans on kv.kv",
						ArgsUsage: "[URL...]",
						Flags:     append(runFlags(), kvFlags()...),
						Action: func(c *cli.Context) error {
							kv, err := kvFromFlags(c)
							if err != nil {
								return err
							}
							_, err = runWorkload(c, kv)
							return err
						},
					},
					{
						Name:      "bank",
						Usage:     "serializable transfers between random accounts of bank.bank",
						ArgsUsage: "[URL...]",
						Flags:     append(runFlags(), bankFlags()...),
						Action: func(c *cli.Context) error {
							b := bankFromFlags(c)
							_, err := runWorkload(c, b)
							fmt.Fprintf(c.App.Writer, "bank: %d transaction retries\n", b.Retries.Load())
							return err
						},
					},
				},
			},
			{
				Name:  "check",
				Usage: "verify a workload's invariants",
				Subcommands: []*cli.Command{
					{
						Name:      "bank",
						Usage:     "verify that the sum of balances is unchanged and none is negative",
						ArgsUsage: "[URL]",
						Flags: []cli.Flag{
							&cli.StringFlag{Name: "as-of", Usage: "read AS OF SYSTEM TIME this value (e.g. '-1s'; vcdb only)"},
							methodFlag(),
						},
						Action: func(c *cli.Context) error {
							if c.NArg() > 1 {
								return errors.New("check bank takes one URL")
							}
							conn, err := workload.NewConnector(c.Args().Slice(), c.String("method"))
							if err != nil {
								return err
							}
							ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
							defer stop()
							res, err := workload.CheckBank(ctx, conn, c.String("as-of"))
							if err != nil {
								if errors.Is(err, workload.ErrBankInvariant) {
									fmt.Fprintf(c.App.Writer, "bank: FAILED: %s\n", res)
								}
								return err
							}
							fmt.Fprintf(c.App.Writer, "bank: OK: %s\n", res)
							return nil
						},
					},
				},
			},
		},
	}
}

func methodFlag() cli.Flag {
	return &cli.StringFlag{Name: "method", Value: "cache_statement",
		Usage: "how statements are sent: cache_statement, cache_describe, describe_exec, exec or simple_protocol"}
}

func initFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "drop", Usage: "drop the workload's table first"},
		&cli.IntFlag{Name: "concurrency", Value: 4, Usage: "connections loading rows in parallel"},
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the generated values"},
		methodFlag(),
	}
}

func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "concurrency", Value: 8, Usage: "number of connections, each running one operation at a time"},
		&cli.DurationFlag{Name: "duration", Usage: "how long to measure after the ramp (0: until interrupted)"},
		&cli.Float64Flag{Name: "max-rate", Usage: "maximum operations per second over all connections (0: no limit)"},
		&cli.DurationFlag{Name: "ramp", Usage: "start the connections gradually over this period, left out of the summary"},
		&cli.DurationFlag{Name: "display-every", Value: time.Second, Usage: "interval of the progress lines"},
		&cli.StringFlag{Name: "histograms", Usage: "write per-interval and final percentiles to this file as JSON lines"},
		&cli.BoolFlag{Name: "tolerate-errors", Usage: "count failed operations and go on instead of stopping"},
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the keys and values (each connection has its own stream)"},
		methodFlag(),
	}
}

func kvFlags() []cli.Flag {
	d := workload.DefaultKV()
	return []cli.Flag{
		&cli.IntFlag{Name: "read-percent", Value: d.ReadPercent, Usage: "percent of operations that read"},
		&cli.IntFlag{Name: "span-percent", Usage: "percent of operations that scan --span-limit consecutive keys"},
		&cli.Int64Flag{Name: "span-limit", Value: d.SpanLimit, Usage: "keys covered by one span operation"},
		&cli.IntFlag{Name: "min-block-bytes", Value: d.MinBlockBytes, Usage: "minimum size of a written value"},
		&cli.IntFlag{Name: "max-block-bytes", Value: d.MaxBlockBytes, Usage: "maximum size of a written value"},
		&cli.BoolFlag{Name: "sequential", Usage: "write keys in ascending order and read keys already written"},
		&cli.BoolFlag{Name: "zipfian", Usage: "pick keys with a Zipfian distribution (hot small keys)"},
		&cli.Int64Flag{Name: "cycle-length", Value: d.CycleLength, Usage: "key space: keys are 1..N"},
		&cli.Int64Flag{Name: "write-seq", Usage: "with --sequential, the first write is key N+1"},
		&cli.IntFlag{Name: "batch", Value: d.Batch, Usage: "keys per read or write statement"},
		&cli.BoolFlag{Name: "insert-only", Usage: "write with INSERT instead of an upsert (use with --sequential and a fresh --write-seq)"},
	}
}

func kvFromFlags(c *cli.Context) (*workload.KV, error) {
	kv := workload.DefaultKV()
	kv.ReadPercent = c.Int("read-percent")
	kv.SpanPercent = c.Int("span-percent")
	kv.SpanLimit = c.Int64("span-limit")
	kv.MinBlockBytes = c.Int("min-block-bytes")
	kv.MaxBlockBytes = c.Int("max-block-bytes")
	kv.CycleLength = c.Int64("cycle-length")
	kv.WriteSeq = c.Int64("write-seq")
	kv.Batch = c.Int("batch")
	kv.InsertOnly = c.Bool("insert-only")
	switch {
	case c.Bool("sequential") && c.Bool("zipfian"):
		return nil, errors.New("--sequential and --zipfian exclude each other")
	case c.Bool("sequential"):
		kv.Distribution = workload.Sequential
	case c.Bool("zipfian"):
		kv.Distribution = workload.Zipfian
	}
	return kv, kv.Validate()
}

func bankFlags() []cli.Flag {
	d := workload.DefaultBank()
	return []cli.Flag{
		&cli.IntFlag{Name: "rows", Value: d.Rows, Usage: "number of accounts"},
		&cli.IntFlag{Name: "payload-bytes", Value: d.PayloadBytes, Usage: "size of each account's payload"},
	}
}

func bankFromFlags(c *cli.Context) *workload.Bank {
	b := workload.DefaultBank()
	b.Rows = c.Int("rows")
	b.PayloadBytes = c.Int("payload-bytes")
	return b
}

func runInit(c *cli.Context, g workload.Generator) error {
	conn, err := workload.NewConnector(c.Args().Slice(), c.String("method"))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := g.Init(ctx, conn, workload.InitOptions{
		Drop: c.Bool("drop"), Concurrency: c.Int("concurrency"), Seed: c.Uint64("seed"),
	}); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%s: initialised\n", g.Name())
	return nil
}

// runWorkload runs g until --duration passes or the user interrupts it; the
// interrupt ends the run normally, with its summary.
func runWorkload(c *cli.Context, g workload.Generator) (workload.Summary, error) {
	conn, err := workload.NewConnector(c.Args().Slice(), c.String("method"))
	if err != nil {
		return workload.Summary{}, err
	}
	opts := workload.RunOptions{
		Concurrency:    c.Int("concurrency"),
		Duration:       c.Duration("duration"),
		MaxRate:        c.Float64("max-rate"),
		Ramp:           c.Duration("ramp"),
		DisplayEvery:   c.Duration("display-every"),
		TolerateErrors: c.Bool("tolerate-errors"),
		Seed:           c.Uint64("seed"),
		Out:            c.App.Writer,
	}
	if path := c.String("histograms"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return workload.Summary{}, errors.Wrap(err, "--histograms")
		}
		bw := bufio.NewWriter(f)
		defer func() {
			_ = bw.Flush()
			_ = f.Close()
		}()
		opts.HistogramsOut = bw
	}
	ctx, stop := signal.NotifyContext(contextOr(c.Context), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := workload.Run(ctx, conn, g, opts)
	if err == nil && sum.Errors > 0 {
		fmt.Fprintf(c.App.Writer, "%s: %d operations failed (tolerated)\n", g.Name(), sum.Errors)
	}
	return sum, err
}

func contextOr(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
