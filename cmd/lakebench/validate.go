package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/lakeplane/lakeplane/internal/benchdata"
	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/quality"
	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
)

// validateSuite is the benchmark's 10-rule suite over benchdata's columns:
// column count and order, not-null on 3 columns, uniqueness of the id,
// allowed values, a range, a regex on the 13-digit registration number and
// a maximum length.
func validateSuite() string {
	cols := strings.Split(strings.TrimSpace(benchdata.Header()), ",")
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = strconv.Quote(c)
	}
	return fmt.Sprintf(`Rules = [
    ColumnCount = %d,
    ColumnOrder = [%s],
    IsComplete "customer_id",
    IsComplete "policy_no",
    IsComplete "premium",
    IsUnique "customer_id",
    ColumnValues "gender" in ["M", "F"],
    ColumnValues "premium" between 0 and 1000000,
    ColumnValues "rrn" matches "^\\d{6}-\\d{7}$",
    ColumnLength "name" <= 20
]`, len(cols), strings.Join(quoted, ", "))
}

// validateResult is what a validate child reports of its run.
type validateResult struct {
	Rows    int64         `json:"rows"`
	Bytes   int64         `json:"bytes"`
	Seconds float64       `json:"seconds"`
	Outcome suite.Outcome `json:"outcome"`
}

// validateBench runs `lakebench validate`: the suite over the generated (or
// given) CSV through quality.Service.ValidateObject — the decoder and the
// one-pass evaluator, as the API runs them (with more than one core the
// decoder cuts the file into chunks decoded in parallel) — in a child process per
// GOMAXPROCS (2, then 1), printing rows/s, MB/s and peak RSS. With --once it
// is that child.
func validateBench(args []string) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	rows := fs.Int("rows", 10_000_000, "rows to generate")
	csvPath := fs.String("csv", "", "a CSV of benchdata's 17 columns to validate instead of generating one")
	dir := fs.String("dir", "", "work directory (default: a temporary one, removed afterwards)")
	once := fs.Bool("once", false, "run one measured validation of --csv in --dir and print its result as JSON (the child)")
	cpuProfile := fs.String("cpuprofile", "", "with --once: write a CPU profile of the validation to this file")
	duckDir := fs.String("duckdb", "", "also time DuckDB running the same checks as one SQL query: the directory of validate.mjs with @duckdb/node-api installed (cmd/lakebench/duckdb after npm install there)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *once {
		return validateOnce(context.Background(), *csvPath, *dir, *cpuProfile)
	}
	work, cleanup, err := workDir(*dir, "lakebench-validate-")
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
	fmt.Fprintln(tw, "engine\tGOMAXPROCS/threads\trows\tMB\tseconds\trows/s\tMB/s\tpeak RSS MiB\toutcome\t")
	for i, procs := range []int{2, 1} {
		var r validateResult
		peak, err := runChild(procs, &r, "validate", "--once", "--csv", src, "--dir", filepath.Join(work, fmt.Sprintf("validate-%d", i)))
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "lakeplane\t%d\t%d\t%.1f\t%.2f\t%.0f\t%.1f\t%.0f\t%s\t\n", procs, r.Rows, float64(r.Bytes)/1e6, r.Seconds,
			float64(r.Rows)/r.Seconds, float64(r.Bytes)/1e6/r.Seconds, peak, r.Outcome)
		if *duckDir == "" {
			continue
		}
		d, peak, err := runDuckDB(*duckDir, src, procs)
		if err != nil {
			return err
		}
		if d.Rows != r.Rows || d.Failures != 0 || strings.Join(d.Columns, ",") != strings.TrimSpace(benchdata.Header()) {
			return fmt.Errorf("duckdb does not agree with lakeplane: %d rows (lakeplane %d), %d failing checks, columns %q", d.Rows, r.Rows, d.Failures, d.Columns)
		}
		fmt.Fprintf(tw, "duckdb\t%d\t%d\t%.1f\t%.2f\t%.0f\t%.1f\t%.0f\tPASS\t\n", procs, d.Rows, float64(r.Bytes)/1e6, d.Seconds,
			float64(d.Rows)/d.Seconds, float64(r.Bytes)/1e6/d.Seconds, peak)
	}
	return tw.Flush()
}

// duckResult is what validate.mjs prints: the query's seconds, the rows it
// counted, the sum of its failure counts and the columns DuckDB read.
type duckResult struct {
	Seconds  float64  `json:"seconds"`
	Rows     int64    `json:"rows"`
	Failures int64    `json:"failures"`
	Columns  []string `json:"columns"`
}

// runDuckDB runs the DuckDB reference with threads threads over src.
func runDuckDB(dir, src string, threads int) (duckResult, float64, error) {
	var r duckResult
	cmd := exec.Command("node", filepath.Join(dir, "validate.mjs"), src, strconv.Itoa(threads))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return r, 0, fmt.Errorf("duckdb with %d threads (is @duckdb/node-api installed in %s?): %w", threads, dir, err)
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return r, 0, fmt.Errorf("duckdb printed %q: %w", out, err)
	}
	return r, float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024, nil
}

// validateOnce validates one CSV with the benchmark suite, through a fresh
// SQLite store in dir, and prints a validateResult.
func validateOnce(ctx context.Context, csvPath, dir, cpuProfile string) error {
	if csvPath == "" || dir == "" {
		return errors.New("validate --once needs --csv and --dir")
	}
	src, err := filepath.Abs(csvPath)
	if err != nil {
		return err
	}
	info, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	spill := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(spill, 0o750); err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lakeplane.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	sources, err := objects.NewFileStore([]string{filepath.Dir(src)})
	if err != nil {
		return err
	}
	d, err := st.CreateDataset(ctx, benchdata.Customers("bench.customers"))
	if err != nil {
		return fmt.Errorf("create the dataset: %w", err)
	}
	svc := quality.NewService(st, sources, nil, spill)
	rs, err := quality.SuiteRules(validateSuite(), nil)
	if err != nil {
		return fmt.Errorf("the benchmark suite: %w", err)
	}
	if n := len(rs.Rules); n != 10 {
		return fmt.Errorf("the benchmark suite has %d rules, want 10", n)
	}
	if _, err := svc.CreateSuite(ctx, "bench", "lakebench validate", rs); err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(cpuProfile)
	if err != nil {
		return err
	}
	start := time.Now()
	v, err := svc.ValidateObject(ctx, "bench", "file://"+src, d.ID, csvstream.Format{Header: true})
	elapsed := time.Since(start)
	if err := errors.Join(err, stopProfile()); err != nil {
		return fmt.Errorf("validate %s: %w", src, err)
	}
	if v.Outcome != suite.Pass {
		return fmt.Errorf("the generated data does not pass the suite (%s): %s", v.Outcome, v.RuleResults)
	}
	return json.NewEncoder(os.Stdout).Encode(validateResult{Rows: v.RowsEvaluated, Bytes: info.Size(), Seconds: elapsed.Seconds(), Outcome: v.Outcome})
}
