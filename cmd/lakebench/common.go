package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/lakeplane/lakeplane/internal/audit/trail"
	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/benchdata"
	"github.com/lakeplane/lakeplane/internal/server"
	"github.com/lakeplane/lakeplane/internal/telemetry"
)

// workDir returns dir, or a new temporary directory (with its symlinks
// resolved, as the file store sees it) removed by cleanup.
func workDir(dir, prefix string) (work string, cleanup func(), err error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, fmt.Errorf("work directory: %w", err)
	}
	cleanup = func() { os.RemoveAll(tmp) }
	if tmp, err = filepath.EvalSymlinks(tmp); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("work directory: %w", err)
	}
	return tmp, cleanup, nil
}

// generateCSV writes benchdata's customer CSV of rows rows into dir and
// returns its path.
func generateCSV(dir string, rows int) (string, error) {
	src := filepath.Join(dir, "customers.csv")
	start := time.Now()
	f, err := os.Create(src)
	if err != nil {
		return "", fmt.Errorf("generate: %w", err)
	}
	n, err := benchdata.WriteCSV(f, rows)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("generate %s: %w", src, err)
	}
	fmt.Printf("generated %d rows, %.1f MB in %v\n", rows, float64(n)/1e6, time.Since(start).Round(time.Millisecond))
	return src, nil
}

// runChild runs this program again with args and GOMAXPROCS=procs, decodes
// the JSON it prints into out, and returns its peak RSS in MiB: each
// measured run is a process of its own, so that its peak is its own.
func runChild(procs int, out any, args ...string) (peakMiB float64, err error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(procs))
	cmd.Stderr = os.Stderr
	printed, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("run with GOMAXPROCS=%d: %w", procs, err)
	}
	if err := json.Unmarshal(printed, out); err != nil {
		return 0, fmt.Errorf("run with GOMAXPROCS=%d printed %q: %w", procs, printed, err)
	}
	return float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024, nil // Maxrss is KiB on Linux
}

// serveInProcess serves services through internal/server (the real
// interceptor chain, authentication off) on loopback ports, and returns the
// gRPC address and how to stop it.
func serveInProcess(ctx context.Context, services server.Services) (addr string, stop func(), err error) {
	tel, err := telemetry.Setup(ctx, "lakebench", func(string) string { return "" })
	if err != nil {
		return "", nil, fmt.Errorf("telemetry: %w", err)
	}
	srv, err := server.New(ctx, server.Options{
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Authenticator: auth.Local{}, Telemetry: tel,
		QuietCall: trail.ReadOnly,
	}, services)
	if err != nil {
		tel.Shutdown(context.Background())
		return "", nil, fmt.Errorf("server: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx) }()
	return srv.GRPCAddr(), func() {
		cancel()
		<-served
		tel.Shutdown(context.Background())
	}, nil
}

// startCPUProfile starts a CPU profile into path (nothing when path is
// empty) and returns what stops it and closes the file.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile %s: %w", path, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cpu profile %s: %w", path, err)
		}
		return nil
	}, nil
}
