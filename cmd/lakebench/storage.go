package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
// in RE2 syntax for lakeplane; rrnPatternERE is the same for grep -E, which
// has no \d (RE2's \d is ASCII [0-9] too, so both match the same lines).
const (
	rrnPattern    = `\d{6}-\d{7}`
	rrnPatternERE = `[0-9]{6}-[0-9]{7}`
	// grepMaxMatches is the most matches a Grep request may ask for (the
	// service's own limit).
	grepMaxMatches = 1_000_000
)

// toolLocale is the locale the tools run in: the C locale, in which grep
// reads bytes, with no multibyte decoding to slow it. (Their output goes
// to a pipe: GNU grep writing to /dev/null stops at its first match.)
const toolLocale = "LC_ALL=C"

// Targets of the measures.
const (
	targetHalf = ">= 50%"
	targetInfo = "info"
)

// storageTiming is one measured pass over (part of) the file.
type storageTiming struct {
	name    string
	count   int64   // lines counted or lines matched
	aux     int64   // for a streaming Grep, the line number of the last match
	bytes   int64   // bytes of the file the pass covered
	seconds float64 // best of the repeats
	target  string  // what lakeplane's share of the tool's MB/s should be
	skipped string  // why the pass did not run, if it did not
}

// mbps is the throughput of t in MB/s (10^6 bytes).
func (t storageTiming) mbps() float64 {
	if t.seconds <= 0 {
		return 0
	}
	return float64(t.bytes) / 1e6 / t.seconds
}

// pass runs a measure once and returns its count and an auxiliary number
// kept in the timing's aux.
type pass func() (count, aux int64, err error)

// storageBench runs `lakebench storage`: it generates (or takes) the
// customer CSV, serves StorageService over gRPC on loopback through
// internal/server (authentication auth.Local, the file's folder the only
// allowed root), and times, over file://, each next to its command-line
// counterpart on the same file, passes of the two alternating: CountLines
// and `wc -l`; a count-only registration-number Grep and `grep -c -E`;
// and, for information, a Grep streaming its matches and `grep -n -E -m`
// read through a pipe.
func storageBench(args []string) (err error) {
	fs := flag.NewFlagSet("storage", flag.ContinueOnError)
	rows := fs.Int("rows", 10_000_000, "rows to generate")
	csvPath := fs.String("csv", "", "a CSV to read instead of generating one")
	dir := fs.String("dir", "", "work directory, kept: the CSV is generated there as customers.csv unless it exists (default: a temporary one, removed afterwards)")
	repeat := fs.Int("repeat", 3, "passes of each measure; the best counts")
	maxMatches := fs.Int64("max-matches", grepMaxMatches, "maxMatches of the streaming Grep request (at most 1000000)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the lakeplane passes (client and server) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *repeat < 1 {
		return fmt.Errorf("--repeat %d: want at least 1", *repeat)
	}
	ctx := context.Background()
	src, cleanup, err := storageSource(*csvPath, *dir, *rows)
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
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stopProfile()) }()
	uri := "file://" + src

	count, wc, err := alternate(*repeat, countLinesPass(ctx, client, uri), toolPass("wc", "-l", src))
	if err != nil {
		return err
	}
	count.name, wc.name = "CountLines (gRPC)", "wc -l"
	if err := sameCounts(count, wc); err != nil {
		return err
	}

	grepArgs := []string{"-c", "-E", rrnPatternERE, src}
	counted, gnu, err := alternate(*repeat, grepCountPass(ctx, client, uri), toolPass("grep", grepArgs...))
	if err != nil {
		return err
	}
	counted.name, gnu.name = "Grep count_only (gRPC)", "grep -c -E"
	if err := sameCounts(counted, gnu); err != nil {
		return err
	}

	streamArgs := []string{"-n", "-E", "-m", strconv.FormatInt(*maxMatches, 10), rrnPatternERE, src}
	streamed, gnuStreamed, err := alternate(*repeat, grepStreamPass(ctx, client, uri, *maxMatches), toolLinesPass("grep", streamArgs...))
	if err != nil {
		return err
	}
	streamed.name, gnuStreamed.name = "Grep matches sent (gRPC)", "grep -n -E -m N | pipe"
	if err := sameCounts(streamed, gnuStreamed); err != nil {
		return err
	}
	// Both stop at the same match (or the end): each covered the lines up
	// to the last match.
	covered := size
	if streamed.count >= *maxMatches {
		if covered, err = prefixBytes(src, streamed.aux); err != nil {
			return err
		}
	}

	for _, t := range []*storageTiming{&count, &wc, &counted, &gnu} {
		t.bytes, t.target = size, targetHalf
	}
	for _, t := range []*storageTiming{&streamed, &gnuStreamed} {
		t.bytes, t.target = covered, targetInfo
	}
	printStorage(os.Stdout, []storageTiming{count, wc, counted, gnu, streamed, gnuStreamed}, *maxMatches)
	return nil
}

