package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/server"
	"github.com/lakeplane/lakeplane/internal/storage"
)

// rrnPattern is the registration-number pattern the benchmark greps for,
// in RE2 syntax for lakeplane; rrnPatternERE is the same for grep -E.
const (
	rrnPattern    = `\d{6}-\d{7}`
	rrnPatternERE = `[0-9]{6}-[0-9]{7}`
	// grepMaxMatches is the most matches a Grep request may ask for (the
	// service's own limit).
	grepMaxMatches = 1_000_000
)

// storageTiming is one measured pass over (part of) the file.
type storageTiming struct {
	name    string
	count   int64   // lines counted or lines matched
	aux     int64   // for a Grep, the line number of the last match
	bytes   int64   // bytes of the file the pass covered
	seconds float64 // best of the repeats
	skipped string  // why the pass did not run, if it did not
}

// mbps is the throughput of t in MB/s (10^6 bytes).
func (t storageTiming) mbps() float64 {
	if t.seconds <= 0 {
		return 0
	}
	return float64(t.bytes) / 1e6 / t.seconds
}

// storageBench runs `lakebench storage`: it generates (or takes) the
// customer CSV, serves StorageService over gRPC on loopback through
// internal/server (authentication auth.Local, the file's folder the only
// allowed root), and times CountLines and a registration-number Grep over
// file:// next to `wc -l` and `grep -c -E` on the same file.
func storageBench(args []string) error {
	fs := flag.NewFlagSet("storage", flag.ContinueOnError)
	rows := fs.Int("rows", 10_000_000, "rows to generate")
	csvPath := fs.String("csv", "", "a CSV to read instead of generating one")
	repeat := fs.Int("repeat", 3, "passes of each measure; the best counts")
	maxMatches := fs.Int64("max-matches", grepMaxMatches, "maxMatches of the Grep request (at most 1000000)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the lakeplane passes (client and server) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *repeat < 1 {
		return fmt.Errorf("--repeat %d: want at least 1", *repeat)
	}
	ctx := context.Background()
	src, cleanup, err := storageSource(*csvPath, *rows)
	if err != nil {
		return err
	}
	defer cleanup()
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("stat source: %w", err)
	}
	size := fi.Size()
	// Read the file once so that every pass finds it in the page cache.
	if err := warmFile(src); err != nil {
		return err
	}
	fmt.Printf("file: %s, %.1f MB\n", src, float64(size)/1e6)

	conn, stop, err := serveStorage(ctx, filepath.Dir(src))
	if err != nil {
		return err
	}
	defer stop()
	client := lakeplanev1.NewStorageServiceClient(conn)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	uri := "file://" + src

	var timings []storageTiming
	count, err := best(*repeat, func() (int64, int64, error) {
		resp, err := client.CountLines(ctx, &lakeplanev1.CountLinesRequest{Uri: uri})
		if err != nil {
			return 0, 0, fmt.Errorf("CountLines over gRPC: %w", err)
		}
		return resp.GetLines(), 0, nil
	})
	if err != nil {
		return err
	}
	count.bytes = size
	count.name = "CountLines (gRPC)"
	wc := execTiming(*repeat, "wc -l", size, "wc", "-l", src)
	timings = append(timings, count, wc)

	grep, err := best(*repeat, func() (int64, int64, error) {
		return grepOnce(ctx, client, uri, *maxMatches)
	})
	if err != nil {
		return err
	}
	if grep.count >= *maxMatches {
		// Stopped at maxMatches: the search covered the lines up to the
		// last match.
		if grep.bytes, err = prefixBytes(src, grep.aux); err != nil {
			return err
		}
	} else {
		grep.bytes = size
	}
	grep.name = "Grep (gRPC)"
	gnu := execTiming(*repeat, "grep -c -E", size, "grep", "-c", "-E", rrnPatternERE, src)
	timings = append(timings, grep, gnu)

	if wc.skipped == "" && wc.count != count.count {
		return fmt.Errorf("self-check: CountLines says %d lines, wc -l %d", count.count, wc.count)
	}
	if gnu.skipped == "" && grep.bytes == size && gnu.count != grep.count {
		return fmt.Errorf("self-check: Grep found %d lines, grep -c %d", grep.count, gnu.count)
	}
	printStorage(os.Stdout, timings, grep.bytes < size)
	return nil
}

// storageSource returns the absolute path of the CSV to read: csvPath, or
// a generated one of rows rows in a temporary directory that cleanup
// removes.
func storageSource(csvPath string, rows int) (string, func(), error) {
	if csvPath != "" {
		abs, err := filepath.Abs(csvPath)
		if err != nil {
			return "", nil, fmt.Errorf("--csv %s: %w", csvPath, err)
		}
		// The file store confines paths to its roots after resolving
		// symlinks; name the file as it resolves.
		if abs, err = filepath.EvalSymlinks(abs); err != nil {
			return "", nil, fmt.Errorf("--csv %s: %w", csvPath, err)
		}
		return abs, func() {}, nil
	}
	tmp, cleanup, err := workDir("", "lakebench-storage-")
	if err != nil {
		return "", nil, err
	}
	src, err := generateCSV(tmp, rows)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return src, cleanup, nil
}

// warmFile reads path through once.
func warmFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("warm the page cache: %w", err)
	}
	defer f.Close()
	if _, err := io.CopyBuffer(io.Discard, f, make([]byte, 1<<20)); err != nil {
		return fmt.Errorf("warm the page cache: read %s: %w", path, err)
	}
	return nil
}

// allowAll lets the caller read every dataset; the benchmark has none.
type allowAll struct{}

