// Command surge is the capacity-planning load-test and chaos toolkit.
// This file only wires cobra; each command lives in its own file and calls
// one library function.
//
// default.pgo is a CPU profile of the national simulation, which go build
// uses to optimise the simulator's hot paths (profile-guided optimisation:
// about 10% off the national run). Remake it after changing the simulator:
//
//	go run ./cmd/surge sim scenarios/first-download.yaml --scale 1 --compression 1 --cpuprofile cmd/surge/default.pgo
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/surgekit/surge/reports"
)

// Exit codes, the same for every command. A crash (a panic anywhere, the
// runtime out of memory) is none of these: Go's runtime would exit with 2,
// which a CI job reads as NO-GO, so main sets the traceback level to
// "crash" and the runtime aborts instead (SIGABRT: status 134 in a shell,
// after the stack traces; a core file only where the core size limit
// allows one).
const (
	exitPass   = 0 // pass / GO
	exitError  = 1 // the command could not be done: bad input, unreachable target
	exitNoGo   = 2 // the gate failed (NO-GO)
	exitSignal = 130
)

func main() { os.Exit(surge()) }

// surge is the process: the command line run, its outcome an exit code.
func surge() int {
	debug.SetTraceback("crash")
	ctx, stop := interrupts(context.Background())
	defer stop()
	return execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// interrupts: the first Ctrl-C (or SIGTERM) cancels ctx, which stops a run's
// arrivals (or cuts its drain, once the arrivals are over); the second cuts
// the drain at once (see cutOf); a third is Go's default, and kills.
func interrupts(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	cut := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
			return
		}
		select {
		case <-sigs:
			close(cut)
			signal.Stop(sigs)
		case <-done:
		}
	}()
	return withCut(ctx, cut), func() { signal.Stop(sigs); close(done); cancel() }
}

type cutKey struct{}

// withCut carries the channel a second interrupt closes.
func withCut(ctx context.Context, cut <-chan struct{}) context.Context {
	return context.WithValue(ctx, cutKey{}, cut)
}

// cutOf is the channel a second interrupt closes (nil: none comes).
func cutOf(ctx context.Context) <-chan struct{} {
	c, _ := ctx.Value(cutKey{}).(<-chan struct{})
	return c
}

// execute runs the command line and maps its outcome to an exit code.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	pprof.StopCPUProfile() // --cpuprofile: flush it (a no-op without one)
	if err != nil {
		fmt.Fprintln(stderr, "surge:", err)
	}
	return exitCode(err)
}

// exitCode is the exit of a command's error: NO-GO (reports.ErrNoGo, the
// one sentinel every command's gate failure wraps) or could not run.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitPass
	case errors.Is(err, reports.ErrNoGo):
		return exitNoGo
	default:
		return exitError
	}
}

// writeJSON prints v as one JSON object, without HTML escaping (SLOs contain <=).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