// sameCounts fails unless lakeplane's pass and the tool's (when it ran)
// counted the same.
func sameCounts(ours, tool storageTiming) error {
	if tool.skipped == "" && ours.count != tool.count {
		return fmt.Errorf("self-check: %s counts %d, %s %d", ours.name, ours.count, tool.name, tool.count)
	}
	return nil
}

// storageSource returns the absolute path of the CSV to read: csvPath, or
// customers.csv in dir when it exists there, or one of rows rows generated
// into dir (a temporary directory that cleanup removes when dir is "").
func storageSource(csvPath, dir string, rows int) (string, func(), error) {
	if csvPath == "" && dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, fmt.Errorf("--dir %s: %w", dir, err)
		}
		kept := filepath.Join(dir, "customers.csv")
		if _, err := os.Stat(kept); err == nil {
			fmt.Printf("reusing %s\n", kept)
			csvPath = kept
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("--dir %s: %w", dir, err)
		}
	}
	if csvPath == "" {
		tmp, cleanup, err := workDir(dir, "lakebench-storage-")
		if err != nil {
			return "", nil, err
		}
		if csvPath, err = generateCSV(tmp, rows); err != nil {
			cleanup()
			return "", nil, err
		}
		abs, err := resolvedPath(csvPath)
		if err != nil {
			cleanup()
			return "", nil, err
		}
		return abs, cleanup, nil
	}
	abs, err := resolvedPath(csvPath)
	return abs, func() {}, err
}

// resolvedPath is path made absolute, its symlinks resolved: the file
// store confines paths to its roots after resolving symlinks.
func resolvedPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", fmt.Errorf("CSV %s: %w", path, err)
	}
	return abs, nil
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

// countLinesPass counts the lines of uri over gRPC.
func countLinesPass(ctx context.Context, client lakeplanev1.StorageServiceClient, uri string) pass {
	return func() (int64, int64, error) {
		resp, err := client.CountLines(ctx, &lakeplanev1.CountLinesRequest{Uri: uri})
		if err != nil {
			return 0, 0, fmt.Errorf("CountLines over gRPC: %w", err)
		}
		return resp.GetLines(), 0, nil
	}
}

// grepCountPass counts the lines of uri matching rrnPattern with a
// count-only Grep over gRPC, checking that the one object is counted once.
func grepCountPass(ctx context.Context, client lakeplanev1.StorageServiceClient, uri string) pass {
	return func() (int64, int64, error) {
		stream, err := client.Grep(ctx, &lakeplanev1.GrepRequest{Uri: uri, Pattern: rrnPattern, CountOnly: true})
		if err != nil {
			return 0, 0, fmt.Errorf("count-only Grep over gRPC: %w", err)
		}
		var counts []*lakeplanev1.GrepCount
		for {
			resp, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				return 0, 0, fmt.Errorf("count-only Grep over gRPC: %w", err)
			}
			counts = append(counts, resp.GetCounts()...)
		}
		if len(counts) != 1 || counts[0].GetUri() != uri {
			return 0, 0, fmt.Errorf("count-only Grep of %s sent %v, want one count for it", uri, counts)
		}
		return counts[0].GetMatchingLines(), 0, nil
	}
}

