// Package client is the live engine's HTTP clients, the load's: HTTP/1.1
// (its own: a request written and its answer read on the user's goroutine
// over a bounded pool of keep-alive connections) and HTTP/2 (its own
// connections on x/net's Framer and hpack: streams written on the user's
// goroutine, one reader per connection, a bounded number of connections,
// the server's stream limit and windows respected). New picks one for a target (h2c:// is HTTP/2,
// https:// by ALPN or a pin, http:// HTTP/1.1); Exchange sends a request
// and reads its answer, charging a wait for a connection or a stream to
// the request. The engine (package replay) turns what it returns into the
// user's answer and its error kind.
//
// Trust: a target is whatever the scenario names; the client sends only
// the requests it is given and keeps at most MaxAnswer bytes of an answer
// and MaxHeaders of its head, whatever the server sends (over HTTP/2 too:
// the body past MaxAnswer is read and dropped, a header block past
// MaxHeaders fails its stream).
package client
