// Command benchtarget is the tiny HTTP target of surge's benchmark harness
// (ci/bench/bench.sh). It binds only to loopback, and speaks HTTP/1.1 and
// HTTP/2 with prior knowledge (h2c) on its one port.
//
//	/hello   200 with a 13-byte body
//	/stall   200 at once, except while a global stall is on: from -stall-first
//	         after start, every -stall-every for -stall-for, every /stall
//	         request waits for the stall to end (the coordinated-omission test)
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "listen address (loopback only)")
	every := flag.Duration("stall-every", 5*time.Second, "period of the /stall stall")
	length := flag.Duration("stall-for", 500*time.Millisecond, "length of each stall")
	first := flag.Duration("stall-first", 2500*time.Millisecond, "start of the first stall after startup")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		log.Fatalf("benchtarget: %q is not a loopback address", *addr)
	}
	var stall sync.Mutex
	go func() {
		time.Sleep(*first)
		for {
			stall.Lock()
			time.Sleep(*length)
			stall.Unlock()
			time.Sleep(*every - *length)
		}
	}()
	hello := []byte("Hello, World!")
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { w.Write(hello) })
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		stall.Lock()
		stall.Unlock() //nolint:staticcheck // waiting for the stall is the point
		w.Write(hello)
	})
	srv := &http.Server{Addr: *addr, Handler: mux, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge, on the same port
	log.Fatal(srv.ListenAndServe())
}