// CanReadAll implements storage.AccessChecker.
func (allowAll) CanReadAll(context.Context, string) (bool, string) { return true, "" }

// serveStorage serves a storage.Service over root (the only allowed file
// root) through internal/server on loopback, authentication auth.Local
// (an admin, so the landing zone is readable), and returns a client
// connection to it and a function that closes it and stops the server.
func serveStorage(ctx context.Context, root string) (*grpc.ClientConn, func(), error) {
	files, err := objects.NewFileStore([]string{root})
	if err != nil {
		return nil, nil, fmt.Errorf("file store over %s: %w", root, err)
	}
	router, err := objects.NewRouter(map[string]objects.Store{objects.SchemeFile: files})
	if err != nil {
		return nil, nil, err
	}
	svc, err := storage.New(storage.Config{
		Store:     router,
		Warehouse: "file://" + filepath.Join(root, "warehouse"),
		Tables:    func(context.Context) ([]storage.TableLocation, error) { return nil, nil },
		Access:    allowAll{},
	})
	if err != nil {
		return nil, nil, err
	}
	addr, stopServer, err := serveInProcess(ctx, server.Services{Storage: storage.NewHandler(svc)})
	if err != nil {
		return nil, nil, err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		stopServer()
		return nil, nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return conn, func() { conn.Close(); stopServer() }, nil
}

// grepOnce greps uri for rrnPattern over gRPC, draining the stream, and
// returns the lines matched and the line number of the last match.
func grepOnce(ctx context.Context, client lakeplanev1.StorageServiceClient, uri string, maxMatches int64) (int64, int64, error) {
	stream, err := client.Grep(ctx, &lakeplanev1.GrepRequest{Uri: uri, Pattern: rrnPattern, MaxMatches: maxMatches})
	if err != nil {
		return 0, 0, fmt.Errorf("Grep over gRPC: %w", err)
	}
	var found, last int64
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			return found, last, nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("Grep over gRPC: after %d matches: %w", found, err)
		}
		for _, m := range resp.GetMatches() {
			found++
			last = m.GetLine()
		}
	}
}

// prefixBytes returns the size of the first lines lines of path.
func prefixBytes(path string, lines int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("measure the searched prefix: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var n int64
	for lines > 0 {
		b, err := r.ReadSlice('\n')
		n += int64(len(b))
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("measure the searched prefix: %w", err)
		}
		lines--
	}
	return n, nil
}

// best runs fn repeat times and returns the fastest pass; fn returns the
// count and an auxiliary number kept in the timing's aux.
func best(repeat int, fn func() (int64, int64, error)) (storageTiming, error) {
	var t storageTiming
	for i := range repeat {
		start := time.Now()
		count, aux, err := fn()
		elapsed := time.Since(start).Seconds()
		if err != nil {
			return t, err
		}
		if i == 0 || elapsed < t.seconds {
			t.count, t.aux, t.seconds = count, aux, elapsed
		}
	}
	return t, nil
}

// execTiming runs name with args repeat times, each printing a count, and
// returns the fastest; a missing command makes a skipped timing.
func execTiming(repeat int, label string, size int64, name string, args ...string) storageTiming {
	t := storageTiming{name: label, bytes: size}
	if _, err := exec.LookPath(name); err != nil {
		t.skipped = name + " not found"
		return t
	}
	for i := range repeat {
		start := time.Now()
		out, err := exec.Command(name, args...).Output()
		elapsed := time.Since(start).Seconds()
		var ee *exec.ExitError
		// grep exits 1 when nothing matched; its count (0) is still printed.
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1 && name == "grep") {
			t.skipped = fmt.Sprintf("%s failed: %v", label, err)
			return t
		}
		f := strings.Fields(string(bytes.TrimSpace(out)))
		if len(f) == 0 {
			t.skipped = fmt.Sprintf("%s printed nothing", label)
			return t
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			t.skipped = fmt.Sprintf("%s printed %q", label, out)
			return t
		}
		if i == 0 || elapsed < t.seconds {
			t.count, t.seconds = n, elapsed
		}
	}
	return t
}

// printStorage prints the timings in pairs (lakeplane's, then the tool's)
// with lakeplane's share of the tool's throughput and the target.
func printStorage(w io.Writer, timings []storageTiming, grepCapped bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tcount\tMB\tseconds\tMB/s\tvs tool\ttarget\t")
	for i := 0; i+1 < len(timings); i += 2 {
		ours, tool := timings[i], timings[i+1]
		ratio := "-"
		if tool.skipped == "" && tool.mbps() > 0 {
			ratio = fmt.Sprintf("%.0f%%", 100*ours.mbps()/tool.mbps())
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.3f\t%.0f\t%s\t>= 50%%\t\n", ours.name, ours.count, float64(ours.bytes)/1e6, ours.seconds, ours.mbps(), ratio)
		if tool.skipped != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t\t\t\n", tool.name)
		} else {
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.3f\t%.0f\t\t\t\n", tool.name, tool.count, float64(tool.bytes)/1e6, tool.seconds, tool.mbps())
		}
	}
	tw.Flush()
	for _, t := range timings {
		if t.skipped != "" {
			fmt.Fprintf(w, "skipped %s: %s\n", t.name, t.skipped)
		}
	}
	if grepCapped {
		fmt.Fprintf(w, "Grep stopped at maxMatches; its MB and MB/s are of the lines up to its last match.\n")
	}
	fmt.Fprintf(w, "GOMAXPROCS=%d, %s\n", runtime.GOMAXPROCS(0), runtime.Version())
}