// grepStreamPass greps uri for rrnPattern over gRPC, draining the stream
// of matches, and returns the lines matched and the line number of the
// last match.
func grepStreamPass(ctx context.Context, client lakeplanev1.StorageServiceClient, uri string, maxMatches int64) pass {
	return func() (int64, int64, error) {
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
}

// toolPass runs name with args (in toolLocale), which prints a count
// first; nil when name is not installed.
func toolPass(name string, args ...string) pass {
	if _, err := exec.LookPath(name); err != nil {
		return nil
	}
	return func() (int64, int64, error) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), toolLocale)
		out, err := cmd.Output()
		if err := toolError(name, err); err != nil {
			return 0, 0, err
		}
		f := strings.Fields(string(bytes.TrimSpace(out)))
		if len(f) == 0 {
			return 0, 0, fmt.Errorf("%s printed nothing", name)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s printed %q", name, out)
		}
		return n, 0, nil
	}
}

// toolLinesPass runs name with args (in toolLocale) and counts the lines
// it writes to a pipe; nil when name is not installed.
func toolLinesPass(name string, args ...string) pass {
	if _, err := exec.LookPath(name); err != nil {
		return nil
	}
	return func() (int64, int64, error) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), toolLocale)
		out, err := cmd.StdoutPipe()
		if err != nil {
			return 0, 0, err
		}
		if err := cmd.Start(); err != nil {
			return 0, 0, fmt.Errorf("run %s: %w", name, err)
		}
		lines, readErr := countNewlines(out)
		if err := toolError(name, cmd.Wait()); err != nil {
			return 0, 0, err
		}
		return lines, 0, readErr
	}
}

// countNewlines counts the "\n" bytes r yields.
func countNewlines(r io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// toolError is the error of a tool's run, none when grep only found
// nothing (exit status 1, its count printed all the same).
func toolError(name string, err error) error {
	var ee *exec.ExitError
	if err == nil || name == "grep" && errors.As(err, &ee) && ee.ExitCode() == 1 {
		return nil
	}
	return fmt.Errorf("run %s: %w", name, err)
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

// alternate runs ours and tool repeat times each, one after the other, so
// that both see the same machine, and returns the fastest pass of each; a
// nil tool (not installed) makes a skipped timing.
func alternate(repeat int, ours, tool pass) (storageTiming, storageTiming, error) {
	var o, t storageTiming
	if tool == nil {
		t.skipped = "not installed"
	}
	for i := range repeat {
		if err := timePass(&o, i, ours); err != nil {
			return o, t, err
		}
		if tool != nil {
			if err := timePass(&t, i, tool); err != nil {
				return o, t, err
			}
		}
	}
	return o, t, nil
}

// timePass runs p, the i-th pass of a measure, and keeps it in t when it
// is the fastest so far.
func timePass(t *storageTiming, i int, p pass) error {
	start := time.Now()
	count, aux, err := p()
	elapsed := time.Since(start).Seconds()
	if err != nil {
		return err
	}
	if i == 0 || elapsed < t.seconds {
		t.count, t.aux, t.seconds = count, aux, elapsed
	}
	return nil
}

// printStorage prints the timings in pairs (lakeplane's, then the tool's)
// with lakeplane's share of the tool's throughput and the target.
func printStorage(w io.Writer, timings []storageTiming, maxMatches int64) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tcount\tMB\tseconds\tMB/s\tvs tool\ttarget\t")
	for i := 0; i+1 < len(timings); i += 2 {
		ours, tool := timings[i], timings[i+1]
		ratio := "-"
		if tool.skipped == "" && tool.mbps() > 0 {
			ratio = fmt.Sprintf("%.0f%%", 100*ours.mbps()/tool.mbps())
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.3f\t%.0f\t%s\t%s\t\n", ours.name, ours.count, float64(ours.bytes)/1e6, ours.seconds, ours.mbps(), ratio, ours.target)
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
	fmt.Fprintf(w, "patterns: lakeplane %s, tools %s (%s); the streaming pair stops at %d matches, its MB is of the lines up to the last.\n",
		rrnPattern, rrnPatternERE, toolLocale, maxMatches)
	fmt.Fprintf(w, "GOMAXPROCS=%d, %s\n", runtime.GOMAXPROCS(0), runtime.Version())
}
