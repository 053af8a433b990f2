// Command grpctarget is the gRPC target of surge's benchmark harness
// (ci/bench/bench.sh, SECTIONS=grpc): the venue check-in service of
// scenarios/rpc/rpctest (grpc-go, h2c, with reflection) on a loopback
// address. It writes the service's .proto beside -proto for the tools that
// need it.
package main

import (
	"flag"
	"log"
	"net"
	"os"

	"github.com/surgekit/surge/scenarios/rpc/rpctest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address (loopback only)")
	proto := flag.String("proto", "", "write the service's .proto file here")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		log.Fatalf("grpctarget: %q is not a loopback address", *addr)
	}
	if *proto != "" {
		if err := os.WriteFile(*proto, []byte(rpctest.Proto), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := rpctest.StartOn(*addr, func(func()) {}, ""); err != nil {
		log.Fatal(err)
	}
	select {}
}
