// Command lakebench measures lakeplane's ingest on the embedded default:
//
//	go run ./cmd/lakebench ingest --rows 10000000
//	go run ./cmd/lakebench ingest --csv /path/to/customers.csv
//
// It generates (or takes) a 17-column insurance-customer CSV, appends it into
// a fresh dataset exactly as an INGEST job does (decoder, Iceberg writer, one
// commit), and prints rows/s, MB/s and peak RSS — once with every core and
// once with GOMAXPROCS=1. Each run is a child process, so that its peak RSS
// is its own.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/lakeplane/lakeplane/internal/benchdata"
	"github.com/lakeplane/lakeplane/internal/ingest"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/jobrun"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
	"github.com/lakeplane/lakeplane/internal/tables"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: lakebench ingest [--rows N | --csv PATH] [--dir DIR]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "ingest":
		err = bench(os.Args[2:])
	case "authz":
		err = authz(os.Args[2:])
	case "cost":
		err = costBench(os.Args[2:])
	case "validate":
		err = validateBench(os.Args[2:])
	case "storage":
		err = storageBench(os.Args[2:])
	case "run-once": // the child process of one measured run
		err = runOnce(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (want ingest)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lakebench:", err)
		os.Exit(1)
	}
}

// result is what a child reports of its run.
type result struct {
	Rows    int64   `json:"rows"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
}

func bench(args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	rows := fs.Int("rows", 1_000_000, "rows to generate")
	csvPath := fs.String("csv", "", "a CSV of benchdata's 17 columns to load instead of generating one")
	dir := fs.String("dir", "", "work directory (default: a temporary one, removed afterwards)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	work, cleanup, err := workDir(*dir, "lakebench-")
	if err != nil {
		return err
	}
	defer cleanup()
	src := *csvPath
	if src == "" {
		if src, err = generateCSV(work, *rows); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "GOMAXPROCS\trows\tMB\tseconds\trows/s\tMB/s\tpeak RSS MiB\t")
	for i, procs := range []int{runtime.NumCPU(), 1} {
		var r result
		peak, err := runChild(procs, &r, "run-once", "--csv", src, "--dir", filepath.Join(work, fmt.Sprintf("run-%d", i)))
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%d\t%d\t%.1f\t%.2f\t%.0f\t%.1f\t%.0f\t\n", procs, r.Rows, float64(r.Bytes)/1e6, r.Seconds,
			float64(r.Rows)/r.Seconds, float64(r.Bytes)/1e6/r.Seconds, peak)
	}
	return tw.Flush()
}

// runOnce appends one CSV into a fresh dataset through the INGEST executor.
func runOnce(args []string) error {
	fs := flag.NewFlagSet("run-once", flag.ContinueOnError)
	csvPath := fs.String("csv", "", "source CSV")
	dir := fs.String("dir", "", "work directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	src, err := filepath.Abs(*csvPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o750); err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, filepath.Join(*dir, "lakeplane.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	absDir, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	catalog, err := tables.Open(ctx, st.DB(), "sqlite", "file://"+filepath.Join(absDir, "warehouse"))
	if err != nil {
		return err
	}
	sources, err := objects.NewFileStore([]string{filepath.Dir(src)})
	if err != nil {
		return err
	}
	svc := ingest.NewService(ingest.Deps{Datasets: st, Tables: catalog, Jobs: st, Sources: sources, GradeLevels: 3})
	d, err := svc.CreateDataset(ctx, benchdata.Customers("bench.customers"))
	if err != nil {
		return err
	}
	spec, _ := json.Marshal(ingest.IngestSpec{SourceURI: "file://" + src, Format: ingest.Format{Header: true}, Mode: ingest.ModeAppend})
	loader := &ingest.Loader{Datasets: st, Sources: sources, Rejects: sources, RejectsDir: "file://" + filepath.Dir(src) + "/rejects", Tables: catalog}
	progress := &jobrun.Progress{}
	start := time.Now()
	if _, err := loader.Run(ctx, &job.Job{ID: "bench", Kind: job.Ingest, Dataset: d.ID, Spec: spec}, progress); err != nil {
		return err
	}
	elapsed := time.Since(start)
	_, p := progress.Snapshot()
	if p.RowsWritten == 0 {
		return errors.New("the load wrote no rows")
	}
	return json.NewEncoder(os.Stdout).Encode(result{Rows: p.RowsWritten, Bytes: p.BytesRead, Seconds: elapsed.Seconds()})
}
